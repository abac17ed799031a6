#include "plot.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

namespace mlc {
namespace plot_internal {

Axis LinearAxis(double lo, double hi, int max_ticks, bool extend) {
  if (lo > hi) std::swap(lo, hi);
  max_ticks = std::max(max_ticks, 2);
  double magnitude = std::max(std::fabs(lo), std::fabs(hi));
  // A range that is empty, or too narrow for doubles to tell its ticks apart, is padded.
  if (!(hi - lo > magnitude * 1e-12) || hi - lo < 1e-300) {
    double pad = magnitude > 1e-300 ? magnitude * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  // The step is nice * scale, nice being 1, 2, 5 or 10: the smallest giving at most max_ticks.
  double raw = (hi - lo) / (max_ticks - 1);
  double scale = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / scale;
  double nice = norm <= 1 + 1e-9 ? 1 : norm <= 2 + 1e-9 ? 2 : norm <= 5 + 1e-9 ? 5 : 10;
  auto make = [&](double step) {
    Axis axis{lo, hi, step, {}};
    if (extend) {  // Out to the next ticks, unless the data pass one by under 4% of a step.
      axis.lo = std::min(lo, std::floor(lo / step + 0.04) * step);
      axis.hi = std::max(hi, std::ceil(hi / step - 0.04) * step);
    }
    return axis;
  };
  auto count = [](const Axis& axis) {
    return std::floor(axis.hi / axis.step + 1e-9) - std::ceil(axis.lo / axis.step - 1e-9) + 1;
  };
  Axis axis = make(nice * scale);
  // One notch finer (10, 5, 2, 1, 0.5, ...) to have at least two ticks, or to trim empty space
  // from an extended axis at the cost of a tick or two.
  for (int i = 0; i < 4; ++i) {
    double finer_nice = nice == 10 ? 5 : nice == 5 ? 2 : nice == 2 ? 1 : 5;
    double finer_scale = nice == 1 ? scale / 10 : scale;
    Axis finer = make(finer_nice * finer_scale);
    bool trims = extend && i == 0 && count(finer) <= max_ticks + 2 &&
                 finer.hi - finer.lo < axis.hi - axis.lo - 1e-9 * axis.step;
    if (!trims && count(axis) >= 2) break;
    axis = finer;
    nice = finer_nice;
    scale = finer_scale;
  }
  double first = std::ceil(axis.lo / axis.step - 1e-9);
  for (int i = 0, n = static_cast<int>(std::min(count(axis), 1000.0)); i < n; ++i) {
    double value = (first + i) * axis.step;
    axis.ticks.push_back(std::fabs(value) < axis.step * 1e-9 ? 0.0 : value);
  }
  return axis;
}

Axis LogAxis(double lo, double hi, int max_ticks) {
  if (lo > hi) std::swap(lo, hi);
  int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (e1 <= e0) {  // Constant: a decade either side.
    --e0;
    ++e1;
  }
  int stride = std::max(1, (e1 - e0 + max_ticks - 3) / std::max(1, max_ticks - 2));
  e0 = static_cast<int>(std::floor(static_cast<double>(e0) / stride)) * stride;
  e1 = static_cast<int>(std::ceil(static_cast<double>(e1) / stride)) * stride;
  Axis axis{std::pow(10.0, e0), std::pow(10.0, e1), 0, {}};
  for (int e = e0; e <= e1; e += stride) {
    double decade = std::pow(10.0, e);
    axis.ticks.push_back(decade);
    if (e1 - e0 < 3 && e < e1) {
      axis.ticks.push_back(2 * decade);
      axis.ticks.push_back(5 * decade);
    }
  }
  return axis;
}

std::string FormatTick(double value, double step) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  step = std::fabs(step);
  double magnitude = std::fabs(value);
  if (magnitude == 0 || magnitude < step * 1e-9) return "0";
  if (!(step > 0) || !std::isfinite(step)) step = magnitude;
  // Digits down to the step's: significant ones in exponent form, decimals in fixed form.
  auto digits_of = [](double v) { return static_cast<int>(std::floor(std::log10(v) + 1e-9)); };
  std::array<char, 48> buffer{};
  if (magnitude < 1e-4 || magnitude >= 1e15) {
    int digits = std::clamp(digits_of(magnitude) - digits_of(step) + 1, 1, 15);
    std::snprintf(buffer.data(), buffer.size(), "%.*g", digits, value);
    return buffer.data();
  }
  // Fixed notation to the step's decimals, with or without a k/M/G/T suffix, whichever is shorter.
  auto fixed = [&](double scale, const char* suffix) {
    int decimals = std::clamp(-digits_of(step / scale), 0, 15);
    std::snprintf(buffer.data(), buffer.size(), "%.*f", decimals, value / scale);
    std::string text = buffer.data();
    if (text.find('.') != std::string::npos) {
      text.erase(text.find_last_not_of('0') + 1);
      if (text.back() == '.') text.pop_back();
    }
    return text + suffix;
  };
  std::string plain = fixed(1, "");
  static constexpr std::array<std::pair<double, const char*>, 4> kSuffixes = {
      {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}}};
  for (const auto& [scale, suffix] : kSuffixes) {
    if (magnitude >= scale) {
      std::string short_form = fixed(scale, suffix);
      return short_form.size() <= plain.size() ? short_form : plain;
    }
  }
  return plain;
}

uint32_t SeriesColor(size_t index) {
  // Okabe-Ito, reordered so the first colours are the most distinct on white; yellow last.
  static constexpr std::array<uint32_t, 8> kPalette = {0x0072B2, 0xE69F00, 0x009E73, 0xD55E00,
                                                       0xCC79A7, 0x56B4E9, 0x000000, 0xF0E442};
  return kPalette[index % kPalette.size()];
}

}  // namespace plot_internal

