// The on-disk form of metric points: columns of (step, time, value) packed into chunks.
//
// A chunk holds up to kChunkPoints points of one (run, key) in arrival order:
//   varint n | n zigzag-varint step deltas | n zigzag-varint time deltas (microseconds) |
//   n little-endian IEEE-754 doubles
// Steps and times of a training loop grow by small amounts, so each costs one or two bytes; values
// are kept bit-exact (NaN payloads and infinities included). A 10M-point series takes ~110 MB.
//
// Each chunk also has a summary: its first, last, minimum and maximum points (NaN ignored), which
// lets a downsampled read of a long series touch summaries only (see downsample.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::tracking {

// Points per chunk: small enough that a downsampled view of a long series has several chunk
// summaries per output bucket, large enough that a 10M-point series is ~10k rows.
inline constexpr size_t kChunkPoints = 1024;

// Columns of points; all three vectors have the same length.
struct Columns {
  std::vector<int64_t> steps;
  std::vector<int64_t> times;  // microseconds since the epoch
  std::vector<double> values;

  size_t size() const { return steps.size(); }
  void Reserve(size_t n);
  void Clear();
  void Append(const Columns& other, size_t begin, size_t end);
  void Push(int64_t step, int64_t time, double value);
};

// One point.
struct Point {
  int64_t step = 0;
  int64_t time = 0;
  double value = 0;
};

// First, last, minimum and maximum point of a chunk (min/max ignore NaN; when every value is NaN
// they equal the first point).
struct ChunkSummary {
  Point first, last, min, max;
  bool has_finite = false;  // some value is not NaN
  // Fixed 96-byte encoding.
  std::string Encode() const;
  static Result<ChunkSummary> Decode(std::string_view bytes);
};

// Encodes points [begin, end) of `columns`.
std::string EncodeChunk(const Columns& columns, size_t begin, size_t end);
// Appends the points of `bytes` to `out`. Errors: DATA_LOSS (truncated or malformed chunk).
Status DecodeChunk(std::string_view bytes, Columns* out);
// Summary of points [begin, end) of `columns` (non-empty).
ChunkSummary Summarize(const Columns& columns, size_t begin, size_t end);
// True when steps are non-decreasing over [begin, end).
bool StepsSorted(const Columns& columns, size_t begin, size_t end);

}  // namespace mlcore::tracking
