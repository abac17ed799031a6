#include "plot.h"

#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <vector>

#include <doctest/doctest.h>

namespace mlc {
namespace {

namespace fs = std::filesystem;
using plot_internal::FormatTick;
using plot_internal::LinearAxis;
using plot_internal::LogAxis;
using plot_internal::SeriesColor;

// ---- Helpers ----------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mlc-plot-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // The names of the entries in the directory.
  std::vector<std::string> List() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) {
      names.push_back(entry.path().filename());
    }
    return names;
  }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint32_t Be32(const std::string& data, size_t pos) {
  REQUIRE(pos + 4 <= data.size());
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data[pos + i]);
  return v;
}

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  uint32_t At(int x, int y) const {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
    return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  }
  // Pixels of `color` in the rectangle [x0, x1] x [y0, y1], clipped to the image.
  int Count(uint32_t color, int x0, int y0, int x1, int y1) const {
    int n = 0;
    for (int y = std::max(y0, 0); y <= std::min(y1, height - 1); ++y) {
      for (int x = std::max(x0, 0); x <= std::min(x1, width - 1); ++x) n += At(x, y) == color;
    }
    return n;
  }
  int Count(uint32_t color) const { return Count(color, 0, 0, width - 1, height - 1); }
};

// Decodes a PNG as WritePlot writes it (8-bit RGB, not interlaced), checking its structure.
Image DecodePng(const std::string& data) {
  REQUIRE(data.size() > 8);
  REQUIRE(data.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  Image image;
  std::string idat;
  std::vector<std::string> types;
  for (size_t pos = 8; pos < data.size();) {
    uint32_t length = Be32(data, pos);
    REQUIRE(pos + 12 + length <= data.size());
    std::string type = data.substr(pos + 4, 4);
    const auto* bytes = reinterpret_cast<const Bytef*>(data.data() + pos + 4);
    CHECK_MESSAGE(Be32(data, pos + 8 + length) == crc32(0, bytes, length + 4), "CRC of " << type);
    std::string body = data.substr(pos + 8, length);
    if (type == "IHDR") {
      REQUIRE(length == 13);
      image.width = static_cast<int>(Be32(body, 0));
      image.height = static_cast<int>(Be32(body, 4));
      CHECK(body[8] == 8);   // Bit depth.
      CHECK(body[9] == 2);   // Colour type: RGB.
      CHECK(body[10] == 0);  // Compression.
      CHECK(body[11] == 0);  // Filter method.
      CHECK(body[12] == 0);  // Not interlaced.
    } else if (type == "IDAT") {
      idat += body;
    }
    types.push_back(type);
    pos += 12 + length;
  }
  REQUIRE(types.size() >= 3);
  CHECK(types.front() == "IHDR");
  CHECK(types.back() == "IEND");
  size_t stride = static_cast<size_t>(image.width) * 3;
  std::vector<uint8_t> raw((stride + 1) * image.height);
  uLongf raw_size = raw.size();
  REQUIRE(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()),
                     idat.size()) == Z_OK);
  REQUIRE(raw_size == raw.size());
  image.rgb.resize(stride * image.height);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* in = &raw[y * (stride + 1)];
    uint8_t* out = &image.rgb[y * stride];
    const uint8_t* up = y > 0 ? out - stride : nullptr;
    REQUIRE(in[0] <= 4);
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= 3 ? out[i - 3] : 0, b = up != nullptr ? up[i] : 0;
      int c = i >= 3 && up != nullptr ? up[i - 3] : 0;
      int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
      int paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      int predicted = std::array<int, 5>{0, a, b, (a + b) / 2, paeth}[in[0]];
      out[i] = static_cast<uint8_t>(in[1 + i] + predicted);
    }
  }
  return image;
}