namespace {

#include "plot_font.inc"

using mlcore::Status;
using plot_internal::Axis;
using plot_internal::FormatTick;

constexpr uint32_t kLegendBorderColor = 0xBBBBBB;
constexpr int kPad = 10;           // Around the chart.
constexpr int kInset = 4;          // Between the frame and the axis bounds, so no line hides in it.
constexpr int kTickLength = 5;     // Tick marks, outside the frame.
constexpr int kSampleLength = 20;  // A legend entry's line sample.

// ---- Text -------------------------------------------------------------------------------------

// printf into a std::string.
template <typename... Args>
std::string Format(const char* format, Args... args) {
  std::string out(std::max(std::snprintf(nullptr, 0, format, args...), 0), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

// Code points of UTF-8 text; invalid sequences become U+FFFD and control characters are dropped.
std::u32string DecodeUtf8(std::string_view text) {
  static constexpr std::array<char32_t, 4> kMinimum = {0, 0x80, 0x800, 0x10000};
  std::u32string out;
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    int ones = std::countl_one(byte), extra = ones == 0 ? 0 : ones - 1;
    char32_t cp = byte & (0x7F >> ones);
    bool valid = ones != 1 && ones <= 4 && i + extra < text.size();
    for (int k = 1; valid && k <= extra; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      cp = (cp << 6) | (next & 0x3F);
    }
    valid = valid && cp >= kMinimum[extra] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF) &&
            cp != 0xFFFE && cp != 0xFFFF;
    i += valid ? extra + 1 : 1;
    if (!valid) cp = 0xFFFD;
    if (cp >= 0x20 && (cp < 0x7F || cp > 0x9F)) out.push_back(cp);
  }
  return out;
}

std::string EncodeUtf8(std::u32string_view text) {
  static constexpr std::array<unsigned, 4> kLead = {0, 0xC0, 0xE0, 0xF0};
  std::string out;
  for (char32_t cp : text) {
    int extra = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
    out += static_cast<char>(kLead[extra] | (cp >> (6 * extra)));
    for (int k = extra - 1; k >= 0; --k) out += static_cast<char>(0x80 | ((cp >> (6 * k)) & 0x3F));
  }
  return out;
}

// At most `max_chars` characters, ending in ".." when shortened.
std::u32string Fit(std::u32string text, double max_chars) {
  auto limit = static_cast<size_t>(std::max(max_chars, 1.0));
  if (text.size() > limit) text = text.substr(0, limit >= 3 ? limit - 2 : limit) + U"..";
  return text.size() > limit ? text.substr(0, limit) : text;
}

std::u32string Ascii(const std::string& text) { return {text.begin(), text.end()}; }

// ---- Layout -----------------------------------------------------------------------------------

// How big text is in each format: the advance per character and the height, in pixels.
struct TextSize {
  double advance, height;
};
struct Metrics {
  TextSize label, title;
};
constexpr Metrics kPngMetrics = {{6, 7}, {12, 14}};   // The 5x7 font, 1x and 2x.
constexpr Metrics kSvgMetrics = {{7, 12}, {10, 16}};  // Estimates for 12px and 16px sans-serif.

struct DataRange {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  bool empty() const { return x_lo > x_hi; }
};

struct LegendEntry {
  std::u32string name;
  uint32_t color = 0;
  bool sample = true;  // False for the "+N more" line.
};

struct Layout {
  int width = 0, height = 0;
  int left = 0, top = 0, right = 0, bottom = 0;  // The plot frame, inclusive.
  Axis x, y;
  bool log_y = false;
  std::u32string title, x_label, y_label;
  std::vector<std::u32string> x_tick_labels, y_tick_labels;
  int legend_x = 0, legend_y = 0, legend_width = 0, legend_height = 0, legend_row = 0;
  std::vector<LegendEntry> legend;

