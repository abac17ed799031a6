#include "server/dispatcher.h"

#include <chrono>
#include <cstring>
#include <deque>
#include <string>
#include <thread>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <spdlog/spdlog.h>

#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "mlcore/invoke.h"
#include "mlcore/v1/artifacts.pb.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/registry.pb.h"
#include "mlcore/v1/tracking.pb.h"
#include "remote/grpc_status.h"
#include "server/auth_service.h"
#include "util/crc32c.h"
#include "util/fs.h"

namespace mlcore::server {
namespace {

using google::protobuf::Message;
using google::protobuf::MethodDescriptor;

// Uploads are appended (and made durable) in pieces of this size, not per chunk.
constexpr size_t kUploadFlushBytes = size_t{8} << 20;
// Room for the chunk that takes a piece over kUploadFlushBytes (clients send 1 MiB chunks).
constexpr size_t kUploadChunkSlack = size_t{2} << 20;

Status Parse(const grpc::ByteBuffer& buffer, Message* message) {
  grpc::ByteBuffer copy(buffer);  // the reader takes a mutable buffer; copying shares the slices
  grpc::ProtoBufferReader reader(&copy);
  if (!message->ParseFromZeroCopyStream(&reader)) {
    return InvalidArgumentError("malformed " + message->GetDescriptor()->full_name() +
                                " message: it does not decode as protobuf");
  }
  return Status::Ok();
}

void Serialize(const Message& message, grpc::ByteBuffer* out) {
  grpc::Slice slice(message.SerializeAsString());
  grpc::ByteBuffer buffer(&slice, 1);
  out->Swap(&buffer);
}

std::string FullName(const MethodDescriptor* method) {
  return method->service()->full_name() + "/" + method->name();
}

bool PlausibleUser(const std::string& user) {
  if (user.empty() || user.size() > 64) return false;
  for (char c : user) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '@' || c == ':')) {
      return false;
    }
  }
  return true;
}

// Bytes of an upload gathered into one append: raw memory, never zero-filled when it grows.
struct Piece {
  std::unique_ptr<char[]> data;
  size_t size = 0;
  size_t capacity = 0;

  void Reserve(size_t n) {
    if (n <= capacity) return;
    std::unique_ptr<char[]> bigger(new char[n]);
    if (size > 0) std::memcpy(bigger.get(), data.get(), size);
    data = std::move(bigger);
    capacity = n;
  }
  std::string_view view() const { return {data.get(), size}; }
};

// Appends the chunk of an UploadBlobRequest after the first straight from gRPC's slices to
// `piece`, and reads its `finish`: one copy of the bytes, where parsing the message and then
// appending its chunk takes two (the upload's hot path). Errors: INVALID_ARGUMENT (malformed, or
// a header).
// `crc` is extended by the chunk's bytes (CRC-32C).
Status AppendUploadChunk(const grpc::ByteBuffer& buffer, Piece* piece, bool* finish,
                         uint32_t* crc) {
  using google::protobuf::internal::WireFormatLite;
  grpc::ByteBuffer copy(buffer);  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  google::protobuf::io::CodedInputStream in(&reader);
  const size_t start = piece->size;
  const auto malformed = [] {
    return InvalidArgumentError(
        "malformed mlcore.v1.UploadBlobRequest message: it does not decode as protobuf");
  };
  while (const uint32_t tag = in.ReadTag()) {
    switch (tag) {
      case WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED):
        return InvalidArgumentError("only the first UploadBlob message may carry a header");
      case WireFormatLite::MakeTag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED): {
        uint32_t length = 0;
        if (!in.ReadVarint32(&length)) return malformed();
        piece->size = start;  // a repeated field: the last one counts, as in protobuf
        piece->Reserve(start + length);
        if (!in.ReadRaw(piece->data.get() + start, static_cast<int>(length))) return malformed();
        piece->size = start + length;
        break;
      }
      case WireFormatLite::MakeTag(3, WireFormatLite::WIRETYPE_VARINT): {
        uint64_t value = 0;
        if (!in.ReadVarint64(&value)) return malformed();
        *finish = value != 0;
        break;
      }
      default:
        if (!WireFormatLite::SkipField(&in, tag)) return malformed();
    }
  }
  if (static_cast<size_t>(in.CurrentPosition()) != buffer.Length()) return malformed();
  *crc = util::Crc32c(*crc, std::string_view(piece->data.get() + start, piece->size - start));
  return Status::Ok();
}