// The plot frame, found as the outermost long runs of the axis colour, and where the axes' first
// and last ticks are (the tick marks outside the frame), which is where the axis bounds are when
// they are nice numbers.
struct Frame {
  int left = -1, top = -1, right = -1, bottom = -1;
  int x_first = -1, x_last = -1, y_first = -1, y_last = -1;  // y_first: the lowest (bottom) tick.
  // Pixels at a fraction `t` from the first to the last tick.
  double X(double t) const { return x_first + t * (x_last - x_first); }
  double Y(double t) const { return y_first - t * (y_first - y_last); }
};

Frame FindFrame(const Image& image) {
  Frame f;
  uint32_t axis = plot_internal::kAxisColor;
  for (int x = 0; x < image.width; ++x) {
    if (image.Count(axis, x, 0, x, image.height - 1) > image.height / 3) {
      if (f.left < 0) f.left = x;
      f.right = x;
    }
  }
  for (int y = 0; y < image.height; ++y) {
    if (image.Count(axis, 0, y, image.width - 1, y) > image.width / 3) {
      if (f.top < 0) f.top = y;
      f.bottom = y;
    }
  }
  REQUIRE(f.left >= 3);
  REQUIRE(f.top >= 0);
  REQUIRE(f.right - f.left > 100);
  REQUIRE(f.bottom - f.top > 100);
  REQUIRE(f.bottom + 3 < image.height);
  for (int x = f.left; x <= f.right; ++x) {
    if (image.At(x, f.bottom + 3) != axis) continue;
    if (f.x_first < 0) f.x_first = x;
    f.x_last = x;
  }
  for (int y = f.top; y <= f.bottom; ++y) {
    if (image.At(f.left - 3, y) != axis) continue;
    if (f.y_last < 0) f.y_last = y;
    f.y_first = y;
  }
  REQUIRE(f.x_last - f.x_first > 100);
  REQUIRE(f.y_first - f.y_last > 100);
  // The bounds sit a little inside the frame, so lines along them stay visible.
  CHECK(f.x_first > f.left);
  CHECK(f.x_last < f.right);
  CHECK(f.y_first < f.bottom);
  CHECK(f.y_last > f.top);
  return f;
}

// Whether `color` occurs within `radius` px of (x, y).
bool Near(const Image& image, uint32_t color, double x, double y, int radius = 3) {
  int cx = static_cast<int>(std::lround(x)), cy = static_cast<int>(std::lround(y));
  return image.Count(color, cx - radius, cy - radius, cx + radius, cy + radius) > 0;
}

PlotSeries Line(std::string name, int n, double (*f)(double)) {
  PlotSeries s{std::move(name), {}, {}};
  for (int i = 0; i <= n; ++i) {
    s.x.push_back(i);
    s.y.push_back(f(i));
  }
  return s;
}

Image Render(const TempDir& dir, const std::vector<PlotSeries>& series,
             const PlotOptions& options = {}) {
  std::string path = dir / "chart.png";
  mlcore::Status status = WritePlot(path, series, options);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return DecodePng(ReadFile(path));
}

int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// ---- Ticks ------------------------------------------------------------------------------------