  double X(double v) const {
    double t = (v - x.lo) / (x.hi - x.lo);
    return left + kInset + std::clamp(t, -0.01, 1.01) * (right - left - 2 * kInset);
  }
  double Y(double v) const {
    double t = log_y ? (std::log10(v) - std::log10(y.lo)) / (std::log10(y.hi) - std::log10(y.lo))
                     : (v - y.lo) / (y.hi - y.lo);
    return bottom - kInset - std::clamp(t, -0.01, 1.01) * (bottom - top - 2 * kInset);
  }
};

bool Usable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

double XAt(const PlotSeries& s, size_t i) { return s.x.empty() ? static_cast<double>(i) : s.x[i]; }

DataRange Measure(const std::vector<PlotSeries>& series, bool log_y) {
  DataRange r;
  for (const PlotSeries& s : series) {
    for (size_t i = 0; i < s.y.size(); ++i) {
      double x = XAt(s, i), y = s.y[i];
      if (!Usable(x, y, log_y)) continue;
      r.x_lo = std::min(r.x_lo, x);
      r.x_hi = std::max(r.x_hi, x);
      r.y_lo = std::min(r.y_lo, y);
      r.y_hi = std::max(r.y_hi, y);
    }
  }
  // Beyond these the arithmetic of the axes overflows; such points are drawn at the frame.
  double floor = log_y ? 1e-300 : -1e300;
  return {std::clamp(r.x_lo, -1e300, 1e300), std::clamp(r.x_hi, -1e300, 1e300),
          std::clamp(r.y_lo, floor, 1e300), std::clamp(r.y_hi, floor, 1e300)};
}

size_t Widest(const std::vector<std::u32string>& labels) {
  size_t widest = 0;
  for (const auto& label : labels) widest = std::max(widest, label.size());
  return widest;
}

Layout MakeLayout(const std::vector<PlotSeries>& series, const PlotOptions& options,
                  const DataRange& range, const Metrics& m) {
  Layout l;
  l.width = options.width;
  l.height = options.height;
  l.log_y = options.log_y;
  l.title = Fit(DecodeUtf8(options.title), (l.width - 2 * kPad) / m.title.advance);
  l.x_label = Fit(DecodeUtf8(options.x_label), (l.width - 2 * kPad) / m.label.advance);
  l.y_label = Fit(DecodeUtf8(options.y_label), (l.height - 2 * kPad) / m.label.advance);

  l.top = kPad + static_cast<int>(l.title.empty() ? m.label.height : m.title.height + 12);
  l.bottom = l.height - 1 - kPad - kTickLength - 4 -
             static_cast<int>(m.label.height + (l.x_label.empty() ? 0 : m.label.height + 8));
  int y_ticks = std::max(3, (l.bottom - l.top) / 60 + 1);
  l.y = l.log_y ? plot_internal::LogAxis(range.y_lo, range.y_hi, y_ticks)
                : plot_internal::LinearAxis(range.y_lo, range.y_hi, y_ticks, true);
  for (double t : l.y.ticks)
    l.y_tick_labels.push_back(Ascii(FormatTick(t, l.log_y ? t : l.y.step)));
  l.left = kPad +
           static_cast<int>((l.y_label.empty() ? 0 : m.label.height + 8) +
                            Widest(l.y_tick_labels) * m.label.advance) +
           4 + kTickLength;

  l.right = l.width - 1 - kPad - static_cast<int>(2 * m.label.advance);
  if (series.size() > 1) {
    l.legend_row = static_cast<int>(m.label.height) + 7;
    size_t fit = std::max(1, (l.bottom - l.top - 8) / l.legend_row);
    double max_chars = std::max(4.0, (0.3 * l.width - 40) / m.label.advance);
    for (size_t i = 0; i < series.size(); ++i) {
      if (i + 1 == fit && series.size() > fit) {
        l.legend.push_back({Ascii("+" + std::to_string(series.size() - i) + " more"), 0, false});
        break;
      }
      std::u32string name = DecodeUtf8(series[i].name);
      if (name.empty()) name = Ascii("series " + std::to_string(i + 1));
      l.legend.push_back({Fit(name, max_chars), plot_internal::SeriesColor(i)});
    }
    std::vector<std::u32string> names;
    for (const auto& entry : l.legend) names.push_back(entry.name);
    l.legend_width = 8 + kSampleLength + 6 + static_cast<int>(Widest(names) * m.label.advance) + 8;
    l.legend_height = 8 + l.legend_row * static_cast<int>(l.legend.size());
    l.right = l.width - 1 - kPad - l.legend_width - 12;
    l.legend_x = l.right + 12;
    l.legend_y = l.top;
  }
  l.right = std::max(l.right, l.left + 40);

  int x_ticks = std::max(3, (l.right - l.left) / 100 + 1);
  while (true) {
    l.x = plot_internal::LinearAxis(range.x_lo, range.x_hi, x_ticks, false);
    l.x_tick_labels.clear();
    for (double t : l.x.ticks) l.x_tick_labels.push_back(Ascii(FormatTick(t, l.x.step)));
    double spacing = l.x.step / (l.x.hi - l.x.lo) * (l.right - l.left);
    if (x_ticks == 2 || spacing >= Widest(l.x_tick_labels) * m.label.advance + 12) break;
    --x_ticks;
  }
  return l;
}

// ---- Reduction --------------------------------------------------------------------------------

struct Point {
  double x, y;
};
using Segment = std::vector<Point>;

// The series in pixels, split at unusable points. Consecutive points in the same pixel column
// become at most two: the lowest and the highest, in the order they occur.
std::vector<Segment> Reduce(const PlotSeries& s, const Layout& l) {
  std::vector<Segment> segments;
  Segment current;
  struct Extreme {
    Point point;
    size_t index;
  };
  std::optional<std::pair<Extreme, Extreme>> column;  // The lowest and highest in this column.
  auto end_column = [&] {
    if (!column) return;
    auto [low, high] = *column;
    if (low.index > high.index) std::swap(low, high);
    current.push_back(low.point);
    if (low.index != high.index) current.push_back(high.point);
    column.reset();
  };
  auto end_segment = [&] {
    end_column();
    if (!current.empty()) segments.push_back(std::move(current));
    current.clear();
  };
  // Points are joined in order of x: if x is out of order, the points with a finite x, sorted.
  std::vector<size_t> order;
  if (!std::is_sorted(s.x.begin(), s.x.end())) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (std::isfinite(s.x[i])) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&s](size_t a, size_t b) { return s.x[a] < s.x[b]; });
  }
  for (size_t k = 0, n = order.empty() ? s.y.size() : order.size(); k < n; ++k) {
    size_t i = order.empty() ? k : order[k];
    double x = XAt(s, i), y = s.y[i];
    if (!Usable(x, y, l.log_y)) {
      end_segment();
      continue;
    }
    Point p{std::round(l.X(x)), l.Y(y)};
    if (column && column->first.point.x == p.x) {
      if (p.y < column->first.point.y) column->first = {p, k};
      if (p.y > column->second.point.y) column->second = {p, k};
      continue;
    }
    end_column();
    column = {{p, k}, {p, k}};
  }
  end_segment();
  return segments;
}

