#include "remote/ingest_stream.h"

#include "remote/grpc_status.h"

namespace mlcore::remote {
namespace {

// How a broken stream answers the batches it leaves unacknowledged: errors that resending cannot
// cure keep their code; everything else (connection lost, server stopped or restarted, our own
// cancel after a silent server) is UNAVAILABLE, which the tracking buffer retries, then spools.
Status Unacknowledged(const grpc::Status& status, const std::string& target) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return FromGrpc(status, target);
    default:
      break;
  }
  std::string why = status.ok() ? "the server ended it" : status.error_message();
  return UnavailableError("the metric stream to " + target +
                          " broke before this batch was acknowledged (" + why +
                          "); it is resent, or spooled if the server stays unreachable");
}

}  // namespace

IngestStream::IngestStream(v1::TrackingService::Stub* stub,
                           std::function<void(grpc::ClientContext*)> prepare, std::string target,
                           std::chrono::milliseconds ack_timeout)
    : stub_(stub),
      prepare_(std::move(prepare)),
      target_(std::move(target)),
      ack_timeout_(ack_timeout) {}

IngestStream::~IngestStream() {
  std::shared_ptr<Connection> conn;
  std::vector<std::shared_ptr<Connection>> retired;
  {
    std::lock_guard lock(write_mu_);
    conn = std::move(conn_);
    retired = std::move(retired_);
  }
  for (auto& r : retired) r->reader.join();
  if (conn) Close(conn);
}

void IngestStream::Close(const std::shared_ptr<Connection>& conn) {
  bool broken;
  {
    std::lock_guard lock(mu_);
    broken = conn->broken;
  }
  if (!broken) {
    std::lock_guard lock(write_mu_);
    (void)conn->rw->WritesDone();  // the server answers what it has, then ends the call
  }
  {
    // A server that never ends the call (hung) is not waited for longer than this.
    std::unique_lock lock(mu_);
    if (!answered_.wait_for(lock, std::chrono::seconds(5), [&] { return conn->ended; })) {
      conn->ctx.TryCancel();
    }
  }
  conn->reader.join();
}

std::shared_ptr<IngestStream::Connection> IngestStream::OpenLocked() {
  auto conn = std::make_shared<Connection>();
  prepare_(&conn->ctx);
  conn->rw = stub_->IngestMetrics(&conn->ctx);
  conn->reader = std::thread([this, conn] { ReadLoop(conn); });
  return conn;
}

void IngestStream::ReadLoop(const std::shared_ptr<Connection>& conn) {
  v1::IngestMetricsResponse ack;
  while (conn->rw->Read(&ack)) {
    std::lock_guard lock(mu_);
    if (conn->waiting.empty() || conn->waiting.front()->batch_id != ack.batch_id()) {
      conn->ctx.TryCancel();  // answers out of order: a server bug; fail what is outstanding
      break;
    }
    std::shared_ptr<Waiting> w = std::move(conn->waiting.front());
    conn->waiting.pop_front();
    if (ack.error_code() == 0) {
      v1::LogBatchResponse done;
      done.set_duplicate(ack.duplicate());
      done.set_points_written(ack.points_written());
      w->answer = std::move(done);
    } else {
      w->answer = Status(static_cast<StatusCode>(ack.error_code()), ack.error_message());
    }
    ++conn->answers;
    answered_.notify_all();
  }
  {
    std::lock_guard lock(mu_);
    conn->broken = true;  // no Send writes to it any more
  }
  grpc::Status status;
  {
    std::lock_guard lock(write_mu_);  // Finish must not run beside a Write
    status = conn->rw->Finish();
  }
  std::lock_guard lock(mu_);
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) unimplemented_ = true;
  const Status failed = Unacknowledged(status, target_);
  for (auto& w : conn->waiting) w->answer = failed;
  conn->waiting.clear();
  conn->ended = true;
  answered_.notify_all();
}

std::optional<std::vector<Result<v1::LogBatchResponse>>> IngestStream::Send(
    const std::vector<v1::MetricBatch>& batches) {
  if (batches.empty()) return std::vector<Result<v1::LogBatchResponse>>();
  std::vector<std::shared_ptr<Waiting>> mine;
  mine.reserve(batches.size());
  std::shared_ptr<Connection> conn;
  std::vector<std::shared_ptr<Connection>> retired;
  {
    std::lock_guard write_lock(write_mu_);
    {
      std::lock_guard lock(mu_);
      if (unimplemented_) return std::nullopt;
      // Readers of broken streams that have ended can be joined now (outside write_mu_).
      for (auto it = retired_.begin(); it != retired_.end();) {
        if ((*it)->ended) {
          retired.push_back(std::move(*it));
          it = retired_.erase(it);
        } else {
          ++it;
        }
      }
      if (conn_ && conn_->broken) retired_.push_back(std::move(conn_));
    }
    if (!conn_) conn_ = OpenLocked();
    conn = conn_;
    v1::LogMetricsStreamRequest request;
    for (const v1::MetricBatch& batch : batches) {
      auto w = std::make_shared<Waiting>();
      w->batch_id = batch.batch_id();
      mine.push_back(w);
      {
        std::lock_guard lock(mu_);
        if (conn->broken) {
          w->answer = UnavailableError("the metric stream to " + target_ +
                                       " broke before this batch was sent; it is resent, or "
                                       "spooled if the server stays unreachable");
          continue;
        }
        conn->waiting.push_back(w);
      }
      // The request borrows the batch for the write (no copy of what may be megabytes).
      request.unsafe_arena_set_allocated_batch(const_cast<v1::MetricBatch*>(&batch));
      const bool written = conn->rw->Write(request);
      (void)request.unsafe_arena_release_batch();
      if (!written) {
        // The call is over; its reader answers what is waiting once it has the status.
        std::lock_guard lock(mu_);
        conn->broken = true;
      }
    }
  }
  for (auto& r : retired) r->reader.join();

  std::unique_lock lock(mu_);
  auto all_answered = [&] {
    for (const auto& w : mine) {
      if (!w->answer) return false;
    }
    return true;
  };
  uint64_t seen = conn->answers;
  while (!answered_.wait_for(lock, ack_timeout_, all_answered)) {
    if (conn->answers == seen) {
      // No acknowledgement for a whole timeout: give the stream up; its reader answers the rest.
      conn->ctx.TryCancel();
      answered_.wait(lock, all_answered);
      break;
    }
    seen = conn->answers;
  }
  std::vector<Result<v1::LogBatchResponse>> out;
  out.reserve(mine.size());
  bool old_server = false;
  for (auto& w : mine) {
    if (!w->answer->ok() && w->answer->status().code() == StatusCode::kUnimplemented) {
      old_server = true;
    }
    out.push_back(std::move(*w->answer));
  }
  if (old_server && unimplemented_) return std::nullopt;
  return out;
}

}  // namespace mlcore::remote
