// Thinning a metric history for display while keeping its shape.
//
// MinMax: equal step-width buckets, each keeping its first, minimum, maximum and last point, so
// spikes survive. Lttb: Largest-Triangle-Three-Buckets (Steinarsson 2013), `max_points` points
// that keep the visual shape. Both take points ordered by step and skip NaN values.
//
// A long series is not decoded for a downsampled read: each stored chunk contributes its summary
// points (first, min, max, last; see series_codec.h) and the method runs on those. MinMax then
// finds exactly the same extremes as over every point; Lttb runs on a 4-points-per-chunk envelope.
#pragma once

#include <vector>

#include "tracking/series_codec.h"

namespace mlcore::tracking {

// At most `max_points` (>= 4) points of `in` (ordered by step).
Columns MinMax(const Columns& in, size_t max_points);
// Exactly min(max_points, finite points of `in`) points of `in` (ordered by step); max_points >= 3.
Columns Lttb(const Columns& in, size_t max_points);
// The summary points of consecutive chunks, in step order, without duplicates.
Columns SummaryPoints(const std::vector<ChunkSummary>& summaries);

}  // namespace mlcore::tracking