// ---- Drawing ----------------------------------------------------------------------------------

enum class Anchor { kStart, kMiddle, kEnd };

// What a format draws; coordinates in pixels, rectangles inclusive.
class Painter {
 public:
  virtual ~Painter() = default;
  virtual void FillRect(int x0, int y0, int x1, int y1, uint32_t color) = 0;
  // A 1px horizontal or vertical line.
  virtual void Line(int x0, int y0, int x1, int y1, uint32_t color) = 0;
  // Text vertically centred on `y`; `vertical` reads bottom to top, centred on `x`.
  virtual void Text(double x, double y, const std::u32string& text, Anchor anchor, bool title,
                    bool vertical, uint32_t color) = 0;
  // 2px-wide lines through each segment's points; a dot for a segment of one point. Clipped to
  // `clip` (x0, y0, x1, y1) when given.
  virtual void Series(const std::vector<Segment>& segments, uint32_t color,
                      const std::u32string& name, const std::array<int, 4>* clip) = 0;
};

void StrokeRect(Painter& p, int x0, int y0, int x1, int y1, uint32_t color) {
  p.Line(x0, y0, x1, y0, color);
  p.Line(x0, y1, x1, y1, color);
  p.Line(x0, y0, x0, y1, color);
  p.Line(x1, y0, x1, y1, color);
}

