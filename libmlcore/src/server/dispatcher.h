// The server's rpc handlers (internal to server.cc): decode a call by reflection, act as its
// caller, run it through the Client, encode the answer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_set>

#include <grpcpp/grpcpp.h>

#include "mlcore/status.h"
#include "server/auth_store.h"
#include "server/authz.h"
#include "server/metrics.h"

namespace google::protobuf {
class Descriptor;
class MethodDescriptor;
}  // namespace google::protobuf

namespace mlcore {
class Client;
}  // namespace mlcore

namespace mlcore::server {

class StreamCall;

// One streaming call as the handlers see it, whatever carries it (a gRPC stream, or an HTTP
// request answered with Server-Sent Events): messages in, messages out.
class StreamIo {
 public:
  virtual ~StreamIo() = default;
  // The next message from the client; false at the end of its stream (or on cancellation).
  virtual bool Read(grpc::ByteBuffer* out) = 0;
  // As Read, but gives up when the call is stopped (the server shutting down) or once `give_up`
  // (polled every 100 ms) is true: 1 = `out` holds the next message, 0 = the client's stream
  // ended, -1 = gave up. After -1 a read may stay outstanding: finish the call.
  virtual int ReadUnless(grpc::ByteBuffer* out, const std::function<bool()>& give_up) = 0;
  int ReadUnlessStopped(grpc::ByteBuffer* out) { return ReadUnless(out, {}); }
  // Sends one message; false when the call is gone.
  virtual bool Write(const google::protobuf::Message& message) = 0;
  // True once the client cancelled, the call's deadline passed or the server is stopping.
  virtual bool Stopped() const = 0;
};

class Dispatcher {
 public:
  // `post` runs work on the server's worker threads; `client` outlives the dispatcher. `auth`
  // (outliving it too) authenticates callers and checks their roles; null serves without auth
  // (--insecure-local: every caller is an administrator named by its `mlc-user` metadata).
  Dispatcher(Client& client, std::function<void(std::function<void()>)> post, bool access_log,
             ServerMetrics& metrics, AuthStore* auth)
      : client_(client),
        post_(std::move(post)),
        access_log_(access_log),
        metrics_(metrics),
        auth_(auth),
        authz_(auth != nullptr ? std::make_unique<Authorizer>(client, *auth) : nullptr),
        quick_reads_(QuickReads()) {}

  // A unary call: decoded and run on a worker thread; the reactor finishes it. A quick read by
  // key (GetJob, ResolveModelUri, ...) runs on the calling gRPC thread instead when no other such
  // thread is running one (see Unary in dispatcher.cc).
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx,
                                  const google::protobuf::MethodDescriptor* method,
                                  const grpc::ByteBuffer* request, grpc::ByteBuffer* response);
  // A streaming call (client, server or bidi), run on a thread of its own.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Stream(
      grpc::CallbackServerContext* ctx, const google::protobuf::MethodDescriptor* method);

  // The same paths for calls that arrive over HTTP (http_gateway.cc): the caller named by an
  // `Authorization: Bearer <token>` header value (empty when absent) or, without auth, by
  // `user_hint`; a unary call (logged and counted like a gRPC one); a streaming call.
  Result<Principal> IdentifyHttp(std::string_view authorization, std::string_view user_hint);
  Status CallUnary(const Principal& who, const google::protobuf::MethodDescriptor* method,
                   const google::protobuf::Message& request, google::protobuf::Message* response);
  Status CallStream(const Principal& who, const google::protobuf::MethodDescriptor* method,
                    StreamIo& io);
  bool stopping() const { return stopping_; }

  // Open streams end at their next poll, and no new ones start work.
  void BeginShutdown() { stopping_ = true; }
  // Blocks until every stream thread has finished.
  void WaitStreams();
  // Streams open now.
  int OpenStreams();

 private:
  friend class StreamCall;
  // The methods Unary may run on gRPC's callback thread: reads of one object by key.
  static std::unordered_set<const google::protobuf::MethodDescriptor*> QuickReads();
  // Identifies the caller, runs the call as them, records and logs it.
  grpc::Status Serve(const grpc::ServerContextBase& ctx,
                     const google::protobuf::MethodDescriptor* method,
                     const grpc::ByteBuffer& request, grpc::ByteBuffer* response);
  // Who is calling: the token's (or client certificate's) user. Errors: UNAUTHENTICATED.
  Result<Principal> Identify(const grpc::ServerContextBase& ctx);
  Result<Principal> IdentifyToken(std::string_view authorization);
  Status RunUnary(const Principal& who, const google::protobuf::MethodDescriptor* method,
                  const grpc::ByteBuffer& request, grpc::ByteBuffer* response);
  Status RunStream(const Principal& who, StreamIo& call,
                   const google::protobuf::MethodDescriptor* method);
  // The bidirectional job calls (ExecJob, PortForward), as thin adapters over the Client's.
  Status RunExec(const Principal& who, StreamIo& call);
  Status RunPortForward(const Principal& who, StreamIo& call);
  Status Authorize(const Principal& who, const std::string& method,
                   const google::protobuf::Message& request);
  void Log(const google::protobuf::MethodDescriptor* method, const std::string& user,
           const Status& status, double ms) const;
  void StreamStarted();
  void StreamEnded();

  Client& client_;
  std::function<void(std::function<void()>)> post_;
  bool access_log_;
  ServerMetrics& metrics_;
  AuthStore* auth_;
  std::unique_ptr<Authorizer> authz_;
  const std::unordered_set<const google::protobuf::MethodDescriptor*> quick_reads_;
  std::atomic<bool> quick_read_running_{false};  // a callback thread is running a quick read
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int streams_ = 0;
};

// An empty message of a generated type (a method's request or response).
std::unique_ptr<google::protobuf::Message> NewMessage(const google::protobuf::Descriptor* type);

// The caller's user name for a call: the SDK's `mlc-user` metadata when it is a plausible login
// name, else the server's own user.
std::string CallerOf(const grpc::ServerContextBase& ctx);

}  // namespace mlcore::server