TEST_CASE("plot: nice linear ticks") {
  auto axis = LinearAxis(0, 1, 8, true);
  CHECK(axis.lo == 0);
  CHECK(axis.hi == doctest::Approx(1));
  CHECK(axis.step == doctest::Approx(0.2));
  REQUIRE(axis.ticks.size() == 6);
  for (size_t i = 0; i < axis.ticks.size(); ++i) {
    CHECK(axis.ticks[i] == doctest::Approx(0.2 * static_cast<double>(i)));
  }
  CHECK(FormatTick(axis.ticks[3], axis.step) == "0.6");

  axis = LinearAxis(0, 100000, 8, true);
  CHECK(axis.step == doctest::Approx(20000));
  std::vector<std::string> labels;
  for (double t : axis.ticks) labels.push_back(FormatTick(t, axis.step));
  CHECK(labels == std::vector<std::string>{"0", "20k", "40k", "60k", "80k", "100k"});

  axis = LinearAxis(-3.2, 7.9, 8, true);
  CHECK(axis.step == doctest::Approx(2));
  CHECK(axis.lo == doctest::Approx(-4));
  CHECK(axis.hi == doctest::Approx(8));
  labels.clear();
  for (double t : axis.ticks) labels.push_back(FormatTick(t, axis.step));
  CHECK(labels == std::vector<std::string>{"-4", "-2", "0", "2", "4", "6", "8"});

  // Without extending, the bounds stay and the ticks fall inside.
  axis = LinearAxis(-3.2, 7.9, 8, false);
  CHECK(axis.lo == -3.2);
  CHECK(axis.hi == 7.9);
  REQUIRE(!axis.ticks.empty());
  CHECK(axis.ticks.front() == doctest::Approx(-2));
  CHECK(axis.ticks.back() == doctest::Approx(6));

  // A narrow range still gets two ticks.
  axis = LinearAxis(0, 49, 2, false);
  CHECK(axis.ticks.size() >= 2);
  axis = LinearAxis(0.11, 0.19, 2, false);
  CHECK(axis.ticks.size() >= 2);

  // Data just past a tick do not cost a whole step of empty space.
  axis = LinearAxis(-1e6, 1.000999e6, 10, true);
  CHECK(axis.step == doctest::Approx(5e5));
  CHECK(axis.lo == doctest::Approx(-1e6));
  CHECK(axis.hi == 1.000999e6);
  CHECK(axis.ticks.back() == doctest::Approx(1e6));

  // Steps are 1, 2 or 5 times a power of ten, for any range.
  for (double hi : {0.003, 0.7, 13.0, 4242.0, 1e9, 3.3e17}) {
    axis = LinearAxis(0, hi, 6, true);
    double mantissa = axis.step / std::pow(10.0, std::floor(std::log10(axis.step) + 1e-9));
    CHECK_MESSAGE((mantissa == doctest::Approx(1) || mantissa == doctest::Approx(2) ||
                   mantissa == doctest::Approx(5)),
                  "step " << axis.step << " for 0-" << hi);
    CHECK(axis.ticks.size() <= 8);  // At most max_ticks + 2, to trim empty space.
    CHECK(axis.ticks.size() >= 3);
    CHECK(axis.hi >= hi);
  }

  // A constant range is padded around the value.
  axis = LinearAxis(5, 5, 8, true);
  CHECK(axis.lo < 5);
  CHECK(axis.hi > 5);
  CHECK(axis.ticks.size() >= 2);
  axis = LinearAxis(0, 0, 8, true);
  CHECK(axis.lo < 0);
  CHECK(axis.hi > 0);
}

TEST_CASE("plot: logarithmic ticks") {
  auto axis = LogAxis(1e-6, 1e-3, 8);
  CHECK(axis.lo == doctest::Approx(1e-6));
  CHECK(axis.hi == doctest::Approx(1e-3));
  REQUIRE(axis.ticks.size() == 4);
  std::vector<std::string> labels;
  for (size_t i = 0; i < axis.ticks.size(); ++i) {
    CHECK(axis.ticks[i] == doctest::Approx(std::pow(10.0, -6 + static_cast<int>(i))));
    labels.push_back(FormatTick(axis.ticks[i], axis.ticks[i]));
  }
  CHECK(labels == std::vector<std::string>{"1e-06", "1e-05", "0.0001", "0.001"});

  // Bounds extend to the enclosing powers of ten.
  axis = LogAxis(3e-5, 0.02, 8);
  CHECK(axis.lo == doctest::Approx(1e-5));
  CHECK(axis.hi == doctest::Approx(0.1));

  // Many decades: every n-th power, no more ticks than asked for.
  axis = LogAxis(1e-12, 1e12, 6);
  CHECK(axis.ticks.size() <= 6);
  CHECK(axis.lo <= 1e-12);
  CHECK(axis.hi >= 1e12);

  // A narrow range also gets 2x and 5x ticks; a constant one a decade either side.
  axis = LogAxis(0.2, 0.8, 8);
  CHECK(axis.ticks == std::vector<double>{0.1, 0.2, 0.5, 1});
  axis = LogAxis(1, 1, 8);
  CHECK(axis.lo == doctest::Approx(0.1));
  CHECK(axis.hi == doctest::Approx(10));
}