// Appends an upload's pieces on a thread of its own, so the stream is read while the previous
// piece is written, hashed and synced: the network and the disk overlap. At most two pieces wait.
class PieceWriter {
 public:
  PieceWriter(Backend& backend, const v1::UploadBlobHeader& header, int64_t committed)
      : backend_(backend), header_(header), committed_(committed) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~PieceWriter() { (void)Finish(); }

  // Queues a piece; waits while two are queued. The writer's error once it has failed.
  Status Add(Piece piece) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < 2 || !error_.ok(); });
    if (!error_.ok()) return error_;
    queue_.push_back(std::move(piece));
    cv_.notify_all();
    return Status::Ok();
  }

  // Waits until every queued piece is appended; the bytes committed, or the first error.
  Result<int64_t> Finish() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    if (!error_.ok()) return error_;
    return committed_;
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return !queue_.empty() || done_; });
      if (queue_.empty()) return;
      Piece piece = std::move(queue_.front());
      const int64_t at = committed_;
      lock.unlock();
      auto appended =
          backend_.AppendBlobUpload(header_.project(), header_.upload_id(), at, piece.view());
      lock.lock();
      queue_.pop_front();
      if (!appended.ok()) {
        error_ = appended.status();
        queue_.clear();
        cv_.notify_all();
        return;
      }
      committed_ = *appended;
      cv_.notify_all();
    }
  }

  Backend& backend_;
  const v1::UploadBlobHeader& header_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Piece> queue_;  // the front one is being appended
  int64_t committed_;
  Status error_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Message> NewMessage(const google::protobuf::Descriptor* type) {
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

std::string CallerOf(const grpc::ServerContextBase& ctx) {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("mlc-user");
  if (it != metadata.end()) {
    std::string user(it->second.data(), it->second.size());
    if (PlausibleUser(user)) return user;
  }
  return util::CurrentUser();
}

// A streaming call served with blocking reads and writes from a thread of its own.
class StreamCall final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public StreamIo {
 public:
  StreamCall(Dispatcher* dispatcher, grpc::CallbackServerContext* ctx,
             const MethodDescriptor* method)
      : dispatcher_(dispatcher), ctx_(ctx), method_(method) {}

  void Run() {
    const auto start = std::chrono::steady_clock::now();
    Result<Principal> who = dispatcher_->Identify(*ctx_);
    const std::string user = who.ok() ? who->user.name() : "-";
    Status status = who.status();
    if (who.ok()) {
      util::ScopedCurrentUser as(user);
      status = dispatcher_->RunStream(*who, *this, method_);
    }
    Finish(remote::ToGrpc(status));
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return done_; });
    }
    dispatcher_->Log(
        method_, user, status,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    Dispatcher* dispatcher = dispatcher_;
    delete this;
    dispatcher->StreamEnded();
  }

  bool Read(grpc::ByteBuffer* out) override {
    std::unique_lock lock(mu_);
    read_done_ = false;
    lock.unlock();
    StartRead(out);
    lock.lock();
    cv_.wait(lock, [&] { return read_done_; });
    return read_ok_;
  }

  int ReadUnless(grpc::ByteBuffer* out, const std::function<bool()>& give_up) override {
    std::unique_lock lock(mu_);
    if (!read_pending_) {
      read_done_ = false;
      read_pending_ = true;
      lock.unlock();
      StartRead(&polled_);
      lock.lock();
    }
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return read_done_; })) {
      if (Stopped() || (give_up && give_up())) return -1;
    }
    read_pending_ = false;
    if (!read_ok_) return 0;
    out->Swap(&polled_);
    polled_.Clear();
    return 1;
  }

  bool Write(const Message& message) override {
    grpc::ByteBuffer buffer;
    Serialize(message, &buffer);
    std::unique_lock lock(mu_);
    write_done_ = false;
    lock.unlock();
    StartWrite(&buffer);
    lock.lock();
    cv_.wait(lock, [&] { return write_done_; });
    return write_ok_;
  }

  bool Stopped() const override { return cancelled_ || dispatcher_->stopping_; }

  void OnReadDone(bool ok) override {
    std::lock_guard lock(mu_);
    read_ok_ = ok;
    read_done_ = true;
    cv_.notify_all();
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    write_ok_ = ok;
    write_done_ = true;
    cv_.notify_all();
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override {
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  Dispatcher* dispatcher_;
  grpc::CallbackServerContext* ctx_;
  const MethodDescriptor* method_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool read_done_ = false;
  bool read_ok_ = false;
  bool read_pending_ = false;  // ReadUnlessStopped left a read outstanding
  grpc::ByteBuffer polled_;    // where ReadUnlessStopped's reads land
  bool write_done_ = false;
  bool write_ok_ = false;
  bool done_ = false;
  std::atomic<bool> cancelled_{false};
};

std::unordered_set<const MethodDescriptor*> Dispatcher::QuickReads() {
  std::unordered_set<const MethodDescriptor*> out;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name :
       {"mlcore.v1.SystemService.GetBackendInfo", "mlcore.v1.ProjectService.GetProject",
        "mlcore.v1.JobService.GetJob", "mlcore.v1.TrackingService.GetExperiment",
        "mlcore.v1.TrackingService.GetRun", "mlcore.v1.ArtifactService.GetArtifact",
        "mlcore.v1.RegistryService.GetRegisteredModel", "mlcore.v1.RegistryService.GetModelVersion",
        "mlcore.v1.RegistryService.ResolveModelUri"}) {
    if (const MethodDescriptor* method = pool->FindMethodByName(name)) out.insert(method);
  }
  return out;
}

