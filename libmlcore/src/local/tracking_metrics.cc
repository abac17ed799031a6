// Metric ingest (LogBatch: exactly once, rate- and size-limited, appended to chunks) and history
// reads (whole, paged, or downsampled from chunk summaries) of the tracking store.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/page_token.h"
#include "local/job_store.h"
#include "local/tracking_store.h"
#include "mlcore/tracking.h"
#include "tracking/downsample.h"
#include "tracking/retry_after.h"
#include "tracking/series_codec.h"

namespace mlcore::local {
namespace {

using tracking::Columns;

// The key's summary row, as read before an append.
struct KeyRow {
  int64_t id = 0;
  int64_t count = 0;
  int64_t latest_step = 0, latest_time = 0;
  double latest_value = 0;
  double min_value = NAN, max_value = NAN;
  bool sorted = true;
  int64_t last_step = 0;
  int64_t chunks = 0;
};

}  // namespace

Status TrackingStore::ChargeIngestLocked(const std::string& project, int64_t points,
                                         int64_t now_us) {
  MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT p.body, p.tokens, p.tokens_us, "
                                                 "COALESCE(u.stored_bytes, 0) FROM policies p "
                                                 "LEFT JOIN usage u ON u.project = p.project "
                                                 "WHERE p.project = ?"));
  select.Bind(1, project);
  MLC_ASSIGN_OR_RETURN(bool found, select.Step());
  if (found) {
    v1::TrackingPolicy policy;
    policy.ParseFromString(select.ColumnBlob(0));
    if (policy.max_stored_bytes() > 0 && select.ColumnInt(3) >= policy.max_stored_bytes()) {
      return ResourceExhaustedError(
          "project " + project + " holds " + std::to_string(select.ColumnInt(3)) +
          " bytes of metrics, at its limit of " + std::to_string(policy.max_stored_bytes()) +
          "; delete runs (mlc run delete), apply retention (mlc gc) or raise the limit (mlc "
          "tracking-policy set)");
    }
    const auto rate = static_cast<double>(policy.max_points_per_second());
    if (rate > 0) {
      // Token bucket holding up to two seconds of points; a batch larger than that passes once
      // the bucket is full and leaves it in debt.
      const double capacity = 2 * rate;
      const double elapsed = static_cast<double>(now_us - select.ColumnInt(2)) / 1e6;
      double tokens = std::min(capacity, select.ColumnDouble(1) + std::max(0.0, elapsed) * rate);
      const double need = std::min(static_cast<double>(points), capacity);
      if (tokens < need) {
        return ResourceExhaustedError(
            "project " + project + " is over its tracking rate limit of " +
            std::to_string(policy.max_points_per_second()) + " points/s; " +
            tracking::RetryAfterText((need - tokens) / rate));
      }
      tokens -= static_cast<double>(points);
      MLC_ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE policies SET tokens = ?, tokens_us "
                                                     "= ? WHERE project = ?"));
      update.Bind(1, tokens).Bind(2, now_us).Bind(3, project);
      MLC_RETURN_IF_ERROR(update.Run());
    }
  }
  const int64_t second = now_us / 1000000;
  MLC_ASSIGN_OR_RETURN(auto count, db_->Prepare("INSERT INTO ingest(project, second, points) "
                                                "VALUES (?1, ?2, ?3) ON CONFLICT(project, second) "
                                                "DO UPDATE SET points = points + ?3"));
  count.Bind(1, project).Bind(2, second).Bind(3, points);
  MLC_RETURN_IF_ERROR(count.Run());
  MLC_ASSIGN_OR_RETURN(auto prune,
                       db_->Prepare("DELETE FROM ingest WHERE project = ? AND second < ?"));
  prune.Bind(1, project).Bind(2, second - 120);
  return prune.Run();
}

