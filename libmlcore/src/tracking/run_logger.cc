// RunLogger: the buffered, asynchronous metric logger (see mlcore/tracking.h).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/validation.h"
#include "mlcore/client.h"
#include "mlcore/tracking.h"
#include "tracking/retry_after.h"
#include "tracking/series_codec.h"
#include "tracking/spool.h"
#include "tracking/sys_metrics.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore {
namespace {

int64_t NowUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Points per LogBatch at most (one transaction each; keeps messages of remote backends bounded).
constexpr size_t kMaxBatchPoints = size_t{1} << 20;

// The delay a RESOURCE_EXHAUSTED message asks for, capped at a second: the limit may be raised
// meanwhile, and the backend says again.
std::optional<double> CappedRetryAfter(const std::string& message) {
  auto seconds = tracking::ParseRetryAfter(message);
  if (seconds) *seconds = std::clamp(*seconds, 0.01, 1.0);
  return seconds;
}

bool Transient(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kDeadlineExceeded ||
         code == StatusCode::kAborted;
}

}  // namespace

std::string DefaultSpoolDir() {
  std::string dir = util::GetEnv("MLC_SPOOL_DIR");
  if (!dir.empty()) return dir;
  std::string data = util::GetEnv("XDG_DATA_HOME");
  if (data.empty()) data = util::HomeDir() + "/.local/share";
  return data + "/mlcore/spool";
}

class RunLogger::Impl {
 public:
  Impl(Client* client, std::string run_id, std::string backend, RunLoggerOptions options)
      : client_(client),
        run_id_(std::move(run_id)),
        backend_(std::move(backend)),
        options_(std::move(options)),
        batch_prefix_(util::RandomUuid()) {
    if (options_.spool_dir.empty()) options_.spool_dir = DefaultSpoolDir();
    if (options_.max_buffered_points < 2) options_.max_buffered_points = 2;
  }

  void Start() {
    flusher_ = std::thread([this] { FlushLoop(); });
    if (options_.system_metrics) sampler_ = std::thread([this] { SampleLoop(); });
  }

  const std::string& run_id() const { return run_id_; }

  Result<bool> TryLog(std::string_view key, double value, int64_t step, int64_t time_us) {
    if (time_us == 0) time_us = NowUs();
    std::lock_guard lock(mu_);
    if (closing_) return FailedPreconditionError("run logger of run " + run_id_ + " is closed");
    if (buffered_ >= options_.max_buffered_points) {
      if (options_.backpressure == Backpressure::kDrop) {
        ++stats_.points_dropped;
        return true;
      }
      return false;
    }
    MLC_ASSIGN_OR_RETURN(size_t k, KeyIndexLocked(key));
    KeyBuffer& b = keys_[k];
    if (step == kAutoStep) step = b.next_step;
    b.next_step = step + 1;
    b.columns.Push(step, time_us, value);
    ++stats_.points_logged;
    if (++buffered_ == options_.max_buffered_points / 2) wake_flusher_.notify_one();
    return true;
  }

  Status LogSeries(std::string_view key, const int64_t* steps, const double* values, size_t n,
                   const int64_t* times) {
    const int64_t now = times == nullptr ? NowUs() : 0;
    size_t done = 0;
    while (done < n) {
      std::unique_lock lock(mu_);
      if (closing_) return FailedPreconditionError("run logger of run " + run_id_ + " is closed");
      MLC_ASSIGN_OR_RETURN(size_t k, KeyIndexLocked(key));
      size_t room =
          options_.max_buffered_points - std::min(buffered_, options_.max_buffered_points);
      if (room == 0) {
        if (options_.backpressure == Backpressure::kDrop) {
          stats_.points_dropped += n - done;
          return Status::Ok();
        }
        wake_flusher_.notify_one();
        space_.wait(lock, [&] { return closing_ || buffered_ < options_.max_buffered_points; });
        continue;
      }
      const size_t take = std::min(room, n - done);
      tracking::Columns& c = keys_[k].columns;
      c.steps.insert(c.steps.end(), steps + done, steps + done + take);
      c.values.insert(c.values.end(), values + done, values + done + take);
      if (times != nullptr) {
        c.times.insert(c.times.end(), times + done, times + done + take);
      } else {
        c.times.resize(c.times.size() + take, now);
      }
      keys_[k].next_step = steps[done + take - 1] + 1;
      const size_t before = buffered_;
      buffered_ += take;
      stats_.points_logged += take;
      done += take;
      if (before < options_.max_buffered_points / 2 &&
          buffered_ >= options_.max_buffered_points / 2) {
        wake_flusher_.notify_one();
      }
    }
    return Status::Ok();
  }

