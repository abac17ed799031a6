// Line charts of metric series, written as PNG (rasterised here, zlib-compressed) or SVG; behind
// `mlc run metrics RUN KEY --plot out.png`.
//
// The chart has a title, x and y axes with "nice" ticks (1, 2 or 5 x 10^k) and labels, light grid
// lines, one colour per series from the Okabe-Ito colour-blind-safe palette (repeating after 8
// series) and, with more than one series, a legend to the right of the plot (as many names as
// fit, then "+N more"). Series are reduced per pixel column (the minimum and maximum in each
// column) before drawing, so a million points render in milliseconds and an SVG stays small.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mlcore/status.h"

namespace mlc {

// One line. `x` and `y` have the same length; an empty `x` means 0, 1, 2, ... Points are joined in
// order of x (sorted first if needed). Points whose x or y is NaN or infinite are skipped, leaving
// a gap in the line; a point with no neighbour on either side is drawn as a dot.
struct PlotSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

struct PlotOptions {
  std::string title, x_label = "step", y_label;  // UTF-8; empty: not drawn.
  int width = 1000, height = 600;                // In pixels, 200x150 to 8192x8192.
  bool log_y = false;  // Logarithmic y axis; non-positive values are skipped.
};

// Writes a line chart of `series` to `path` (.png or .svg).
// Errors: INVALID_ARGUMENT for another extension, nothing to plot, mismatched x and y lengths or
// a size out of range; for I/O failures, an error naming the path: NOT_FOUND (missing directory),
// PERMISSION_DENIED, FAILED_PRECONDITION (a path component is not a directory, or the path is a
// directory), RESOURCE_EXHAUSTED (disk full, file size limit), INTERNAL otherwise. The file is
// written under a temporary name and renamed into place, so a failure leaves no partial file.
mlcore::Status WritePlot(const std::string& path, const std::vector<PlotSeries>& series,
                         const PlotOptions& options = {});

// Details, exposed for tests.
namespace plot_internal {

// An axis: its bounds and where its ticks go.
struct Axis {
  double lo = 0, hi = 1;
  double step = 1;            // Linear: the tick spacing. Log: unused.
  std::vector<double> ticks;  // Ascending, within [lo, hi].
};

// Ticks spaced 1, 2 or 5 x 10^k apart for data in [lo, hi]: at least two, and at most `max_ticks`
// (two more when that trims empty space from an extended axis).
// With `extend` (the y axis), the bounds grow outward to the nearest ticks, unless the data pass
// a tick by under 4% of a step; otherwise (the x axis) they stay at [lo, hi] with the ticks
// inside. A zero-width range is padded first.
Axis LinearAxis(double lo, double hi, int max_ticks, bool extend);

// Ticks at powers of 10 (every n-th power when there are many decades; also 2x and 5x when there
// are fewer than 3), bounds extended to the enclosing ticks. Requires 0 < lo <= hi.
Axis LogAxis(double lo, double hi, int max_ticks);

// A compact tick label: "0", "2.5k", "1M", "0.001", "1e-05", "-3.5", with as many significant
// digits as ticks `step` apart need (for log ticks, pass the value itself as the step).
std::string FormatTick(double value, double step);

// 0xRRGGBB colours of the chart.
inline constexpr uint32_t kBackgroundColor = 0xFFFFFF;
inline constexpr uint32_t kGridColor = 0xE5E5E5;
inline constexpr uint32_t kAxisColor = 0x555555;  // The plot frame and tick marks.
inline constexpr uint32_t kTextColor = 0x222222;
uint32_t SeriesColor(size_t index);

}  // namespace plot_internal
}  // namespace mlc