void Draw(const Layout& l, const std::vector<std::vector<Segment>>& series,
          const std::vector<PlotSeries>& input, const Metrics& m, Painter& p) {
  p.FillRect(0, 0, l.width - 1, l.height - 1, plot_internal::kBackgroundColor);
  for (double t : l.x.ticks) {
    int x = static_cast<int>(std::lround(l.X(t)));
    if (x > l.left && x < l.right) p.Line(x, l.top + 1, x, l.bottom - 1, plot_internal::kGridColor);
  }
  for (double t : l.y.ticks) {
    int y = static_cast<int>(std::lround(l.Y(t)));
    if (y > l.top && y < l.bottom) p.Line(l.left + 1, y, l.right - 1, y, plot_internal::kGridColor);
  }
  std::array<int, 4> clip = {l.left, l.top, l.right, l.bottom};
  for (size_t i = 0; i < series.size(); ++i) {
    p.Series(series[i], plot_internal::SeriesColor(i), DecodeUtf8(input[i].name), &clip);
  }
  uint32_t axis = plot_internal::kAxisColor, text = plot_internal::kTextColor;
  StrokeRect(p, l.left, l.top, l.right, l.bottom, axis);
  double label_y = l.bottom + kTickLength + 4 + m.label.height / 2;
  for (size_t i = 0; i < l.x.ticks.size(); ++i) {
    int x = static_cast<int>(std::lround(l.X(l.x.ticks[i])));
    p.Line(x, l.bottom + 1, x, l.bottom + kTickLength, axis);
    p.Text(x, label_y, l.x_tick_labels[i], Anchor::kMiddle, false, false, text);
  }
  for (size_t i = 0; i < l.y.ticks.size(); ++i) {
    int y = static_cast<int>(std::lround(l.Y(l.y.ticks[i])));
    p.Line(l.left - kTickLength, y, l.left - 1, y, axis);
    p.Text(l.left - kTickLength - 4, y, l.y_tick_labels[i], Anchor::kEnd, false, false, text);
  }
  if (!l.title.empty()) {
    double half = l.title.size() * m.title.advance / 2;
    double x = std::clamp((l.left + l.right) / 2.0, kPad + half, l.width - kPad - half);
    p.Text(x, kPad + m.title.height / 2, l.title, Anchor::kMiddle, true, false, text);
  }
  if (!l.x_label.empty()) {
    p.Text((l.left + l.right) / 2.0, l.height - kPad - m.label.height / 2, l.x_label,
           Anchor::kMiddle, false, false, text);
  }
  if (!l.y_label.empty()) {
    p.Text(kPad + m.label.height / 2, (l.top + l.bottom) / 2.0, l.y_label, Anchor::kMiddle, false,
           true, text);
  }
  if (l.legend.empty()) return;
  p.FillRect(l.legend_x, l.legend_y, l.legend_x + l.legend_width - 1,
             l.legend_y + l.legend_height - 1, plot_internal::kBackgroundColor);
  StrokeRect(p, l.legend_x, l.legend_y, l.legend_x + l.legend_width - 1,
             l.legend_y + l.legend_height - 1, kLegendBorderColor);
  for (size_t i = 0; i < l.legend.size(); ++i) {
    const LegendEntry& entry = l.legend[i];
    double y = l.legend_y + 4 + l.legend_row * (i + 0.5);
    double x = l.legend_x + 8;
    if (entry.sample) {
      p.Series({{{x, std::round(y)}, {x + kSampleLength, std::round(y)}}}, entry.color, entry.name,
               nullptr);
    }
    p.Text(x + kSampleLength + 6, y, entry.name, Anchor::kStart, false, false, text);
  }
}

// ---- PNG --------------------------------------------------------------------------------------

class Canvas final : public Painter {
 public:
  Canvas(int width, int height)
      : width_(width), height_(height), rgb_(static_cast<size_t>(width) * height * 3, 0xFF) {}

  const std::vector<uint8_t>& rgb() const { return rgb_; }