TEST_CASE("plot: compact tick labels") {
  CHECK(FormatTick(0, 1) == "0");
  CHECK(FormatTick(1e-17, 0.1) == "0");
  CHECK(FormatTick(2500, 500) == "2.5k");
  CHECK(FormatTick(1000, 500) == "1k");
  CHECK(FormatTick(1e6, 1e6) == "1M");
  CHECK(FormatTick(1.5e9, 5e8) == "1.5G");
  CHECK(FormatTick(0.001, 0.001) == "0.001");
  CHECK(FormatTick(1e-5, 1e-5) == "1e-05");
  CHECK(FormatTick(0.30000000000000004, 0.1) == "0.3");
  CHECK(FormatTick(-3.5, 0.5) == "-3.5");
  CHECK(FormatTick(100, 100) == "100");
  CHECK(FormatTick(1000002, 2) == "1000002");  // Shorter than 1.000002M.
  CHECK(FormatTick(12345, 5) == "12345");
  CHECK(FormatTick(1.5e6, 5e5) == "1.5M");
  CHECK(FormatTick(2e15, 1e15) == "2e+15");
}

// ---- PNG --------------------------------------------------------------------------------------

TEST_CASE("plot: PNG of a diagonal decodes, with the line where it belongs") {
  TempDir dir;
  PlotOptions options;
  options.title = "loss — run bold-heron-42";
  options.y_label = "loss";
  Image image = Render(dir, {Line("y=x", 100, [](double x) { return x; })}, options);
  CHECK(image.width == 1000);
  CHECK(image.height == 600);
  CHECK(image.Count(plot_internal::kBackgroundColor) > image.width * image.height * 3 / 4);
  CHECK(image.Count(plot_internal::kTextColor) > 200);  // Title and labels.
  CHECK(image.Count(plot_internal::kGridColor) > 1000);

  // The data span 0-100 on both axes, which are nice bounds: the line runs corner to corner.
  Frame f = FindFrame(image);
  uint32_t color = SeriesColor(0);
  CHECK(image.Count(color, f.left, f.top, f.right, f.bottom) > 500);
  for (double t : {0.05, 0.2, 0.5, 0.8, 0.95}) {
    CHECK_MESSAGE(Near(image, color, f.X(t), f.Y(t)), "no line at t=" << t);
    CHECK_MESSAGE(!Near(image, color, f.X(t), f.Y(t) - 30, 5), "stray pixels above t=" << t);
    CHECK_MESSAGE(!Near(image, color, f.X(t), f.Y(t) + 30, 5), "stray pixels below t=" << t);
  }
  // The line is continuous: every column between its ends has some of it.
  for (int x = f.x_first; x <= f.x_last; ++x) {
    REQUIRE_MESSAGE(image.Count(color, x, f.top, x, f.bottom) > 0, "gap at column " << x);
  }
  // One series: no legend, so the colour appears nowhere right of the frame.
  CHECK(image.Count(color, f.right + 1, 0, image.width - 1, image.height - 1) == 0);
}

TEST_CASE("plot: NaN and infinite points leave a gap") {
  TempDir dir;
  PlotSeries s = Line("gappy", 100, [](double x) { return x; });
  for (int i = 40; i <= 60; ++i) s.y[i] = i % 2 == 0 ? NAN : INFINITY;
  s.x[50] = NAN;
  Image image = Render(dir, {s});
  Frame f = FindFrame(image);
  uint32_t color = SeriesColor(0);
  int from = static_cast<int>(f.X(0.39)) + 3, to = static_cast<int>(f.X(0.61)) - 3;
  CHECK(image.Count(color, from, f.top, to, f.bottom) == 0);
  CHECK(Near(image, color, f.X(0.3), f.Y(0.3)));
  CHECK(Near(image, color, f.X(0.7), f.Y(0.7)));
}

