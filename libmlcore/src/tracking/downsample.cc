#include "tracking/downsample.h"

#include <algorithm>
#include <cmath>

namespace mlcore::tracking {
namespace {

// The indexes of non-NaN points.
std::vector<size_t> FiniteIndexes(const Columns& in) {
  std::vector<size_t> idx;
  idx.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (!std::isnan(in.values[i])) idx.push_back(i);
  }
  return idx;
}

}  // namespace

Columns MinMax(const Columns& in, size_t max_points) {
  Columns out;
  const std::vector<size_t> idx = FiniteIndexes(in);
  if (idx.size() <= max_points) {
    out.Reserve(idx.size());
    for (size_t i : idx) out.Push(in.steps[i], in.times[i], in.values[i]);
    return out;
  }
  const size_t buckets = std::max<size_t>(1, max_points / 4);
  const double lo = static_cast<double>(in.steps[idx.front()]);
  const double hi = static_cast<double>(in.steps[idx.back()]);
  const double width = std::max((hi - lo) / static_cast<double>(buckets), 1e-300);
  out.Reserve(buckets * 4);
  size_t k = 0;
  while (k < idx.size()) {
    const auto bucket = std::min<size_t>(
        buckets - 1, static_cast<size_t>((static_cast<double>(in.steps[idx[k]]) - lo) / width));
    size_t first = k, last = k, mn = k, mx = k;
    for (; k < idx.size(); ++k) {
      const auto b = std::min<size_t>(
          buckets - 1, static_cast<size_t>((static_cast<double>(in.steps[idx[k]]) - lo) / width));
      if (b != bucket) break;
      last = k;
      if (in.values[idx[k]] < in.values[idx[mn]]) mn = k;
      if (in.values[idx[k]] > in.values[idx[mx]]) mx = k;
    }
    size_t picks[4] = {first, mn, mx, last};
    std::sort(std::begin(picks), std::end(picks));
    for (size_t j = 0; j < 4; ++j) {
      if (j > 0 && picks[j] == picks[j - 1]) continue;
      const size_t i = idx[picks[j]];
      out.Push(in.steps[i], in.times[i], in.values[i]);
    }
  }
  return out;
}

Columns Lttb(const Columns& in, size_t max_points) {
  Columns out;
  const std::vector<size_t> idx = FiniteIndexes(in);
  const size_t n = idx.size();
  if (n <= max_points || max_points < 3) {
    out.Reserve(n);
    for (size_t i : idx) out.Push(in.steps[i], in.times[i], in.values[i]);
    return out;
  }
  out.Reserve(max_points);
  auto x = [&](size_t k) { return static_cast<double>(in.steps[idx[k]]); };
  auto y = [&](size_t k) { return in.values[idx[k]]; };
  auto push = [&](size_t k) { out.Push(in.steps[idx[k]], in.times[idx[k]], in.values[idx[k]]); };
  const double every = static_cast<double>(n - 2) / static_cast<double>(max_points - 2);
  size_t a = 0;
  push(0);
  for (size_t i = 0; i < max_points - 2; ++i) {
    // Average of the next bucket.
    auto next_begin = static_cast<size_t>(std::floor(static_cast<double>(i + 1) * every)) + 1;
    auto next_end =
        std::min(n, static_cast<size_t>(std::floor(static_cast<double>(i + 2) * every)) + 1);
    if (next_begin >= next_end) next_begin = next_end - 1;
    double avg_x = 0, avg_y = 0;
    for (size_t k = next_begin; k < next_end; ++k) {
      avg_x += x(k);
      avg_y += y(k);
    }
    const double count = static_cast<double>(next_end - next_begin);
    avg_x /= count;
    avg_y /= count;
    // The point of this bucket making the largest triangle with `a` and the average.
    const auto begin = static_cast<size_t>(std::floor(static_cast<double>(i) * every)) + 1;
    const auto end = static_cast<size_t>(std::floor(static_cast<double>(i + 1) * every)) + 1;
    double best = -1;
    size_t chosen = begin;
    const double ax = x(a), ay = y(a);
    for (size_t k = begin; k < end && k < n; ++k) {
      const double area = std::fabs((ax - avg_x) * (y(k) - ay) - (ax - x(k)) * (avg_y - ay));
      if (area > best) {
        best = area;
        chosen = k;
      }
    }
    push(chosen);
    a = chosen;
  }
  push(n - 1);
  return out;
}

Columns SummaryPoints(const std::vector<ChunkSummary>& summaries) {
  Columns out;
  out.Reserve(summaries.size() * 4);
  for (const ChunkSummary& s : summaries) {
    const Point* picks[4] = {&s.first, &s.min, &s.max, &s.last};
    // Order by step (then time), so the output stays ordered; drop repeats of one point.
    std::sort(std::begin(picks), std::end(picks), [](const Point* l, const Point* r) {
      return l->step != r->step ? l->step < r->step : l->time < r->time;
    });
    for (size_t j = 0; j < 4; ++j) {
      const Point& p = *picks[j];
      if (j > 0 && p.step == picks[j - 1]->step && p.time == picks[j - 1]->time) continue;
      if (std::isnan(p.value) && !(j == 0 || j == 3)) continue;
      out.Push(p.step, p.time, p.value);
    }
  }
  return out;
}

}  // namespace mlcore::tracking