  void FillRect(int x0, int y0, int x1, int y1, uint32_t color) override {
    for (int y = y0; y <= y1; ++y) {
      for (int x = x0; x <= x1; ++x) Set(x, y, color);
    }
  }
  void Line(int x0, int y0, int x1, int y1, uint32_t color) override {
    FillRect(std::min(x0, x1), std::min(y0, y1), std::max(x0, x1), std::max(y0, y1), color);
  }
  void Text(double x, double y, const std::u32string& text, Anchor anchor, bool title,
            bool vertical, uint32_t color) override {
    int scale = title ? 2 : 1;
    int length = static_cast<int>(text.size()) * (kGlyphWidth + 1) * scale - scale;
    double start = anchor == Anchor::kStart ? 0 : anchor == Anchor::kMiddle ? length / 2.0 : length;
    // Along the text: `pos`; across it: the top row of the glyphs (the left column if vertical).
    int pos = static_cast<int>(std::lround(vertical ? y + start : x - start));
    int across = static_cast<int>(std::lround((vertical ? x : y) - kGlyphHeight * scale / 2.0));
    for (char32_t cp : text) {
      const auto& glyph = kFont[Glyph(cp)];
      for (int row = 0; row < kGlyphRows * scale; ++row) {
        for (int col = 0; col < kGlyphWidth * scale; ++col) {
          if (((glyph[row / scale] >> (kGlyphWidth - 1 - col / scale)) & 1) == 0) continue;
          vertical ? Set(across + row, pos - col, color) : Set(pos + col, across + row, color);
        }
      }
      pos += vertical ? -(kGlyphWidth + 1) * scale : (kGlyphWidth + 1) * scale;
    }
  }
  void Series(const std::vector<Segment>& segments, uint32_t color, const std::u32string& /*name*/,
              const std::array<int, 4>* clip) override {
    clip_ = clip != nullptr ? *clip : std::array<int, 4>{0, 0, width_ - 1, height_ - 1};
    for (const Segment& segment : segments) {
      if (segment.size() == 1) {
        Dot(Round(segment[0].x), Round(segment[0].y), color);
        continue;
      }
      for (size_t i = 1; i < segment.size(); ++i) {
        ThickLine(Round(segment[i - 1].x), Round(segment[i - 1].y), Round(segment[i].x),
                  Round(segment[i].y), color);
      }
    }
    clip_ = {0, 0, width_ - 1, height_ - 1};
  }

 private:
  static int Round(double v) { return static_cast<int>(std::lround(v)); }

  static int Glyph(char32_t cp) {
    if (cp >= 32 && cp <= 126) return static_cast<int>(cp - 32);
    if (cp == 0x2013 || cp == 0x2014 || cp == 0x2212) return kDashGlyph;
    return kMissingGlyph;
  }

  void Set(int x, int y, uint32_t color) {
    if (x < clip_[0] || y < clip_[1] || x > clip_[2] || y > clip_[3]) return;
    uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
    p[0] = static_cast<uint8_t>(color >> 16);
    p[1] = static_cast<uint8_t>(color >> 8);
    p[2] = static_cast<uint8_t>(color);
  }

  // Bresenham's line, stamping 2x2 pixels so it is 2px wide.
  void ThickLine(int x0, int y0, int x1, int y1, uint32_t color) {
    int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int error = dx + dy;
    while (true) {
      FillRect(x0, y0, x0 + 1, y0 + 1, color);
      if (x0 == x1 && y0 == y1) break;
      int twice = 2 * error;
      if (twice >= dy) {
        error += dy;
        x0 += sx;
      }
      if (twice <= dx) {
        error += dx;
        y0 += sy;
      }
    }
  }

  void Dot(int cx, int cy, uint32_t color) {
    for (int y = -3; y <= 3; ++y) {
      for (int x = -3; x <= 3; ++x) {
        if (x * x + y * y <= 10) Set(cx + x, cy + y, color);
      }
    }
  }

  int width_, height_;
  std::vector<uint8_t> rgb_;
  std::array<int, 4> clip_ = {0, 0, width_ - 1, height_ - 1};
};

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// Length, type, data, CRC-32 of type and data.
void AppendChunk(std::string& png, std::string_view type, std::string_view data) {
  std::string body = std::string(type).append(data);
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
  png += Be32(data.size()) + body + Be32(crc);
}