TEST_CASE("plot: two series get two colours and a legend") {
  TempDir dir;
  Image image = Render(dir, {Line("up", 100, [](double x) { return x; }),
                             Line("down", 100, [](double x) { return 100 - x; })});
  Frame f = FindFrame(image);
  for (size_t i = 0; i < 2; ++i) {
    uint32_t color = SeriesColor(i);
    CHECK(image.Count(color, f.left, f.top, f.right, f.bottom) > 500);
    // The legend, right of the frame, shows each series' colour.
    CHECK(image.Count(color, f.right + 1, f.top, image.width - 1, f.bottom) > 20);
  }
  CHECK(SeriesColor(0) != SeriesColor(1));
  CHECK(Near(image, SeriesColor(1), f.X(0.2), f.Y(0.8)));
  // Legend text is drawn too.
  CHECK(image.Count(plot_internal::kTextColor, f.right + 1, f.top, image.width - 1, f.top + 50) >
        20);
}

TEST_CASE("plot: points out of order are joined in order of x") {
  TempDir dir;
  PlotSeries sorted = Line("s", 200, [](double x) { return std::sin(x / 20); });
  PlotSeries shuffled = sorted;
  for (size_t i = 0; i + 1 < shuffled.x.size(); i += 2) {  // Swap neighbours, and reverse.
    std::swap(shuffled.x[i], shuffled.x[i + 1]);
    std::swap(shuffled.y[i], shuffled.y[i + 1]);
  }
  std::reverse(shuffled.x.begin(), shuffled.x.end());
  std::reverse(shuffled.y.begin(), shuffled.y.end());
  Image expected = Render(dir, {sorted});
  Image actual = Render(dir, {shuffled});
  CHECK(actual.rgb == expected.rgb);

  // A million points in random order still render quickly.
  PlotSeries big{"big", {}, {}};
  uint64_t state = 42;
  for (int i = 0; i < 1000000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    big.x.push_back(static_cast<double>(state >> 40));
    big.y.push_back(std::sin(big.x.back() / 1e6));
  }
  CHECK(WritePlot(dir / "big.png", {big}).ok());  // speed is for bench/, not tests
}

TEST_CASE("plot: a single point draws a dot, a constant series a visible line") {
  TempDir dir;
  Image image = Render(dir, {PlotSeries{"one", {7}, {3.5}}});
  Frame f = FindFrame(image);
  CHECK(image.Count(SeriesColor(0), f.left, f.top, f.right, f.bottom) >= 20);

  image = Render(dir, {PlotSeries{"flat", {}, std::vector<double>(50, 0.25)}});
  f = FindFrame(image);
  // The line is inside the frame, away from its edges.
  int inner = image.Count(SeriesColor(0), f.left + 1, f.top + 10, f.right - 1, f.bottom - 10);
  CHECK(inner >= f.right - f.left);
  CHECK(image.Count(SeriesColor(0), f.left, f.top, f.right, f.top + 9) == 0);
  CHECK(image.Count(SeriesColor(0), f.left, f.bottom - 9, f.right, f.bottom) == 0);
}

