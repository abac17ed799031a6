// The local backend's tracking store: experiments, runs, params, tags and metric series in their
// own SQLite file (tracking.db next to mlcore.db), so metric ingest never contends with the job
// queue's transactions.
//
// Metric points are not rows: each (run, key) is a sequence of chunks of up to kChunkPoints
// points (series_codec.h) with a summary per chunk; a batch appends to the key's last chunk until
// it is full. Summaries per key (latest, min, max, count) are kept up to date, so run listings and
// filters never read points. Batches are applied in one transaction each, exactly once per
// (run, batch_id).
//
// Thread safety: all methods may be called concurrently (one connection, serialized); several
// processes may share one file (WAL, busy timeout).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "local/sqlite_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore::local {

// The tracking store's schema, as ordered migrations.
const std::vector<sqlite::Migration>& TrackingMigrations();

class TrackingStore {
 public:
  // Opens (creating when missing) the store at `path`.
  static Result<std::unique_ptr<TrackingStore>> Open(const std::string& path);

  // Callers (LocalBackend) have checked that the project exists.
  Result<v1::Experiment> CreateExperiment(const v1::Experiment& experiment);
  Result<v1::Experiment> GetExperiment(const v1::GetExperimentRequest& request);
  Result<v1::ListExperimentsResponse> ListExperiments(const v1::ListExperimentsRequest& request);
  // The id of the project's experiment `name`, created when missing.
  Result<std::string> EnsureExperiment(const std::string& project, const std::string& name,
                                       const std::string& user);

  // `request.run` carries project, user and (optionally) experiment_id, already resolved.
  Result<v1::Run> CreateRun(const v1::CreateRunRequest& request);
  Result<v1::Run> GetRun(const std::string& id, bool with_metrics = true);
  Result<v1::Run> UpdateRun(const v1::UpdateRunRequest& request);
  Status DeleteRun(const std::string& id);
  Result<v1::Run> SetRunTags(const v1::SetRunTagsRequest& request);
  Result<v1::SearchRunsResponse> SearchRuns(const v1::SearchRunsRequest& request);
  // Ids of the project's runs named `name` (at most `limit`).
  Result<std::vector<std::string>> FindRunsByName(const std::string& project,
                                                  const std::string& name, int limit);

  // Removes the experiments, policy and usage of a project that was deleted (it has no runs).
  Status ForgetProject(const std::string& project);
  // Number of runs the project holds.
  Result<int64_t> CountRuns(const std::string& project);
  // (run id, job id) of the project's job runs that have not ended.
  Result<std::vector<std::pair<std::string, std::string>>> ActiveJobRuns(
      const std::string& project);

  Result<v1::LogBatchResponse> LogBatch(const v1::MetricBatch& batch);
  Result<v1::GetMetricHistoryResponse> GetMetricHistory(const v1::GetMetricHistoryRequest& request);

  Result<v1::TrackingPolicy> GetPolicy(const std::string& project);
  Result<v1::TrackingPolicy> UpdatePolicy(const v1::TrackingPolicy& policy);
  Result<v1::ApplyRetentionResponse> ApplyRetention(const v1::ApplyRetentionRequest& request);

  const std::string& path() const { return db_->path(); }

 private:
  explicit TrackingStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}
  Result<v1::Run> LoadRunLocked(const std::string& id, bool with_metrics);
  Result<v1::Experiment> LoadExperimentLocked(const std::string& where, const std::string& a,
                                              const std::string& b);
  // Rate and size limits of `project` for a batch of `points`; RESOURCE_EXHAUSTED when over.
  Status ChargeIngestLocked(const std::string& project, int64_t points, int64_t now_us);
  // Appends one key's points to its chunks; returns the change in stored bytes.
  Result<int64_t> AppendSeriesLocked(const std::string& run_id, const v1::MetricSeries& series,
                                     int64_t now_us);

  std::mutex mu_;
  std::unique_ptr<sqlite::Db> db_;
};

}  // namespace mlcore::local