grpc::ServerUnaryReactor* Dispatcher::Unary(grpc::CallbackServerContext* ctx,
                                            const MethodDescriptor* method,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // Handing a call to a worker and its answer back costs two thread wake-ups, about a third of
  // the CPU of a quick read. So a quick read runs right here, on gRPC's callback thread, but on
  // one such thread at a time: however long it waits (a store lock held by a writer or by
  // another process), the other callback threads go on serving streams and completions.
  if (quick_reads_.count(method) > 0 && !quick_read_running_.exchange(true)) {
    grpc::Status status = Serve(*ctx, method, *request, response);
    quick_read_running_ = false;
    reactor->Finish(status);
    return reactor;
  }
  post_([this, ctx, method, request, response, reactor] {
    reactor->Finish(Serve(*ctx, method, *request, response));
  });
  return reactor;
}

grpc::Status Dispatcher::Serve(const grpc::ServerContextBase& ctx, const MethodDescriptor* method,
                               const grpc::ByteBuffer& request, grpc::ByteBuffer* response) {
  const auto start = std::chrono::steady_clock::now();
  Result<Principal> who = Identify(ctx);
  const std::string user = who.ok() ? who->user.name() : "-";
  Status status = who.status();
  if (who.ok()) {
    util::ScopedCurrentUser as(user);
    status = RunUnary(*who, method, request, response);
  }
  Log(method, user, status,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return remote::ToGrpc(status);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Dispatcher::Stream(
    grpc::CallbackServerContext* ctx, const MethodDescriptor* method) {
  auto* call = new StreamCall(this, ctx, method);
  StreamStarted();
  std::thread([call] { call->Run(); }).detach();
  return call;
}

void Dispatcher::StreamStarted() {
  std::lock_guard lock(mu_);
  ++streams_;
}

void Dispatcher::StreamEnded() {
  std::lock_guard lock(mu_);
  --streams_;
  cv_.notify_all();
}

void Dispatcher::WaitStreams() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return streams_ == 0; });
}