  void WaitForSpace() {
    std::unique_lock lock(mu_);
    wake_flusher_.notify_one();
    space_.wait(lock, [&] { return closing_ || buffered_ < options_.max_buffered_points; });
  }

  Status SendNow(v1::MetricBatch batch) {
    batch.set_run_id(run_id_);
    batch.set_batch_id(NextBatchId());
    // Params and tags are reported to the caller at once (a conflicting param is an error to
    // see, not to keep); only an unreachable backend sends them to the spool.
    return Deliver(batch, 0, /*spool_refusals=*/false);
  }

  Status Flush() {
    std::unique_lock lock(mu_);
    const uint64_t target = stats_.points_logged;
    flush_wanted_ = true;
    wake_flusher_.notify_one();
    flushed_.wait(lock, [&] { return handled_ >= target || flusher_done_; });
    Status error = std::move(error_);
    error_ = Status::Ok();
    return error;
  }

  Status Close(v1::RunStatus status) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return Status::Ok();
      closed_ = true;
    }
    Status flushed = Flush();
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    wake_flusher_.notify_all();
    space_.notify_all();
    stop_sampling_.notify_all();  // else the sampler sleeps out its interval (10 s by default)
    if (flusher_.joinable()) flusher_.join();
    if (sampler_.joinable()) sampler_.join();
    {
      std::lock_guard lock(mu_);
      if (flushed.ok() && !error_.ok()) flushed = std::move(error_);
    }
    if (Status retried = UploadSpooled(); retried.ok()) {
      flushed = Status::Ok();  // everything spooled has reached the backend after all
    }
    if (status == v1::RUN_STATUS_UNSPECIFIED) return flushed;
    v1::UpdateRunRequest update;
    update.set_id(run_id_);
    update.set_status(status);
    if (client_ == nullptr) {
      v1::SpoolRecord record;
      *record.mutable_update_run() = update;
      Status s = Spool(record);
      return flushed.ok() ? s : flushed;
    }
    auto ended = client_->UpdateRun(update);
    if (!ended.ok() && Transient(ended.status().code())) {
      v1::SpoolRecord record;
      *record.mutable_update_run() = update;
      MLC_RETURN_IF_ERROR(Spool(record));
    } else if (!ended.ok() && flushed.ok()) {
      return ended.status();
    }
    return flushed;
  }

  RunLoggerStats stats() {
    std::lock_guard lock(mu_);
    return stats_;
  }

  Status Spool(const v1::SpoolRecord& record_in) {
    std::lock_guard lock(spool_mu_);
    if (!spool_) {
      MLC_ASSIGN_OR_RETURN(spool_, tracking::SpoolWriter::Open(options_.spool_dir, run_id_));
    }
    v1::SpoolRecord record = record_in;
    record.set_backend(backend_);
    return spool_->Append(record);
  }

  // Uploads this logger's spool file, if it wrote one (online loggers only). OK when there was
  // one and it is gone now; NOT_FOUND when there was none.
  Status UploadSpooled() {
    std::string path;
    {
      std::lock_guard lock(spool_mu_);
      if (client_ == nullptr || !spool_) return NotFoundError("nothing spooled");
      path = spool_->path();
      spool_.reset();
    }
    MLC_ASSIGN_OR_RETURN(SyncReport report, SyncSpoolFile(*client_, path));
    if (report.files_left > 0) return UnavailableError(report.errors.front());
    std::lock_guard lock(mu_);
    stats_.points_written += static_cast<uint64_t>(report.points);
    stats_.points_spooled -= std::min(stats_.points_spooled, static_cast<uint64_t>(report.points));
    return Status::Ok();
  }

  std::string NextBatchId() { return batch_prefix_ + "-" + std::to_string(++batch_seq_); }

 private:
  struct KeyBuffer {
    std::string key;
    tracking::Columns columns;
    int64_t next_step = 0;  // for kAutoStep
  };

  Result<size_t> KeyIndexLocked(std::string_view key) {
    if (last_key_ < keys_.size() && keys_[last_key_].key == key) return last_key_;
    auto it = index_.find(key);
    if (it != index_.end()) return last_key_ = it->second;
    MLC_RETURN_IF_ERROR(ValidateMetricKey(key));
    keys_.push_back({std::string(key), {}, 0});
    index_.emplace(std::string(key), keys_.size() - 1);
    return last_key_ = keys_.size() - 1;
  }

  // Sends `batch` until it is acknowledged, retrying what time can cure; otherwise spools it.
  // Returns the error to report (OK when written, or spooled for a transient reason).
  Status Deliver(const v1::MetricBatch& batch, size_t points, bool spool_refusals = true) {
    std::vector<v1::MetricBatch> batches;
    batches.push_back(batch);
    return DeliverAll(std::move(batches), {points}, spool_refusals);
  }

  // Sends `batches` together (pipelined where the backend can: one stream for grpc://) until each
  // is acknowledged, resending what time can cure (transient errors, rate limits); the others go
  // to the spool (refusals too, unless `spool_refusals` is false). points[i] = points of
  // batches[i]. Returns the first error to report.
  Status DeliverAll(std::vector<v1::MetricBatch> batches, const std::vector<size_t>& points,
                    bool spool_refusals = true) {
    Status first;
    if (client_ == nullptr) {
      for (size_t i = 0; i < batches.size(); ++i) {
        v1::SpoolRecord record;
        *record.mutable_batch() = std::move(batches[i]);
        Status s = Spool(record);
        std::lock_guard lock(mu_);
        if (s.ok()) stats_.points_spooled += points[i];
        if (!s.ok() && first.ok()) first = std::move(s);
      }
      return first;
    }
    std::vector<size_t> pending(batches.size());  // indexes of batches not yet acknowledged
    for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
    std::vector<v1::MetricBatch> sending = std::move(batches);
    int transient_failures = 0;
    double backoff = 0.1;
    while (!sending.empty()) {
      std::vector<Result<v1::LogBatchResponse>> answers = client_->LogBatches(sending);
      std::vector<size_t> again;
      std::vector<v1::MetricBatch> resend;
      std::vector<Status> resend_errors;
      std::optional<double> delay;
      bool transient = false;
      std::vector<std::pair<size_t, Status>> refused;  // (index into sending, why)
      {
        std::lock_guard lock(mu_);
        for (size_t j = 0; j < sending.size(); ++j) {
          if (answers[j].ok()) {
            stats_.points_written += points[pending[j]];
            ++stats_.batches_written;
            continue;
          }
          const Status& error = answers[j].status();
          std::optional<double> wait;
          if (error.code() == StatusCode::kResourceExhausted)
            wait = CappedRetryAfter(error.message());
          if (!wait && Transient(error.code())) {
            transient = true;
            wait = backoff;
          }
          if (wait) {
            delay = std::max(delay.value_or(0.0), *wait);
            again.push_back(pending[j]);
            resend.push_back(std::move(sending[j]));
            resend_errors.push_back(error);
          } else {
            refused.emplace_back(j, error);
          }
        }
      }
      for (auto& [j, error] : refused) {
        Status s = SpoolOrReport(sending[j], points[pending[j]], error, spool_refusals);
        if (!s.ok() && first.ok()) first = std::move(s);
      }
      if (resend.empty()) break;
      if (transient && ++transient_failures > 5) {
        // The backend stays unreachable: keep what was not acknowledged in the spool.
        for (size_t j = 0; j < resend.size(); ++j) {
          Status s = SpoolOrReport(resend[j], points[again[j]], resend_errors[j], true);
          if (!s.ok() && first.ok()) first = std::move(s);
        }
        break;
      }
      {
        std::lock_guard lock(mu_);
        stats_.retries += resend.size();
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(*delay));
      if (transient) backoff = std::min(backoff * 2, 2.0);
      sending = std::move(resend);
      pending = std::move(again);
    }
    return first;
  }

  // A batch that cannot be written now: kept in the spool rather than lost (a refusal only when
  // `spool_refusals`; otherwise `error` is returned as it is).
  Status SpoolOrReport(const v1::MetricBatch& batch, size_t points, const Status& error,
                       bool spool_refusals) {
    if (!spool_refusals && !Transient(error.code())) return error;
    v1::SpoolRecord record;
    *record.mutable_batch() = batch;
    Status spooled = Spool(record);
    std::lock_guard lock(mu_);
    if (!spooled.ok()) {
      return error.WithContext(std::to_string(points) + " points of run " + run_id_ +
                               " were lost (the spool failed too: " + spooled.message() + ")");
    }
    stats_.points_spooled += points;
    return Status(error.code(), std::to_string(points) + " points of run " + run_id_ +
                                    " could not be written (" + error.message() +
                                    "); they are kept in " + spool_->path() +
                                    ": upload them with `mlc sync` once that is fixed");
  }

  // Takes what is buffered (swapping columns out under the lock) and sends it in batches.
  void FlushLoop() {
    std::unique_lock lock(mu_);
    while (true) {
      wake_flusher_.wait_for(lock, options_.flush_interval, [&] {
        return closing_ || flush_wanted_ || buffered_ >= options_.max_buffered_points / 2;
      });
      flush_wanted_ = false;
      std::vector<KeyBuffer> taken;
      uint64_t count = buffered_;
      for (auto& k : keys_) {
        if (k.columns.size() == 0) continue;
        taken.push_back({k.key, std::move(k.columns), 0});
        k.columns = tracking::Columns();
      }
      buffered_ = 0;
      space_.notify_all();
      const bool stop = closing_;
      lock.unlock();
      Status error = SendTaken(taken);
      lock.lock();
      if (!error.ok() && error_.ok()) error_ = std::move(error);
      handled_ += count;
      flushed_.notify_all();
      if (stop && buffered_ == 0) break;
    }
    flusher_done_ = true;
    flushed_.notify_all();
  }

  // Cuts what was taken into batches and sends them together (DeliverAll).
  Status SendTaken(std::vector<KeyBuffer>& taken) {
    std::vector<v1::MetricBatch> batches;
    std::vector<size_t> counts;
    v1::MetricBatch batch;
    size_t points = 0;
    auto send = [&] {
      if (points == 0) return;
      batch.set_run_id(run_id_);
      batch.set_batch_id(NextBatchId());
      batches.push_back(std::move(batch));
      counts.push_back(points);
      batch = v1::MetricBatch();
      points = 0;
    };
    for (KeyBuffer& k : taken) {
      size_t at = 0;
      const tracking::Columns& c = k.columns;
      while (at < c.size()) {
        const size_t take = std::min(c.size() - at, kMaxBatchPoints - points);
        v1::MetricSeries* s = batch.add_metrics();
        s->set_key(k.key);
        s->mutable_steps()->Add(c.steps.begin() + at, c.steps.begin() + at + take);
        s->mutable_values()->Add(c.values.begin() + at, c.values.begin() + at + take);
        s->mutable_times_unix_micros()->Add(c.times.begin() + at, c.times.begin() + at + take);
        at += take;
        points += take;
        if (points >= kMaxBatchPoints) send();
      }
      k.columns = tracking::Columns();  // copied into the batches: keep one copy in memory
    }
    send();
    if (batches.empty()) return Status::Ok();
    return DeliverAll(std::move(batches), counts);
  }

  void SampleLoop() {
    tracking::SystemSampler sampler(options_.system_metrics_pid > 0 ? options_.system_metrics_pid
                                                                    : getpid());
    int64_t step = 0;
    std::unique_lock lock(mu_);
    while (!closing_) {
      lock.unlock();
      const tracking::SystemSample sample = sampler.Sample();
      sample.ForEachMetric([&](std::string_view key, double value) {
        (void)TryLog(key, value, step, sample.time_us);
      });
      ++step;
      lock.lock();
      stop_sampling_.wait_for(lock, options_.system_metrics_interval, [&] { return closing_; });
    }
  }

  Client* client_;  // null when offline
  const std::string run_id_;
  const std::string backend_;
  RunLoggerOptions options_;
  const std::string batch_prefix_;
  std::atomic<uint64_t> batch_seq_{0};

  std::mutex mu_;
  std::condition_variable wake_flusher_, space_, flushed_, stop_sampling_;
  std::vector<KeyBuffer> keys_;
  std::unordered_map<std::string, size_t, KeyHash, std::equal_to<>> index_;
  size_t last_key_ = 0;
  size_t buffered_ = 0;
  uint64_t handled_ = 0;  // points the flusher has taken care of (written, spooled or failed)
  bool flush_wanted_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool flusher_done_ = false;
  Status error_;
  RunLoggerStats stats_;
  std::thread flusher_, sampler_;

  std::mutex spool_mu_;
  std::unique_ptr<tracking::SpoolWriter> spool_;
};