mlcore::Result<std::string> EncodePng(int width, int height, const std::vector<uint8_t>& rgb) {
  // Every scanline gets filter 2, Up (the difference from the row above): charts are mostly
  // horizontal runs, and on them it compresses as well as choosing a filter per row.
  size_t stride = static_cast<size_t>(width) * 3;
  std::vector<uint8_t> filtered((stride + 1) * height);
  for (size_t y = 0; y < static_cast<size_t>(height); ++y) {
    uint8_t* out = &filtered[y * (stride + 1)];
    out[0] = 2;
    for (size_t i = 0; i < stride; ++i) {
      out[1 + i] =
          static_cast<uint8_t>(rgb[y * stride + i] - (y > 0 ? rgb[(y - 1) * stride + i] : 0));
    }
  }
  uLongf compressed_size = compressBound(filtered.size());
  std::vector<uint8_t> compressed(compressed_size);
  if (compress2(compressed.data(), &compressed_size, filtered.data(), filtered.size(), 6) != Z_OK) {
    return mlcore::InternalError("cannot compress the chart image");
  }
  std::string png("\x89PNG\r\n\x1a\n", 8);
  // Bit depth 8, colour type 2 (RGB), default compression and filtering, no interlace.
  AppendChunk(png, "IHDR", Be32(width) + Be32(height) + std::string("\x08\x02\0\0\0", 5));
  AppendChunk(png, "IDAT",
              std::string_view(reinterpret_cast<const char*>(compressed.data()), compressed_size));
  AppendChunk(png, "IEND", "");
  return png;
}

// ---- SVG --------------------------------------------------------------------------------------

// Coordinates to 0.1px, without a trailing ".0".
std::string Num(double v) {
  std::string s = Format("%.1f", v);
  if (s.ends_with(".0")) s.resize(s.size() - 2);
  return s == "-0" ? "0" : s;
}

std::string Escape(std::u32string_view text) {
  std::string out;
  for (char c : EncodeUtf8(text)) {
    const char* entity = c == '&'   ? "&amp;"
                         : c == '<' ? "&lt;"
                         : c == '>' ? "&gt;"
                         : c == '"' ? "&quot;"
                                    : nullptr;
    out += entity != nullptr ? std::string_view(entity) : std::string_view(&c, 1);
  }
  return out;
}

class SvgWriter final : public Painter {
 public:
  explicit SvgWriter(const Layout& l)
      : out_(Format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                    "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<defs><clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                    "height=\"%d\"/></clipPath></defs>\n",
                    l.width, l.height, l.width, l.height, l.left, l.top, l.right - l.left + 1,
                    l.bottom - l.top + 1)) {}
  std::string Finish() { return out_ + "</svg>\n"; }

  void FillRect(int x0, int y0, int x1, int y1, uint32_t color) override {
    out_ += Format("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%06x\"/>\n", x0, y0,
                   x1 - x0 + 1, y1 - y0 + 1, color);
  }
  void Line(int x0, int y0, int x1, int y1, uint32_t color) override {
    out_ += Format("<line x1=\"%d.5\" y1=\"%d.5\" x2=\"%d.5\" y2=\"%d.5\" stroke=\"#%06x\"/>\n", x0,
                   y0, x1, y1, color);
  }
  void Text(double x, double y, const std::u32string& text, Anchor anchor, bool title,
            bool vertical, uint32_t color) override {
    static constexpr std::array<const char*, 3> kAnchors = {"start", "middle", "end"};
    double size = title ? kSvgMetrics.title.height : kSvgMetrics.label.height;
    // The baseline sits about 0.35em below the centre of digits and lower-case letters.
    std::string bx = Num(vertical ? x + 0.35 * size : x), by = Num(vertical ? y : y + 0.35 * size);
    out_ += Format("<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" fill=\"#%06x\"", bx.c_str(),
                   by.c_str(), kAnchors[static_cast<int>(anchor)], color);
    if (title) out_ += " font-size=\"16\" font-weight=\"bold\"";
    if (vertical) out_ += " transform=\"rotate(-90 " + bx + " " + by + ")\"";
    out_ += ">" + Escape(text) + "</text>\n";
  }
  void Series(const std::vector<Segment>& segments, uint32_t color, const std::u32string& name,
              const std::array<int, 4>* clip) override {
    out_ += Format(
        "<g fill=\"none\" stroke=\"#%06x\" stroke-width=\"2\" stroke-linejoin=\"round\" "
        "stroke-linecap=\"round\"%s><title>",
        color, clip != nullptr ? " clip-path=\"url(#plot)\"" : "");
    out_ += Escape(name) + "</title>\n";
    for (const Segment& segment : segments) {
      if (segment.size() == 1) {
        out_ += "<circle cx=\"" + Num(segment[0].x + 0.5) + "\" cy=\"" + Num(segment[0].y + 0.5) +
                Format("\" r=\"3\" fill=\"#%06x\" stroke=\"none\"/>\n", color);
        continue;
      }
      out_ += "<polyline points=\"";
      for (const Point& point : segment) {
        out_ += Num(point.x + 0.5) + "," + Num(point.y + 0.5) + " ";
      }
      out_.back() = '"';
      out_ += "/>\n";
    }
    out_ += "</g>\n";
  }

 private:
  std::string out_;
};