Result<int64_t> TrackingStore::AppendSeriesLocked(const std::string& run_id,
                                                  const v1::MetricSeries& series, int64_t now_us) {
  const size_t n = static_cast<size_t>(series.steps_size());
  if (n == 0) return int64_t{0};
  KeyRow key;
  {
    MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT id, count, latest_step, latest_time, "
                                                   "latest_value, min_value, max_value, sorted, "
                                                   "last_step, chunks FROM metric_keys WHERE "
                                                   "run_id = ? AND key = ?"));
    select.Bind(1, run_id).Bind(2, series.key());
    MLC_ASSIGN_OR_RETURN(bool found, select.Step());
    if (found) {
      key.id = select.ColumnInt(0);
      key.count = select.ColumnInt(1);
      key.latest_step = select.ColumnInt(2);
      key.latest_time = select.ColumnInt(3);
      key.latest_value = select.ColumnDouble(4);
      key.min_value = select.ColumnIsNull(5) ? NAN : select.ColumnDouble(5);
      key.max_value = select.ColumnIsNull(6) ? NAN : select.ColumnDouble(6);
      key.sorted = select.ColumnInt(7) != 0;
      key.last_step = select.ColumnInt(8);
      key.chunks = select.ColumnInt(9);
    } else {
      MLC_ASSIGN_OR_RETURN(auto insert,
                           db_->Prepare("INSERT INTO metric_keys(run_id, key) VALUES (?, ?)"));
      insert.Bind(1, run_id).Bind(2, series.key());
      MLC_RETURN_IF_ERROR(insert.Run());
      key.id = db_->LastInsertRowId();
    }
  }
  // The new points, with the tail of the last chunk when it has room.
  Columns points;
  int64_t seq = key.chunks;
  int64_t bytes_delta = 0;
  if (key.chunks > 0) {
    MLC_ASSIGN_OR_RETURN(auto tail,
                         db_->Prepare("SELECT n, data, length(data) + length(summary) "
                                      "FROM metric_chunks WHERE key_id = ? AND seq = ?"));
    tail.Bind(1, key.id).Bind(2, key.chunks - 1);
    MLC_ASSIGN_OR_RETURN(bool found, tail.Step());
    if (found && static_cast<size_t>(tail.ColumnInt(0)) < tracking::kChunkPoints) {
      points.Reserve(static_cast<size_t>(tail.ColumnInt(0)) + n);
      MLC_RETURN_IF_ERROR(tracking::DecodeChunk(tail.ColumnBlob(1), &points));
      bytes_delta -= tail.ColumnInt(2);
      seq = key.chunks - 1;
    }
  }
  const size_t kept = points.size();
  points.Reserve(kept + n);
  points.steps.insert(points.steps.end(), series.steps().begin(), series.steps().end());
  points.values.insert(points.values.end(), series.values().begin(), series.values().end());
  if (series.times_unix_micros_size() == 0) {
    points.times.resize(points.steps.size(), now_us);
  } else {
    points.times.insert(points.times.end(), series.times_unix_micros().begin(),
                        series.times_unix_micros().end());
  }
  // Summary of the key.
  const bool was_empty = key.count == 0;
  if (key.sorted) {
    key.sorted = (was_empty || points.steps[kept] >= key.last_step) &&
                 tracking::StepsSorted(points, kept, points.size());
  }
  for (size_t i = kept; i < points.size(); ++i) {
    const int64_t s = points.steps[i], t = points.times[i];
    const double v = points.values[i];
    if ((was_empty && i == kept) || s > key.latest_step ||
        (s == key.latest_step && t >= key.latest_time)) {
      key.latest_step = s;
      key.latest_time = t;
      key.latest_value = v;
    }
    if (!std::isnan(v)) {
      if (std::isnan(key.min_value) || v < key.min_value) key.min_value = v;
      if (std::isnan(key.max_value) || v > key.max_value) key.max_value = v;
    }
  }
  key.count += static_cast<int64_t>(n);
  key.last_step = points.steps.back();
  MLC_ASSIGN_OR_RETURN(auto put, db_->Prepare("INSERT OR REPLACE INTO metric_chunks(key_id, seq, "
                                              "n, first_step, last_step, summary, data) VALUES "
                                              "(?,?,?,?,?,?,?)"));
  for (size_t begin = 0; begin < points.size(); begin += tracking::kChunkPoints) {
    const size_t end = std::min(points.size(), begin + tracking::kChunkPoints);
    const auto [lo, hi] =
        std::minmax_element(points.steps.begin() + begin, points.steps.begin() + end);
    const std::string data = tracking::EncodeChunk(points, begin, end);
    const std::string summary = tracking::Summarize(points, begin, end).Encode();
    put.Bind(1, key.id).Bind(2, seq).Bind(3, static_cast<int64_t>(end - begin));
    put.Bind(4, *lo).Bind(5, *hi).BindBlob(6, summary).BindBlob(7, data);
    MLC_RETURN_IF_ERROR(put.Run());
    put.Reset();
    bytes_delta += static_cast<int64_t>(data.size() + summary.size());
    ++seq;
  }
  MLC_ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE metric_keys SET count = ?, latest_step = "
                                                 "?, latest_time = ?, latest_value = ?, min_value "
                                                 "= ?, max_value = ?, sorted = ?, last_step = ?, "
                                                 "chunks = ? WHERE id = ?"));
  update.Bind(1, key.count).Bind(2, key.latest_step).Bind(3, key.latest_time);
  update.Bind(4, key.latest_value);
  if (std::isnan(key.min_value)) {
    update.BindNull(5).BindNull(6);
  } else {
    update.Bind(5, key.min_value).Bind(6, key.max_value);
  }
  update.Bind(7, static_cast<int64_t>(key.sorted ? 1 : 0)).Bind(8, key.last_step);
  update.Bind(9, seq).Bind(10, key.id);
  MLC_RETURN_IF_ERROR(update.Run());
  return bytes_delta;
}