TEST_CASE("plot: logarithmic y axis skips non-positive values") {
  TempDir dir;
  PlotSeries s;
  for (int i = -10; i <= 300; ++i) {
    s.x.push_back(i);
    s.y.push_back(i < 0 ? -i % 2 * -1.0 : std::pow(10.0, -6 + i / 100.0));  // 0, -1; 1e-6 to 1e-3.
  }
  PlotOptions options;
  options.log_y = true;
  Image image = Render(dir, {s}, options);
  Frame f = FindFrame(image);
  // Straight on a log axis spanning exactly 1e-6 to 1e-3.
  CHECK(Near(image, SeriesColor(0), f.X(0.5), f.Y(0.5)));
  CHECK(Near(image, SeriesColor(0), f.X(0.8), f.Y(0.8)));
  CHECK(Near(image, SeriesColor(0), f.X(0.1), f.Y(0.1)));

  auto status = WritePlot(dir / "neg.png", {PlotSeries{"neg", {}, {0, -1, -2}}}, options);
  CHECK(status.code() == mlcore::StatusCode::kInvalidArgument);
  CHECK(status.message().find("nothing to plot") != std::string::npos);
}

TEST_CASE("plot: a million points render in well under a second") {
  TempDir dir;
  PlotSeries s{"big", {}, {}};
  s.y.reserve(1000000);
  for (int i = 0; i < 1000000; ++i) s.y.push_back(std::sin(i / 20000.0) + (i % 100) / 1000.0);
  for (const char* name : {"big.png", "big.svg"}) {
    mlcore::Status status = WritePlot(dir / name, {s});
    CHECK_MESSAGE(status.ok(), status.ToString());
  }
  std::string svg = ReadFile(dir / "big.svg");
  CHECK(svg.size() < 200000);
  CHECK(CountOf(svg, "<polyline") == 1);
  size_t begin = svg.find("points=\"");
  REQUIRE(begin != std::string::npos);
  std::string points = svg.substr(begin + 8, svg.find('"', begin + 8) - begin - 8);
  CHECK(CountOf(points, ",") <= 2 * 1000);
  CHECK(CountOf(points, ",") > 500);
}

TEST_CASE("plot: custom size") {
  TempDir dir;
  PlotOptions options;
  options.width = 320;
  options.height = 200;
  Image image = Render(dir, {Line("a", 10, [](double x) { return x * x; })}, options);
  CHECK(image.width == 320);
  CHECK(image.height == 200);
}

// ---- SVG --------------------------------------------------------------------------------------

TEST_CASE("plot: SVG has the title, axes and one polyline per series") {
  TempDir dir;
  PlotOptions options;
  options.title = "loss — run <bold> & \"heron\"";
  options.y_label = "loss";
  std::string path = dir / "chart.svg";
  mlcore::Status status = WritePlot(
      path, {Line("a&b", 100, [](double x) { return x; }), Line("c", 100, std::sqrt)}, options);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  std::string svg = ReadFile(path);
  CHECK(svg.starts_with("<svg"));
  CHECK(svg.substr(svg.find_last_not_of(" \n") - 5, 6) == "</svg>");
  CHECK(svg.find("width=\"1000\" height=\"600\"") != std::string::npos);
  CHECK(svg.find(">loss — run &lt;bold&gt; &amp; &quot;heron&quot;</text>") != std::string::npos);
  CHECK(svg.find(">step</text>") != std::string::npos);
  CHECK(svg.find(">loss</text>") != std::string::npos);
  CHECK(svg.find(">a&amp;b</text>") != std::string::npos);  // The legend.
  CHECK(svg.find(">20</text>") != std::string::npos);       // A tick label.
  CHECK(svg.find("sans-serif") != std::string::npos);
  // Two series plus two legend samples.
  CHECK(CountOf(svg, "<polyline") == 4);
  CHECK(CountOf(svg, "clip-path=\"url(#plot)\"") == 2);
  CHECK(CountOf(svg, "<text") == CountOf(svg, "</text>"));
  CHECK(CountOf(svg, "<g") == CountOf(svg, "</g>"));

  // Invalid UTF-8 becomes U+FFFD and control characters go, so the XML stays well-formed.
  REQUIRE(WritePlot(path, {PlotSeries{"bad\xff\xc3name\x01", {}, {1, 2}}}).ok());
  svg = ReadFile(path);
  CHECK(svg.find("<title>bad\uFFFD\uFFFDname</title>") != std::string::npos);

  // A gap splits a series' line; a lone point is a circle.
  PlotSeries s = Line("gappy", 100, [](double x) { return x; });
  s.y[50] = NAN;
  s.y[52] = NAN;
  REQUIRE(WritePlot(path, {s}).ok());
  svg = ReadFile(path);
  CHECK(CountOf(svg, "<polyline") == 2);
  CHECK(CountOf(svg, "<circle") == 1);
}

