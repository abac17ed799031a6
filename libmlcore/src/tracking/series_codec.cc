#include "tracking/series_codec.h"

#include <cmath>
#include <cstring>

namespace mlcore::tracking {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Reads a varint at *p (< end); false when truncated or over-long.
bool GetVarint(const unsigned char*& p, const unsigned char* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint64_t byte = *p++;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

void PutPoint(std::string* out, const Point& p) {
  char buf[24];
  std::memcpy(buf, &p.step, 8);
  std::memcpy(buf + 8, &p.time, 8);
  std::memcpy(buf + 16, &p.value, 8);
  out->append(buf, sizeof(buf));
}

Point GetPoint(const char* p) {
  Point point;
  std::memcpy(&point.step, p, 8);
  std::memcpy(&point.time, p + 8, 8);
  std::memcpy(&point.value, p + 16, 8);
  return point;
}

}  // namespace

void Columns::Reserve(size_t n) {
  steps.reserve(n);
  times.reserve(n);
  values.reserve(n);
}

void Columns::Clear() {
  steps.clear();
  times.clear();
  values.clear();
}

void Columns::Append(const Columns& other, size_t begin, size_t end) {
  steps.insert(steps.end(), other.steps.begin() + begin, other.steps.begin() + end);
  times.insert(times.end(), other.times.begin() + begin, other.times.begin() + end);
  values.insert(values.end(), other.values.begin() + begin, other.values.begin() + end);
}

void Columns::Push(int64_t step, int64_t time, double value) {
  steps.push_back(step);
  times.push_back(time);
  values.push_back(value);
}

std::string ChunkSummary::Encode() const {
  std::string out;
  out.reserve(96);
  PutPoint(&out, first);
  PutPoint(&out, last);
  PutPoint(&out, min);
  PutPoint(&out, max);
  return out;
}

Result<ChunkSummary> ChunkSummary::Decode(std::string_view bytes) {
  if (bytes.size() != 96) return DataLossError("metric chunk summary has a bad size");
  ChunkSummary s;
  s.first = GetPoint(bytes.data());
  s.last = GetPoint(bytes.data() + 24);
  s.min = GetPoint(bytes.data() + 48);
  s.max = GetPoint(bytes.data() + 72);
  s.has_finite = !std::isnan(s.min.value);
  return s;
}

std::string EncodeChunk(const Columns& c, size_t begin, size_t end) {
  const size_t n = end - begin;
  std::string out;
  out.reserve(n * 11 + 8);
  PutVarint(&out, n);
  int64_t prev = 0;
  for (size_t i = begin; i < end; ++i) {
    // Wrapping subtraction: any int64 sequence round-trips.
    PutVarint(&out, ZigZag(static_cast<int64_t>(static_cast<uint64_t>(c.steps[i]) -
                                                static_cast<uint64_t>(prev))));
    prev = c.steps[i];
  }
  prev = 0;
  for (size_t i = begin; i < end; ++i) {
    PutVarint(&out, ZigZag(static_cast<int64_t>(static_cast<uint64_t>(c.times[i]) -
                                                static_cast<uint64_t>(prev))));
    prev = c.times[i];
  }
  const size_t at = out.size();
  out.resize(at + n * 8);
  std::memcpy(out.data() + at, c.values.data() + begin, n * 8);
  return out;
}

Status DecodeChunk(std::string_view bytes, Columns* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  uint64_t n = 0;
  if (!GetVarint(p, end, &n) || n > (1u << 24)) return DataLossError("metric chunk is corrupt");
  const size_t base = out->size();
  out->steps.resize(base + n);
  out->times.resize(base + n);
  out->values.resize(base + n);
  for (auto* column : {&out->steps, &out->times}) {
    uint64_t prev = 0;
    int64_t* dst = column->data() + base;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t v;
      if (!GetVarint(p, end, &v)) return DataLossError("metric chunk is truncated");
      prev += static_cast<uint64_t>(UnZigZag(v));
      dst[i] = static_cast<int64_t>(prev);
    }
  }
  if (static_cast<uint64_t>(end - p) != n * 8) return DataLossError("metric chunk is truncated");
  std::memcpy(out->values.data() + base, p, n * 8);
  return Status::Ok();
}

ChunkSummary Summarize(const Columns& c, size_t begin, size_t end) {
  ChunkSummary s;
  auto at = [&](size_t i) { return Point{c.steps[i], c.times[i], c.values[i]}; };
  s.first = at(begin);
  s.last = at(end - 1);
  s.min = s.max = s.first;
  bool have = false;
  for (size_t i = begin; i < end; ++i) {
    const double v = c.values[i];
    if (std::isnan(v)) continue;
    if (!have) {
      s.min = s.max = at(i);
      have = true;
      continue;
    }
    if (v < s.min.value) s.min = at(i);
    if (v > s.max.value) s.max = at(i);
  }
  s.has_finite = have;
  if (!have) s.min.value = s.max.value = std::nan("");
  return s;
}

bool StepsSorted(const Columns& c, size_t begin, size_t end) {
  for (size_t i = begin + 1; i < end; ++i) {
    if (c.steps[i] < c.steps[i - 1]) return false;
  }
  return true;
}

}  // namespace mlcore::tracking