Result<v1::LogBatchResponse> TrackingStore::LogBatch(const v1::MetricBatch& batch) {
  const int64_t now = NowMicros();
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  MLC_ASSIGN_OR_RETURN(v1::Run run, LoadRunLocked(batch.run_id(), false));
  v1::LogBatchResponse response;
  MLC_ASSIGN_OR_RETURN(auto seen, db_->Prepare("INSERT OR IGNORE INTO batches(run_id, batch_id) "
                                               "VALUES (?, ?)"));
  seen.Bind(1, batch.run_id()).Bind(2, batch.batch_id());
  MLC_RETURN_IF_ERROR(seen.Run());
  if (db_->Changes() == 0) {
    response.set_duplicate(true);
    return response;  // applied before; the transaction rolls back (nothing changed)
  }
  if (IsFinalRunStatus(run.status())) {
    return FailedPreconditionError("run " + run.id() + " (" + run.name() + ") already ended " +
                                   v1::RunStatus_Name(run.status()) +
                                   "; an ended run takes no more data (start a new run)");
  }
  // Params are immutable: a conflicting re-set rejects the whole batch.
  MLC_ASSIGN_OR_RETURN(auto param,
                       db_->Prepare("SELECT value FROM run_params WHERE run_id = ? AND key = ?"));
  MLC_ASSIGN_OR_RETURN(auto put_param, db_->Prepare("INSERT INTO run_params(run_id, key, value) "
                                                    "VALUES (?, ?, ?)"));
  for (const auto& [k, v] : batch.params()) {
    param.Bind(1, run.id()).Bind(2, k);
    MLC_ASSIGN_OR_RETURN(bool exists, param.Step());
    if (exists) {
      if (param.ColumnText(0) != v) {
        return FailedPreconditionError("param \"" + k + "\" of run " + run.id() + " is already \"" +
                                       param.ColumnText(0) + "\"; cannot set it to \"" + v +
                                       "\" (params are immutable: start a new run, or use a tag "
                                       "for values that change)");
      }
    } else {
      put_param.Bind(1, run.id()).Bind(2, k).Bind(3, v);
      MLC_RETURN_IF_ERROR(put_param.Run());
      put_param.Reset();
    }
    param.Reset();
  }
  MLC_ASSIGN_OR_RETURN(auto put_tag, db_->Prepare("INSERT OR REPLACE INTO run_tags(run_id, key, "
                                                  "value) VALUES (?, ?, ?)"));
  for (const auto& [k, v] : batch.tags()) {
    put_tag.Bind(1, run.id()).Bind(2, k).Bind(3, v);
    MLC_RETURN_IF_ERROR(put_tag.Run());
    put_tag.Reset();
  }
  int64_t points = 0;
  for (const auto& s : batch.metrics()) points += s.steps_size();
  if (points > 0) {
    MLC_RETURN_IF_ERROR(ChargeIngestLocked(run.project(), points, now));
    int64_t bytes = 0;
    for (const auto& s : batch.metrics()) {
      MLC_ASSIGN_OR_RETURN(int64_t delta, AppendSeriesLocked(run.id(), s, now));
      bytes += delta;
    }
    MLC_ASSIGN_OR_RETURN(auto usage,
                         db_->Prepare("INSERT INTO usage(project, stored_bytes) VALUES (?1, ?2) "
                                      "ON CONFLICT(project) DO UPDATE SET stored_bytes = "
                                      "stored_bytes + ?2"));
    usage.Bind(1, run.project()).Bind(2, bytes);
    MLC_RETURN_IF_ERROR(usage.Run());
  }
  MLC_RETURN_IF_ERROR(txn.Commit());
  response.set_points_written(points);
  return response;
}