int Dispatcher::OpenStreams() {
  std::lock_guard lock(mu_);
  return streams_;
}

void Dispatcher::Log(const MethodDescriptor* method, const std::string& user, const Status& status,
                     double ms) const {
  metrics_.Record(FullName(method), std::string(StatusCodeName(status.code())), ms / 1000);
  if (!access_log_) return;
  spdlog::info("rpc={} user={} code={} ms={:.2f}{}{}", FullName(method), user,
               StatusCodeName(status.code()), ms,
               status.ok() ? "" : " error=", status.ok() ? "" : status.message());
}

Result<Principal> Dispatcher::Identify(const grpc::ServerContextBase& ctx) {
  if (auth_ == nullptr) {
    Principal p;
    p.user.set_name(CallerOf(ctx));
    p.user.set_admin(true);
    return p;
  }
  const auto& metadata = ctx.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    return IdentifyToken(std::string_view(it->second.data(), it->second.size()));
  }
  if (auto context = ctx.auth_context(); context && context->IsPeerAuthenticated()) {
    auto names = context->FindPropertyValues("x509_common_name");
    if (!names.empty())
      return auth_->AuthenticateUser(std::string(names[0].data(), names[0].size()));
  }
  return UnauthenticatedError(
      "this server needs an API token: run `mlc login <server URI>` (or set MLC_TOKEN) with a "
      "token from your administrator");
}

Result<Principal> Dispatcher::IdentifyToken(std::string_view authorization) {
  if (authorization.size() > 7 &&
      (authorization.starts_with("Bearer ") || authorization.starts_with("bearer "))) {
    return auth_->Authenticate(std::string(authorization.substr(7)));
  }
  return UnauthenticatedError("the authorization must be \"Bearer <token>\"");
}

Result<Principal> Dispatcher::IdentifyHttp(std::string_view authorization,
                                           std::string_view user_hint) {
  if (auth_ == nullptr) {
    Principal p;
    const std::string hint(user_hint);
    p.user.set_name(PlausibleUser(hint) ? hint : util::CurrentUser());
    p.user.set_admin(true);
    return p;
  }
  if (!authorization.empty()) return IdentifyToken(authorization);
  return UnauthenticatedError(
      "this server needs an API token: send the header \"Authorization: Bearer <token>\" with a "
      "token from `mlc token create` or your administrator");
}