// ---- Files ------------------------------------------------------------------------------------

Status IoError(int err, const std::string& path) {
  using mlcore::StatusCode;
  StatusCode code =
      err == ENOENT                                     ? StatusCode::kNotFound
      : err == EACCES || err == EPERM || err == EROFS   ? StatusCode::kPermissionDenied
      : err == ENOTDIR || err == EISDIR || err == ELOOP ? StatusCode::kFailedPrecondition
      : err == ENOSPC || err == EDQUOT || err == EFBIG  ? StatusCode::kResourceExhausted
      : err == ENAMETOOLONG                             ? StatusCode::kInvalidArgument
                                                        : StatusCode::kInternal;
  return {code, "cannot write chart to " + path + ": " + std::strerror(err)};
}

// Writes `data` to "path.tmp-XXXXXX", then renames it to `path`; on failure removes it.
Status WriteAtomically(const std::string& path, std::string_view data) {
  static std::atomic<uint64_t> counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    uint64_t seed = std::chrono::steady_clock::now().time_since_epoch().count() ^
                    (static_cast<uint64_t>(getpid()) << 32) ^ (counter++ * 0x9E3779B97F4A7C15ULL);
    temp = path + Format(".tmp-%06x", static_cast<unsigned>(seed & 0xFFFFFF));
    fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) return IoError(errno, path);
  int err = 0;
  for (size_t done = 0; done < data.size() && err == 0;) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      err = errno;
    }
  }
  if (err == 0 && fsync(fd) != 0 && errno != EINVAL) err = errno;
  if (close(fd) != 0 && err == 0 && errno != EINTR) err = errno;
  if (err == 0 && std::rename(temp.c_str(), path.c_str()) != 0) err = errno;
  if (err == 0) return Status::Ok();
  unlink(temp.c_str());
  return IoError(err, path);
}

}  // namespace

Status WritePlot(const std::string& path, const std::vector<PlotSeries>& series,
                 const PlotOptions& options) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  std::string extension = name.substr(std::min(name.find_last_of('.'), name.size()));
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (extension != ".png" && extension != ".svg") {
    return mlcore::InvalidArgumentError("cannot plot to " + path +
                                        ": use a .png or .svg file name");
  }
  bool png = extension == ".png";
  if (options.width < 200 || options.width > 8192 || options.height < 150 ||
      options.height > 8192) {
    return mlcore::InvalidArgumentError("cannot plot " + std::to_string(options.width) + "x" +
                                        std::to_string(options.height) +
                                        " pixels: use 200x150 to 8192x8192");
  }
  for (const PlotSeries& s : series) {
    if (!s.x.empty() && s.x.size() != s.y.size()) {
      return mlcore::InvalidArgumentError("series \"" + s.name + "\" has " +
                                          std::to_string(s.x.size()) + " x values but " +
                                          std::to_string(s.y.size()) + " y values");
    }
  }
  DataRange range = Measure(series, options.log_y);
  if (range.empty()) {
    return mlcore::InvalidArgumentError(
        series.empty()  ? "nothing to plot: no series"
        : options.log_y ? "nothing to plot: no finite positive values for a logarithmic y axis"
                        : "nothing to plot: no finite values");
  }
  const Metrics& metrics = png ? kPngMetrics : kSvgMetrics;
  Layout layout = MakeLayout(series, options, range, metrics);
  std::vector<std::vector<Segment>> reduced;
  reduced.reserve(series.size());
  for (const PlotSeries& s : series) reduced.push_back(Reduce(s, layout));
  std::string data;
  if (png) {
    Canvas canvas(layout.width, layout.height);
    Draw(layout, reduced, series, metrics, canvas);
    MLC_ASSIGN_OR_RETURN(data, EncodePng(layout.width, layout.height, canvas.rgb()));
  } else {
    SvgWriter svg(layout);
    Draw(layout, reduced, series, metrics, svg);
    data = svg.Finish();
  }
  return WriteAtomically(path, data);
}

}  // namespace mlc