RunLogger::RunLogger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RunLogger::~RunLogger() { (void)impl_->Close(v1::RUN_STATUS_UNSPECIFIED); }

Result<std::unique_ptr<RunLogger>> RunLogger::Attach(Client& client, const std::string& run_id,
                                                     RunLoggerOptions options) {
  MLC_ASSIGN_OR_RETURN(v1::Run run, client.GetRun(run_id));
  if (IsFinalRunStatus(run.status())) {
    return FailedPreconditionError("run " + run.id() + " (" + run.name() + ") already ended " +
                                   v1::RunStatus_Name(run.status()) + "; start a new run");
  }
  auto impl =
      std::make_unique<Impl>(&client, run.id(), client.config().backend, std::move(options));
  impl->Start();
  return std::unique_ptr<RunLogger>(new RunLogger(std::move(impl)));
}

Result<std::unique_ptr<RunLogger>> RunLogger::StartOffline(std::string backend_uri,
                                                           v1::CreateRunRequest create,
                                                           RunLoggerOptions options) {
  const std::string uuid = util::RandomUuid();
  create.mutable_run()->set_id("offline-" + uuid);
  if (create.request_id().empty()) create.set_request_id(uuid);
  if (create.run().user().empty()) create.mutable_run()->set_user(util::CurrentUser());
  options.offline = true;
  auto impl = std::make_unique<Impl>(nullptr, create.run().id(), std::move(backend_uri),
                                     std::move(options));
  v1::SpoolRecord record;
  *record.mutable_create_run() = create;
  MLC_RETURN_IF_ERROR(impl->Spool(record));
  impl->Start();
  return std::unique_ptr<RunLogger>(new RunLogger(std::move(impl)));
}