Status Dispatcher::CallUnary(const Principal& who, const MethodDescriptor* method,
                             const Message& request, Message* response) {
  const auto start = std::chrono::steady_clock::now();
  grpc::ByteBuffer in;
  grpc::ByteBuffer out;
  Serialize(request, &in);
  Status status;
  {
    util::ScopedCurrentUser as(who.user.name());
    status = RunUnary(who, method, in, &out);
  }
  if (status.ok()) status = Parse(out, response);
  Log(method, who.user.name(), status,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return status;
}

Status Dispatcher::CallStream(const Principal& who, const MethodDescriptor* method, StreamIo& io) {
  const auto start = std::chrono::steady_clock::now();
  StreamStarted();
  Status status;
  {
    util::ScopedCurrentUser as(who.user.name());
    status = RunStream(who, io, method);
  }
  Log(method, who.user.name(), status,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  StreamEnded();
  return status;
}

Status Dispatcher::Authorize(const Principal& who, const std::string& method,
                             const Message& request) {
  return authz_ ? authz_->Check(who, method, request) : Status::Ok();
}

Status Dispatcher::RunUnary(const Principal& who, const MethodDescriptor* method,
                            const grpc::ByteBuffer& request_bytes, grpc::ByteBuffer* response) {
  if (stopping_)
    return UnavailableError("the server is shutting down; retry against its successor");
  std::unique_ptr<Message> request = NewMessage(method->input_type());
  MLC_RETURN_IF_ERROR(Parse(request_bytes, request.get()));
  const std::string name = FullName(method);
  if (method->service()->full_name() == "mlcore.v1.AuthService") {
    std::unique_ptr<Message> out = NewMessage(method->output_type());
    MLC_RETURN_IF_ERROR(
        HandleAuthCall(method->name(), who, auth_, authz_.get(), *request, out.get()));
    Serialize(*out, response);
    return Status::Ok();
  }
  MLC_RETURN_IF_ERROR(Authorize(who, name, *request));
  if (name == "mlcore.v1.JobService/SubmitJob") {
    // The client prepared the job on its side; nothing is taken from the server's process.
    auto& r = static_cast<v1::SubmitJobRequest&>(*request);
    JobSubmission submission;
    *submission.job.mutable_spec() = r.spec();
    *submission.job.mutable_reproducibility() = r.reproducibility();
    submission.job.set_rerun_of(r.rerun_of());
    submission.secrets.insert(r.secret_values().begin(), r.secret_values().end());
    size_t attached = 0;
    for (const auto& [file, bytes] : r.attachments()) {
      attached += bytes.size();
      submission.attachments[file] = bytes;
    }
    if (attached > (size_t{16} << 20)) {
      return InvalidArgumentError(
          "the job's attachments exceed 16 MiB; commit or drop the "
          "uncommitted changes that make the git diff this large");
    }
    submission.request_id = r.request_id();
    MLC_ASSIGN_OR_RETURN(v1::Job job, client_.SubmitPreparedJob(std::move(submission)));
    Serialize(job, response);
    return Status::Ok();
  }
  if (name == "mlcore.v1.PipelineService/RunPipeline") {
    // The run belongs to the caller, not to the server's process.
    const auto& r = static_cast<const v1::RunPipelineRequest&>(*request);
    MLC_ASSIGN_OR_RETURN(v1::PipelineRun run, client_.RunPipeline(r, {}, {}, who.user.name()));
    Serialize(run, response);
    return Status::Ok();
  }
  if (name == "mlcore.v1.RegistryService/CreateWebhook") {
    const auto& r = static_cast<const v1::CreateWebhookRequest&>(*request);
    if (r.webhook().secret().source() == v1::SECRET_SOURCE_ENV && r.secret_value().empty()) {
      return FailedPreconditionError(
          "webhook secret " + r.webhook().secret().name() +
          " comes from the caller's environment, but its value was not sent (secret_value); the "
          "server never reads its own environment. Create the webhook through an mlcore SDK");
    }
  }
  if (name == "mlcore.v1.ArtifactService/GetUploadStatus") {
    auto& r = static_cast<v1::GetUploadStatusRequest&>(*request);
    MLC_RETURN_IF_ERROR(ValidateProjectName(r.project()));
    MLC_ASSIGN_OR_RETURN(auto status, client_.backend().GetUploadStatus(r));
    Serialize(status, response);
    return Status::Ok();
  }
  MLC_ASSIGN_OR_RETURN(std::unique_ptr<Message> out, Invoke(client_, method, *request));
  if (authz_) {
    MLC_RETURN_IF_ERROR(authz_->Filter(who, name, *request, out.get()));
    if (name == "mlcore.v1.ProjectService/CreateProject" ||
        name == "mlcore.v1.ProjectService/DeleteProject") {
      authz_->ForgetProjects();
    }
  }
  if (auth_ != nullptr && name == "mlcore.v1.SystemService/GetBackendInfo") {
    static_cast<v1::BackendInfo&>(*out).add_capabilities(v1::CAPABILITY_AUTH);
  }
  if (name == "mlcore.v1.TrackingService/LogBatch") {
    metrics_.AddPoints(static_cast<const v1::LogBatchResponse&>(*out).points_written());
  }
  Serialize(*out, response);
  return Status::Ok();
}

Status Dispatcher::RunStream(const Principal& who, StreamIo& call, const MethodDescriptor* method) {
  if (stopping_)
    return UnavailableError("the server is shutting down; retry against its successor");
  const std::string name = FullName(method);
  grpc::ByteBuffer bytes;
  if (name == "mlcore.v1.ArtifactService/UploadBlob") {
    v1::UploadBlobRequest message;
    if (!call.Read(&bytes)) return CancelledError("the upload stream ended before its header");
    MLC_RETURN_IF_ERROR(Parse(bytes, &message));
    if (!message.has_header()) {
      return InvalidArgumentError("the first UploadBlob message must carry the header");
    }
    const v1::UploadBlobHeader header = message.header();
    MLC_RETURN_IF_ERROR(Authorize(who, name, message));
    MLC_RETURN_IF_ERROR(ValidateProjectName(header.project()));
    Backend& backend = client_.backend();
    MLC_ASSIGN_OR_RETURN(int64_t committed, backend.BeginBlobUpload(header));
    if (header.offset() != committed) {
      return FailedPreconditionError(
          "upload " + header.upload_id() + " has " + std::to_string(committed) +
          " bytes committed; resume at offset " + std::to_string(committed));
    }
    Piece pending;
    pending.Reserve(kUploadFlushBytes + kUploadChunkSlack);
    PieceWriter writer(backend, header, committed);
    auto flush = [&]() -> Status {
      if (pending.size == 0) return Status::Ok();
      Piece piece;
      piece.Reserve(kUploadFlushBytes + kUploadChunkSlack);
      std::swap(piece, pending);
      return writer.Add(std::move(piece));
    };
    bool finish = message.finish();
    uint32_t crc = 0;
    while (!finish) {
      if (!call.Read(&bytes)) break;  // closed without finish: resumable
      MLC_RETURN_IF_ERROR(AppendUploadChunk(bytes, &pending, &finish, &crc));
      if (pending.size >= kUploadFlushBytes) MLC_RETURN_IF_ERROR(flush());
    }
    MLC_RETURN_IF_ERROR(flush());
    MLC_ASSIGN_OR_RETURN(committed, writer.Finish());
    v1::UploadBlobResponse response;
    if (finish) {
      MLC_ASSIGN_OR_RETURN(response,
                           backend.CommitBlobUpload(header.project(), header.upload_id()));
    } else {
      response.set_committed_bytes(committed);
    }
    response.set_received_crc32c(crc);
    call.Write(response);
    return Status::Ok();
  }
  if (name == "mlcore.v1.TrackingService/LogMetricsStream") {
    v1::LogMetricsStreamRequest message;
    v1::LogMetricsStreamResponse totals;
    std::string authorized_run;  // runs change rarely within a stream: check each new one
    while (call.Read(&bytes)) {
      message.Clear();
      MLC_RETURN_IF_ERROR(Parse(bytes, &message));
      if (authz_ && message.batch().run_id() != authorized_run) {
        MLC_RETURN_IF_ERROR(Authorize(who, name, message));
        authorized_run = message.batch().run_id();
      }
      MLC_ASSIGN_OR_RETURN(v1::LogBatchResponse applied, client_.LogBatch(message.batch()));
      totals.set_batches_received(totals.batches_received() + 1);
      if (applied.duplicate()) totals.set_duplicate_batches(totals.duplicate_batches() + 1);
      totals.set_points_written(totals.points_written() + applied.points_written());
      metrics_.AddPoints(applied.points_written());
    }
    if (call.Stopped()) return CancelledError("the metric stream was cancelled");
    call.Write(totals);
    return Status::Ok();
  }
  if (name == "mlcore.v1.TrackingService/IngestMetrics") {
    // One answer per batch, in order, once it is durable (LogBatch commits before returning); a
    // batch's own error goes into its answer and the stream goes on.
    v1::LogMetricsStreamRequest message;
    v1::IngestMetricsResponse ack;
    std::string authorized_run;  // the last run the caller was allowed to log to
    while (true) {
      const int got = call.ReadUnlessStopped(&bytes);
      if (got < 0) {
        return UnavailableError(
            "the server is shutting down; resend the batches not acknowledged to its successor");
      }
      if (got == 0) break;
      message.Clear();
      MLC_RETURN_IF_ERROR(Parse(bytes, &message));
      ack.Clear();
      ack.set_batch_id(message.batch().batch_id());
      if (authz_ && message.batch().run_id() != authorized_run) {
        if (Status allowed = Authorize(who, name, message); !allowed.ok()) {
          ack.set_error_code(static_cast<int32_t>(allowed.code()));
          ack.set_error_message(allowed.message());
          if (!call.Write(ack)) return CancelledError("the client went away");
          continue;
        }
        authorized_run = message.batch().run_id();
      }
      auto applied = client_.LogBatch(message.batch());
      if (applied.ok()) {
        ack.set_duplicate(applied->duplicate());
        ack.set_points_written(applied->points_written());
        metrics_.AddPoints(applied->points_written());
      } else {
        ack.set_error_code(static_cast<int32_t>(applied.status().code()));
        ack.set_error_message(applied.status().message());
      }
      if (!call.Write(ack)) return CancelledError("the client went away");
    }
    if (call.Stopped()) return CancelledError("the metric stream was cancelled");
    return Status::Ok();
  }
  if (name == "mlcore.v1.JobService/ExecJob") return RunExec(who, call);
  if (name == "mlcore.v1.JobService/PortForward") return RunPortForward(who, call);
  if (method->client_streaming()) {
    // Not served yet: still authenticated and authorized first, like every call.
    if (call.Read(&bytes)) {
      std::unique_ptr<Message> first = NewMessage(method->input_type());
      MLC_RETURN_IF_ERROR(Parse(bytes, first.get()));
      MLC_RETURN_IF_ERROR(Authorize(who, name, *first));
    }
    return UnimplementedError("method " + name +
                              " is part of the v1 API but this server does not serve it yet");
  }
  // Server streaming: one request, then every response the Client call emits.
  if (!call.Read(&bytes)) return CancelledError("the call ended before its request");
  std::unique_ptr<Message> request = NewMessage(method->input_type());
  MLC_RETURN_IF_ERROR(Parse(bytes, request.get()));
  MLC_RETURN_IF_ERROR(Authorize(who, name, *request));
  if (name == "mlcore.v1.JobService/WatchJobs" && authz_) {
    // Listed jobs must be visible to the caller, exactly as a log read of each would be: a
    // hidden job is NOT_FOUND in the same words as one that does not exist.
    for (const std::string& id : static_cast<const v1::WatchJobsRequest&>(*request).ids()) {
      v1::StreamJobLogsRequest one;
      one.set_id(id);
      MLC_RETURN_IF_ERROR(Authorize(who, "mlcore.v1.JobService/StreamJobLogs", one));
    }
  }
  if (name == "mlcore.v1.ArtifactService/DownloadBlob") {
    auto& r = static_cast<v1::DownloadBlobRequest&>(*request);
    MLC_RETURN_IF_ERROR(ValidateProjectName(r.project()));
    return client_.backend().ReadBlob(r, [&](const v1::DownloadBlobResponse& chunk) {
      return !call.Stopped() && call.Write(chunk);
    });
  }
  return InvokeStream(
      client_, method, *request,
      [&](const Message& out) {
        // Unfiltered watches (no project named) see only events of projects the caller may read.
        if (authz_ && !authz_->MayReceive(who, name, out)) return true;
        return call.Write(out);
      },
      [&] { return !call.Stopped(); });
}

// ExecJob: the first message starts the command; an empty response says it started (so the
// caller gets start errors as the call's status); then stdin flows in on a thread of its own
// while output flows out, and the last response carries the exit code.
Status Dispatcher::RunExec(const Principal& who, StreamIo& call) {
  const std::string name = "mlcore.v1.JobService/ExecJob";
  grpc::ByteBuffer bytes;
  if (!call.Read(&bytes)) return CancelledError("the call ended before its first message");
  v1::ExecJobRequest first;
  MLC_RETURN_IF_ERROR(Parse(bytes, &first));
  if (first.id().empty()) {
    return InvalidArgumentError("the first ExecJob message must name the job (id)");
  }
  MLC_RETURN_IF_ERROR(Authorize(who, name, first));
  MLC_ASSIGN_OR_RETURN(std::unique_ptr<ExecSession> session, client_.ExecJob(first));
  if (!call.Write(v1::ExecJobResponse())) {
    session->Cancel();
    return CancelledError("the client went away");
  }
  std::atomic<bool> done{false};
  std::thread input([&] {
    grpc::ByteBuffer in;
    v1::ExecJobRequest message;
    bool writable = true;
    while (true) {
      const int got = call.ReadUnless(&in, [&] { return done.load(); });
      if (got < 0) {
        if (!done) session->Cancel();  // the client cancelled or the server is stopping
        return;
      }
      if (got == 0) break;  // the client sends nothing more: end of input
      message.Clear();
      if (!Parse(in, &message).ok()) continue;
      if (writable && !message.stdin_data().empty()) {
        writable = session->Write(message.stdin_data()).ok();  // else the command exited
      }
      if (message.close_stdin()) break;
    }
    (void)session->CloseStdin();
  });
  v1::ExecJobResponse out;
  Status read = session->Read(
      [&](ExecStream stream, std::string_view data) {
        out.Clear();
        if (stream == ExecStream::kStdout) {
          out.set_stdout_data(std::string(data));
        } else {
          out.set_stderr_data(std::string(data));
        }
        return call.Write(out);
      },
      [&] { return !call.Stopped(); });
  if (!read.ok() || call.Stopped()) session->Cancel();
  Result<int> code = session->Wait();
  done = true;
  input.join();
  MLC_RETURN_IF_ERROR(read);
  if (call.Stopped()) return CancelledError("the exec call was cancelled; the command was killed");
  MLC_RETURN_IF_ERROR(code.status());
  out.Clear();
  out.set_exit_code(*code);
  call.Write(out);
  return Status::Ok();
}

// PortForward: the first message connects (an empty response says the connection is open), then
// bytes flow both ways; the call ends when the job's side closes the connection.
Status Dispatcher::RunPortForward(const Principal& who, StreamIo& call) {
  const std::string name = "mlcore.v1.JobService/PortForward";
  grpc::ByteBuffer bytes;
  if (!call.Read(&bytes)) return CancelledError("the call ended before its first message");
  v1::PortForwardRequest first;
  MLC_RETURN_IF_ERROR(Parse(bytes, &first));
  if (first.id().empty()) {
    return InvalidArgumentError("the first PortForward message must name the job (id)");
  }
  MLC_RETURN_IF_ERROR(Authorize(who, name, first));
  MLC_ASSIGN_OR_RETURN(std::unique_ptr<PortConnection> connection, client_.PortForward(first));
  if (!call.Write(v1::PortForwardResponse())) {
    connection->Cancel();
    return CancelledError("the client went away");
  }
  std::atomic<bool> done{false};
  std::thread input([&] {
    grpc::ByteBuffer in;
    v1::PortForwardRequest message;
    while (true) {
      const int got = call.ReadUnless(&in, [&] { return done.load(); });
      if (got < 0) {
        if (!done) connection->Cancel();
        return;
      }
      if (got == 0) break;  // the client half-closed
      message.Clear();
      if (!Parse(in, &message).ok()) continue;
      if (!message.data().empty() && !connection->Write(message.data()).ok()) return;
    }
    (void)connection->CloseWrite();
  });
  v1::PortForwardResponse out;
  Status read = connection->Read(
      [&](std::string_view data) {
        out.set_data(std::string(data));
        return call.Write(out);
      },
      [&] { return !call.Stopped(); });
  done = true;
  connection->Cancel();
  input.join();
  MLC_RETURN_IF_ERROR(read);
  if (call.Stopped()) return CancelledError("the port-forward call was cancelled");
  return Status::Ok();
}

}  // namespace mlcore::server