Result<v1::GetMetricHistoryResponse> TrackingStore::GetMetricHistory(
    const v1::GetMetricHistoryRequest& request) {
  const int64_t min_step = request.has_min_step() ? request.min_step() : INT64_MIN;
  const int64_t max_step = request.has_max_step() ? request.max_step() : INT64_MAX;
  auto method = request.downsampling().method();
  if (method == v1::DOWNSAMPLING_METHOD_UNSPECIFIED) method = v1::DOWNSAMPLING_METHOD_NONE;
  const size_t max_points = request.downsampling().max_points() == 0
                                ? 1000
                                : static_cast<size_t>(request.downsampling().max_points());
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(v1::Run run, LoadRunLocked(request.run_id(), true));
  int64_t key_id = 0;
  bool sorted = true;
  int64_t chunks = 0;
  {
    MLC_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT id, sorted, chunks FROM metric_keys "
                                                   "WHERE run_id = ? AND key = ?"));
    select.Bind(1, run.id()).Bind(2, request.key());
    MLC_ASSIGN_OR_RETURN(bool found, select.Step());
    if (!found) {
      std::string known;
      for (const auto& m : run.metrics()) {
        if (known.size() > 200) {
          known += ", ...";
          break;
        }
        known += (known.empty() ? "" : ", ") + m.key();
      }
      return NotFoundError(
          "run " + run.id() + " has no metric \"" + request.key() + "\"" +
          (known.empty() ? " (it has logged no metrics)" : " (it has: " + known + ")"));
    }
    key_id = select.ColumnInt(0);
    sorted = select.ColumnInt(1) != 0;
    chunks = select.ColumnInt(2);
  }
  v1::GetMetricHistoryResponse response;
  v1::MetricSeries* out = response.mutable_series();
  out->set_key(request.key());
  auto emit = [&](const Columns& c, size_t begin, size_t end) {
    out->mutable_steps()->Add(c.steps.begin() + begin, c.steps.begin() + end);
    out->mutable_values()->Add(c.values.begin() + begin, c.values.begin() + end);
    out->mutable_times_unix_micros()->Add(c.times.begin() + begin, c.times.begin() + end);
  };
  // Downsampling a long sorted series reads chunk summaries, decoding only boundary chunks.
  const bool from_summaries = method != v1::DOWNSAMPLING_METHOD_NONE && sorted &&
                              static_cast<size_t>(chunks) * 4 >= 2 * max_points;
  MLC_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare(
          from_summaries
              ? "SELECT n, first_step, last_step, summary, NULL, seq FROM metric_chunks "
                "WHERE key_id = ? AND last_step >= ? AND first_step <= ? ORDER BY seq"
              : "SELECT n, first_step, last_step, NULL, data, seq FROM metric_chunks WHERE "
                "key_id = ? AND last_step >= ? AND first_step <= ? ORDER BY seq"));
  select.Bind(1, key_id).Bind(2, min_step).Bind(3, max_step);
  Columns points;
  std::vector<tracking::ChunkSummary> summaries;
  int64_t total = 0;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    const bool inside = select.ColumnInt(1) >= min_step && select.ColumnInt(2) <= max_step;
    if (from_summaries && inside) {
      MLC_ASSIGN_OR_RETURN(auto s, tracking::ChunkSummary::Decode(select.ColumnBlob(3)));
      summaries.push_back(s);
      total += select.ColumnInt(0);
      continue;
    }
    Columns chunk;
    if (from_summaries) {
      // A boundary chunk: decode it and keep the points inside the range.
      MLC_ASSIGN_OR_RETURN(auto data, db_->Prepare("SELECT data FROM metric_chunks WHERE key_id = "
                                                   "? AND seq = ?"));
      data.Bind(1, key_id).Bind(2, select.ColumnInt(5));
      MLC_RETURN_IF_ERROR(data.Step().status());
      MLC_RETURN_IF_ERROR(tracking::DecodeChunk(data.ColumnBlob(0), &chunk));
    } else {
      MLC_RETURN_IF_ERROR(tracking::DecodeChunk(select.ColumnBlob(4), &points));
      continue;
    }
    Columns kept;
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (chunk.steps[i] >= min_step && chunk.steps[i] <= max_step) {
        kept.Push(chunk.steps[i], chunk.times[i], chunk.values[i]);
      }
    }
    if (kept.size() > 0) {
      summaries.push_back(tracking::Summarize(kept, 0, kept.size()));
      total += static_cast<int64_t>(kept.size());
    }
  }
  if (from_summaries) {
    const Columns envelope = tracking::SummaryPoints(summaries);
    const Columns thin = method == v1::DOWNSAMPLING_METHOD_LTTB
                             ? tracking::Lttb(envelope, max_points)
                             : tracking::MinMax(envelope, max_points);
    emit(thin, 0, thin.size());
    response.set_total_points(total);
    return response;
  }
  // Every point of the range, ordered by step then time.
  if (!sorted) {
    std::vector<size_t> order(points.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return points.steps[a] != points.steps[b] ? points.steps[a] < points.steps[b]
                                                : points.times[a] < points.times[b];
    });
    Columns ordered;
    ordered.Reserve(points.size());
    for (size_t i : order) ordered.Push(points.steps[i], points.times[i], points.values[i]);
    points = std::move(ordered);
  }
  size_t begin = 0, end = points.size();
  if (request.has_min_step()) {
    begin =
        static_cast<size_t>(std::lower_bound(points.steps.begin(), points.steps.end(), min_step) -
                            points.steps.begin());
  }
  if (request.has_max_step()) {
    end = static_cast<size_t>(std::upper_bound(points.steps.begin(), points.steps.end(), max_step) -
                              points.steps.begin());
  }
  end = std::max(begin, end);
  response.set_total_points(static_cast<int64_t>(end - begin));
  if (method != v1::DOWNSAMPLING_METHOD_NONE) {
    Columns range;
    range.Append(points, begin, end);
    const Columns thin = method == v1::DOWNSAMPLING_METHOD_LTTB
                             ? tracking::Lttb(range, max_points)
                             : tracking::MinMax(range, max_points);
    emit(thin, 0, thin.size());
    return response;
  }
  MLC_ASSIGN_OR_RETURN(std::string token, DecodePageToken(request.page_token(), "points"));
  const size_t offset = token.empty() ? 0 : std::stoull(token);
  const size_t page = request.page_size() == 0 ? 1000000 : static_cast<size_t>(request.page_size());
  const size_t from = std::min(end, begin + offset);
  const size_t to = std::min(end, from + page);
  emit(points, from, to);
  if (to < end) {
    response.set_next_page_token(EncodePageToken(std::to_string(offset + (to - from)), "points"));
  }
  return response;
}

}  // namespace mlcore::local
