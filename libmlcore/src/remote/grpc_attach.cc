#include "remote/grpc_attach.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "remote/grpc_status.h"

namespace mlcore::remote {
namespace {

constexpr size_t kQueued = 16;  // responses read ahead of the consumer
constexpr auto kPoll = std::chrono::milliseconds(100);

// One bidirectional call: writes from the caller's threads, responses read by a thread of its
// own into a bounded queue.
template <typename Req, typename Resp>
class BidiCall {
 public:
  BidiCall(std::unique_ptr<grpc::ClientContext> ctx,
           std::unique_ptr<grpc::ClientReaderWriter<Req, Resp>> stream, std::string target)
      : ctx_(std::move(ctx)), stream_(std::move(stream)), target_(std::move(target)) {
    reader_ = std::thread([this] { ReadAll(); });
  }
  ~BidiCall() {
    if (!finished_) ctx_->TryCancel();
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    reader_.join();
  }

  // False when the call is over (its status says why).
  bool Write(const Req& request) {
    std::lock_guard lock(write_mu_);
    if (writes_done_) return false;
    return stream_->Write(request);
  }
  void WritesDone() {
    std::lock_guard lock(write_mu_);
    if (!writes_done_) {
      writes_done_ = true;
      stream_->WritesDone();
    }
  }
  bool writes_done() {
    std::lock_guard lock(write_mu_);
    return writes_done_;
  }
  void Cancel() {
    cancelled_ = true;
    ctx_->TryCancel();
  }
  bool cancelled() const { return cancelled_; }

  // 1: `out` holds the next response; 0: none within the poll interval; -1: no more.
  int Next(Resp* out) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kPoll, [&] { return !queue_.empty() || ended_; });
    if (!queue_.empty()) {
      *out = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      return 1;
    }
    return ended_ ? -1 : 0;
  }
  // The call's final status, once every response was read.
  grpc::Status WaitStatus() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_.load(); });
    return status_;
  }
  const std::string& target() const { return target_; }

 private:
  void ReadAll() {
    Resp response;
    while (stream_->Read(&response)) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return queue_.size() < kQueued || stopping_; });
      if (stopping_) {
        ctx_->TryCancel();
        continue;  // drain what gRPC still delivers until the call ends
      }
      queue_.push_back(std::move(response));
      response.Clear();
      cv_.notify_all();
    }
    {
      std::lock_guard lock(mu_);
      ended_ = true;
      cv_.notify_all();
    }
    grpc::Status status = stream_->Finish();
    std::lock_guard lock(mu_);
    status_ = status;
    finished_ = true;
    cv_.notify_all();
  }

  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<Req, Resp>> stream_;
  const std::string target_;
  std::mutex write_mu_;
  bool writes_done_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Resp> queue_;
  bool ended_ = false;
  bool stopping_ = false;
  std::atomic<bool> finished_{false};
  std::atomic<bool> cancelled_{false};
  grpc::Status status_;
  std::thread reader_;
};

// Sends the first request and waits for the server's empty "started" answer.
template <typename Req, typename Resp>
Result<std::unique_ptr<BidiCall<Req, Resp>>> Open(
    std::unique_ptr<grpc::ClientContext> ctx,
    std::unique_ptr<grpc::ClientReaderWriter<Req, Resp>> stream, const Req& first,
    const std::string& target) {
  Resp started;
  if (!stream->Write(first) || !stream->Read(&started)) {
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    if (status.ok()) {
      return UnavailableError("the server " + target + " ended the call before it started");
    }
    return FromGrpc(status, target);
  }
  return std::make_unique<BidiCall<Req, Resp>>(std::move(ctx), std::move(stream), target);
}

class RemoteExecSession final : public ExecSession {
 public:
  explicit RemoteExecSession(
      std::unique_ptr<BidiCall<v1::ExecJobRequest, v1::ExecJobResponse>> call, bool stdin_closed)
      : call_(std::move(call)) {
    if (stdin_closed) call_->WritesDone();
  }

  Status Write(std::string_view data) override {
    if (call_->writes_done()) {
      return FailedPreconditionError("the command's standard input is already closed");
    }
    v1::ExecJobRequest request;
    request.set_stdin_data(std::string(data));
    if (!call_->Write(request)) {
      return UnavailableError("the exec call to " + call_->target() +
                              " has ended; the command may have exited");
    }
    return Status::Ok();
  }

