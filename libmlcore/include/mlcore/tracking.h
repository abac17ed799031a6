// Logging to a tracking run without slowing the training loop.
//
//   MLC_ASSIGN_OR_RETURN(auto client, mlcore::Client::Open());
//   v1::CreateRunRequest create;
//   create.mutable_run()->set_name("baseline");
//   MLC_ASSIGN_OR_RETURN(v1::Run run, client->CreateRun(create));
//   MLC_ASSIGN_OR_RETURN(auto logger, mlcore::RunLogger::Attach(*client, run.id()));
//   for (int step = 0; step < n; ++step) logger->LogMetric("loss", loss, step);  // ~20 ns
//   MLC_RETURN_IF_ERROR(logger->Close());  // durable, run FINISHED
//
// A log call appends to a bounded in-memory buffer and returns; a background thread writes the
// buffer as one batch every `flush_interval` (or sooner when it fills half way). Flush() and
// Close() return once everything logged before them is durable. A crash loses at most the last
// interval; the store is never left half-written (each batch is one transaction, applied exactly
// once by its batch id).
//
// When the backend refuses a batch for a reason time can cure (unreachable, over the project's
// points/s rate: RESOURCE_EXHAUSTED with a retry delay), the flusher backs off and retries the
// same batch. When it cannot (over the stored-bytes limit, run ended elsewhere), the batch goes to
// the offline spool instead of being lost, and Flush() reports it; `mlc sync` replays it later.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore {

class Client;

// What a log call does when the buffer is full.
enum class Backpressure {
  kBlock,  // wait for the flusher to make room (nothing is lost; the loop slows down)
  kDrop,   // drop the point and count it (RunLogger::stats().dropped)
};

struct RunLoggerOptions {
  // Longest time a logged point stays only in memory (what a crash can lose).
  std::chrono::milliseconds flush_interval{1000};
  // Points buffered in memory at most (24 bytes each).
  size_t max_buffered_points = size_t{1} << 22;
  Backpressure backpressure = Backpressure::kBlock;
  // Sample CPU, memory, disk and network of a process tree (and GPUs via nvidia-smi) into
  // "system/..." metrics.
  bool system_metrics = false;
  std::chrono::milliseconds system_metrics_interval{10000};
  int system_metrics_pid = 0;  // root of the sampled tree; 0 = this process
  // Where batches that cannot reach the backend are kept; empty = DefaultSpoolDir().
  std::string spool_dir;
  // Write everything to the spool only (no backend calls); `mlc sync` uploads it.
  bool offline = false;
};

struct RunLoggerStats {
  uint64_t points_logged = 0;    // accepted by log calls
  uint64_t points_written = 0;   // acknowledged durable by the backend
  uint64_t points_dropped = 0;   // dropped by Backpressure::kDrop
  uint64_t points_spooled = 0;   // kept in the offline spool
  uint64_t batches_written = 0;  // batches acknowledged
  uint64_t retries = 0;          // batch sends retried after a transient error
};

// True for the terminal run statuses: FINISHED, FAILED, KILLED.
inline bool IsFinalRunStatus(v1::RunStatus status) {
  return status == v1::RUN_STATUS_FINISHED || status == v1::RUN_STATUS_FAILED ||
         status == v1::RUN_STATUS_KILLED;
}

// A step argument meaning "one more than the last step this logger logged for the key" (0 first).
inline constexpr int64_t kAutoStep = INT64_MIN;

class RunLogger {
 public:
  // Starts logging to the existing run `run_id` of `client`'s backend. `client` must outlive the
  // logger. Errors: NOT_FOUND (run), FAILED_PRECONDITION (run ended).
  static Result<std::unique_ptr<RunLogger>> Attach(Client& client, const std::string& run_id,
                                                   RunLoggerOptions options = {});
  // Creates a run without contacting any backend: it lives in the spool of `options.spool_dir`
  // under a placeholder id ("offline-<uuid>") until `mlc sync` creates it on `backend_uri`
  // (exactly once, by the request's request_id) and uploads what was logged.
  static Result<std::unique_ptr<RunLogger>> StartOffline(std::string backend_uri,
                                                         v1::CreateRunRequest create,
                                                         RunLoggerOptions options = {});
  ~RunLogger();  // Close(RUN_STATUS_UNSPECIFIED): flushes, leaves the run's status alone
  RunLogger(const RunLogger&) = delete;
  RunLogger& operator=(const RunLogger&) = delete;

  const std::string& run_id() const;

  // Buffers one point; time_us 0 = now; step kAutoStep = the key's next step. Errors:
  // INVALID_ARGUMENT (bad key; checked the first time a key is seen), FAILED_PRECONDITION (closed).
  // With kBlock, waits while the buffer is full.
  Status LogMetric(std::string_view key, double value, int64_t step = 0, int64_t time_us = 0);
  // As LogMetric, but returns false instead of waiting when the buffer is full under kBlock (the
  // Python binding waits with the GIL released).
  Result<bool> TryLogMetric(std::string_view key, double value, int64_t step, int64_t time_us);
  // Buffers `n` points of one key; `times_us` null = now for all.
  Status LogSeries(std::string_view key, const int64_t* steps, const double* values, size_t n,
                   const int64_t* times_us = nullptr);
  // Waits until the buffer has room (kBlock), or the logger is closed.
  void WaitForSpace();

  // Sets params now (synchronously, so a conflicting re-set is reported here, naming both
  // values). Errors: FAILED_PRECONDITION (conflict), INVALID_ARGUMENT (bad key).
  Status LogParams(const std::map<std::string, std::string>& params);
  // Sets tags now.
  Status SetTags(const std::map<std::string, std::string>& tags);

  // Returns once every point logged before the call is durable, or kept in the spool (then the
  // status says why and how to upload it). Errors: the first unrecovered batch error.
  Status Flush();
  // Flushes, stops the background threads and, unless `status` is UNSPECIFIED, ends the run with
  // it. When batches went to the spool during the run, tries once more to upload them (a backend
  // that was down may be back; a limit may have been raised); what still fails stays in the
  // spool and is reported. Idempotent.
  Status Close(v1::RunStatus status = v1::RUN_STATUS_FINISHED);

  RunLoggerStats stats() const;

  class Impl;

 private:
  explicit RunLogger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The default spool directory: $MLC_SPOOL_DIR, else $XDG_DATA_HOME/mlcore/spool (or
// ~/.local/share/mlcore/spool).
std::string DefaultSpoolDir();

struct SyncReport {
  int files = 0;             // spool files read
  int runs_created = 0;      // offline runs created on their backend (or found, on a retry)
  int64_t batches_sent = 0;  // batches acknowledged now
  int64_t duplicates = 0;    // batches the backend had already applied
  int64_t points = 0;        // points written now
  int files_left = 0;        // spool files kept because something failed (see errors)
  std::vector<std::string> errors;
};

// Uploads every spool file of `spool_dir` whose backend is `client`'s, exactly once, removing
// each file once all its records are acknowledged. Files of other backends are left alone. A
// failing file is kept (a later sync resumes it: replayed records are recognised by their ids)
// and named in the report.
Result<SyncReport> SyncSpool(Client& client, const std::string& spool_dir);

// SyncSpool for one spool file (RunLogger::Close uses it to upload what it spooled, once the
// backend takes it again).
Result<SyncReport> SyncSpoolFile(Client& client, const std::string& path);

}  // namespace mlcore