const std::string& RunLogger::run_id() const { return impl_->run_id(); }

Status RunLogger::LogMetric(std::string_view key, double value, int64_t step, int64_t time_us) {
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool logged, impl_->TryLog(key, value, step, time_us));
    if (logged) return Status::Ok();
    impl_->WaitForSpace();
  }
}

Result<bool> RunLogger::TryLogMetric(std::string_view key, double value, int64_t step,
                                     int64_t time_us) {
  return impl_->TryLog(key, value, step, time_us);
}

Status RunLogger::LogSeries(std::string_view key, const int64_t* steps, const double* values,
                            size_t n, const int64_t* times_us) {
  return impl_->LogSeries(key, steps, values, n, times_us);
}

void RunLogger::WaitForSpace() { impl_->WaitForSpace(); }

Status RunLogger::LogParams(const std::map<std::string, std::string>& params) {
  v1::MetricBatch batch;
  for (const auto& [k, v] : params) {
    MLC_RETURN_IF_ERROR(ValidateMetricKey(k).WithContext("param"));
    (*batch.mutable_params())[k] = v;
  }
  return impl_->SendNow(std::move(batch));
}

Status RunLogger::SetTags(const std::map<std::string, std::string>& tags) {
  v1::MetricBatch batch;
  for (const auto& [k, v] : tags) (*batch.mutable_tags())[k] = v;
  return impl_->SendNow(std::move(batch));
}

Status RunLogger::Flush() { return impl_->Flush(); }

Status RunLogger::Close(v1::RunStatus status) { return impl_->Close(status); }

RunLoggerStats RunLogger::stats() const { return impl_->stats(); }

}  // namespace mlcore