  Status CloseStdin() override {
    // The end of the request stream is the end of input for the server.
    call_->WritesDone();
    return Status::Ok();
  }

  Status Read(const std::function<bool(ExecStream, std::string_view)>& sink,
              const std::function<bool()>& keep_going) override {
    v1::ExecJobResponse response;
    while (true) {
      const int got = call_->Next(&response);
      if (got < 0) break;
      if (got == 0) {
        if (keep_going && !keep_going()) return Status::Ok();
        continue;
      }
      if (response.has_exit_code()) exit_code_ = response.exit_code();
      if (!response.stdout_data().empty() && !sink(ExecStream::kStdout, response.stdout_data())) {
        return Status::Ok();
      }
      if (!response.stderr_data().empty() && !sink(ExecStream::kStderr, response.stderr_data())) {
        return Status::Ok();
      }
    }
    grpc::Status status = call_->WaitStatus();
    if (!status.ok() && !call_->cancelled()) return FromGrpc(status, call_->target());
    return Status::Ok();
  }

  Result<int> Wait() override {
    // Whatever the caller did not read is drained: the exit code comes last.
    v1::ExecJobResponse response;
    while (call_->Next(&response) >= 0) {
      if (response.has_exit_code()) exit_code_ = response.exit_code();
    }
    grpc::Status status = call_->WaitStatus();
    if (call_->cancelled()) return CancelledError("the command was cancelled");
    if (!status.ok()) return FromGrpc(status, call_->target());
    if (!exit_code_) {
      return UnavailableError("the exec call to " + call_->target() +
                              " ended without the command's exit code");
    }
    return *exit_code_;
  }

  void Cancel() override { call_->Cancel(); }

 private:
  std::unique_ptr<BidiCall<v1::ExecJobRequest, v1::ExecJobResponse>> call_;
  std::optional<int> exit_code_;
};

class RemotePortConnection final : public PortConnection {
 public:
  explicit RemotePortConnection(
      std::unique_ptr<BidiCall<v1::PortForwardRequest, v1::PortForwardResponse>> call)
      : call_(std::move(call)) {}

  Status Write(std::string_view data) override {
    v1::PortForwardRequest request;
    request.set_data(std::string(data));
    if (!call_->Write(request)) {
      return UnavailableError("the port-forward call to " + call_->target() + " has ended");
    }
    return Status::Ok();
  }
  Status CloseWrite() override {
    call_->WritesDone();
    return Status::Ok();
  }
  Status Read(const std::function<bool(std::string_view)>& sink,
              const std::function<bool()>& keep_going) override {
    v1::PortForwardResponse response;
    while (true) {
      const int got = call_->Next(&response);
      if (got < 0) break;
      if (got == 0) {
        if (keep_going && !keep_going()) return Status::Ok();
        continue;
      }
      if (!response.data().empty() && !sink(response.data())) return Status::Ok();
    }
    grpc::Status status = call_->WaitStatus();
    if (!status.ok() && !call_->cancelled()) return FromGrpc(status, call_->target());
    return Status::Ok();
  }
  void Cancel() override { call_->Cancel(); }

 private:
  std::unique_ptr<BidiCall<v1::PortForwardRequest, v1::PortForwardResponse>> call_;
};

}  // namespace

Result<std::unique_ptr<ExecSession>> StartRemoteExec(v1::JobService::Stub* stub,
                                                     std::unique_ptr<grpc::ClientContext> ctx,
                                                     const v1::ExecJobRequest& first,
                                                     const std::string& target) {
  auto stream = stub->ExecJob(ctx.get());
  MLC_ASSIGN_OR_RETURN(auto call, Open(std::move(ctx), std::move(stream), first, target));
  return std::unique_ptr<ExecSession>(
      std::make_unique<RemoteExecSession>(std::move(call), first.close_stdin()));
}

Result<std::unique_ptr<PortConnection>> StartRemotePortForward(
    v1::JobService::Stub* stub, std::unique_ptr<grpc::ClientContext> ctx,
    const v1::PortForwardRequest& first, const std::string& target) {
  auto stream = stub->PortForward(ctx.get());
  MLC_ASSIGN_OR_RETURN(auto call, Open(std::move(ctx), std::move(stream), first, target));
  return std::unique_ptr<PortConnection>(std::make_unique<RemotePortConnection>(std::move(call)));
}

}  // namespace mlcore::remote