// ---- Errors -----------------------------------------------------------------------------------

TEST_CASE("plot: bad arguments") {
  TempDir dir;
  std::vector<PlotSeries> one = {Line("a", 10, [](double x) { return x; })};
  auto status = WritePlot("out.jpg", one);
  CHECK(status ==
        mlcore::InvalidArgumentError("cannot plot to out.jpg: use a .png or .svg file name"));
  CHECK(WritePlot(dir / "png", one).code() == mlcore::StatusCode::kInvalidArgument);
  CHECK(WritePlot(dir / "a.png/", one).code() == mlcore::StatusCode::kInvalidArgument);
  CHECK(WritePlot(dir / "UPPER.PNG", one).ok());

  status = WritePlot(dir / "empty.png", {});
  CHECK(status.code() == mlcore::StatusCode::kInvalidArgument);
  CHECK(status.message().starts_with("nothing to plot"));
  status = WritePlot(dir / "empty.png", {PlotSeries{"nan", {}, {NAN, INFINITY}}, PlotSeries{}});
  CHECK(status.code() == mlcore::StatusCode::kInvalidArgument);
  CHECK(status.message().starts_with("nothing to plot"));

  status = WritePlot(dir / "bad.png", {PlotSeries{"loss", {1, 2, 3}, {1, 2}}});
  CHECK(status.code() == mlcore::StatusCode::kInvalidArgument);
  CHECK(status.message() == "series \"loss\" has 3 x values but 2 y values");

  PlotOptions tiny;
  tiny.width = 10;
  CHECK(WritePlot(dir / "tiny.png", one, tiny).code() == mlcore::StatusCode::kInvalidArgument);
  CHECK(dir.List() == std::vector<std::string>{"UPPER.PNG"});
}

TEST_CASE("plot: I/O failures name the path and leave no file behind") {
  TempDir dir;
  std::vector<PlotSeries> one = {Line("a", 10, [](double x) { return x; })};

  std::string missing = dir / "no/such/dir/chart.png";
  auto status = WritePlot(missing, one);
  CHECK(status.code() == mlcore::StatusCode::kNotFound);
  CHECK(status.message() == "cannot write chart to " + missing + ": " + std::strerror(ENOENT));

  // A regular file used as a directory.
  std::ofstream(dir / "file") << "x";
  std::string inside = dir / "file/chart.svg";
  status = WritePlot(inside, one);
  CHECK(status.code() == mlcore::StatusCode::kFailedPrecondition);
  CHECK(status.message().find(inside) != std::string::npos);

  // The target is a directory: the rename fails and the temporary file goes.
  fs::create_directory(dir / "taken.png");
  status = WritePlot(dir / "taken.png", one);
  CHECK_FALSE(status.ok());
  CHECK(status.message().find(dir / "taken.png") != std::string::npos);

  // A write that runs out of room (here, the file size limit) is RESOURCE_EXHAUSTED.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 1000;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  status = WritePlot(dir / "full.png", one);
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(status.code() == mlcore::StatusCode::kResourceExhausted);
  CHECK(status.message().find(dir / "full.png") != std::string::npos);

  std::vector<std::string> names = dir.List();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"file", "taken.png"});

  // Rewriting replaces the old chart whole.
  REQUIRE(WritePlot(dir / "again.png", one).ok());
  REQUIRE(WritePlot(dir / "again.png", {Line("b", 10, [](double x) { return -x; })}).ok());
  CHECK(DecodePng(ReadFile(dir / "again.png")).width == 1000);
}

}  // namespace
}  // namespace mlc
