// SyncSpool: replays offline spool files to their backend exactly once (see mlcore/tracking.h).
#include <unistd.h>

#include <map>
#include <thread>

#include "mlcore/client.h"
#include "mlcore/tracking.h"
#include "tracking/retry_after.h"
#include "tracking/spool.h"
#include "util/fs.h"

namespace mlcore {
namespace {

// Test hook: MLC_FAULT_SYNC_DROP_ACK_AFTER=N makes the N-th acknowledged call of a sync fail as if
// the connection dropped after the backend applied it, so tests can check exactly-once replay.
class FaultInjector {
 public:
  FaultInjector() {
    const std::string v = util::GetEnv("MLC_FAULT_SYNC_DROP_ACK_AFTER");
    if (!v.empty()) drop_at_ = std::stoll(v);
  }
  Status AfterAck() {
    if (drop_at_ > 0 && ++acks_ == drop_at_) {
      return UnavailableError("injected fault: the connection dropped before the acknowledgement");
    }
    return Status::Ok();
  }

 private:
  int64_t drop_at_ = 0;
  int64_t acks_ = 0;
};

// Replays one spool file; removes it when every record is acknowledged.
void SyncFile(Client& client, const std::string& path, FaultInjector& faults, SyncReport* report) {
  auto contents = tracking::ReadSpool(path);
  if (!contents.ok()) {
    report->errors.push_back(contents.status().message());
    ++report->files_left;
    return;
  }
  if (contents->records.empty()) {
    ::unlink(path.c_str());
    return;
  }
  if (contents->records.front().backend() != client.config().backend) return;  // not ours
  ++report->files;
  std::map<std::string, std::string> ids;  // placeholder run id -> real id
  auto real = [&](const std::string& id) {
    auto it = ids.find(id);
    return it == ids.end() ? id : it->second;
  };
  Status failed;
  for (v1::SpoolRecord& record : contents->records) {
    if (record.has_create_run()) {
      const std::string placeholder = record.create_run().run().id();
      v1::CreateRunRequest create = record.create_run();
      create.mutable_run()->clear_id();
      auto run = client.CreateRun(create);  // idempotent by request_id
      if (!run.ok()) {
        failed = run.status();
        break;
      }
      ++report->runs_created;
      ids[placeholder] = run->id();
      failed = faults.AfterAck();
      if (!failed.ok()) break;
    } else if (record.has_batch()) {
      v1::MetricBatch& batch = *record.mutable_batch();
      batch.set_run_id(real(batch.run_id()));
      Result<v1::LogBatchResponse> sent = UnavailableError("not sent");
      for (int attempt = 0; attempt < 20; ++attempt) {
        sent = client.LogBatch(batch);
        if (sent.ok() || sent.status().code() != StatusCode::kResourceExhausted) break;
        auto delay = tracking::ParseRetryAfter(sent.status().message());
        if (!delay) break;  // over the stored-bytes limit: not curable by waiting
        std::this_thread::sleep_for(std::chrono::duration<double>(*delay));
      }
      if (!sent.ok()) {
        failed = sent.status();
        break;
      }
      if (sent->duplicate()) {
        ++report->duplicates;
      } else {
        ++report->batches_sent;
        report->points += sent->points_written();
      }
      failed = faults.AfterAck();
      if (!failed.ok()) break;
    } else if (record.has_update_run()) {
      v1::UpdateRunRequest update = record.update_run();
      update.set_id(real(update.id()));
      auto updated = client.UpdateRun(update);
      if (!updated.ok()) {
        // Replaying an end that was applied before is fine.
        auto run = client.GetRun(update.id());
        if (!run.ok() || run->status() != update.status()) {
          failed = updated.status();
          break;
        }
      }
    }
  }
  if (failed.ok()) {
    ::unlink(path.c_str());
  } else {
    ++report->files_left;
    report->errors.push_back(path + ": " + failed.message());
  }
}

}  // namespace

Result<SyncReport> SyncSpool(Client& client, const std::string& spool_dir) {
  SyncReport report;
  FaultInjector faults;
  for (const std::string& path : tracking::ListSpoolFiles(spool_dir)) {
    SyncFile(client, path, faults, &report);
  }
  return report;
}

Result<SyncReport> SyncSpoolFile(Client& client, const std::string& path) {
  SyncReport report;
  FaultInjector faults;
  SyncFile(client, path, faults, &report);
  return report;
}

}  // namespace mlcore
