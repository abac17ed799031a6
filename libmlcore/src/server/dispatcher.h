// The server's rpc handlers (internal to server.cc): decode a call by reflection, act as its
// caller, run it through the Client, encode the answer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "mlcore/status.h"
#include "server/metrics.h"

namespace google::protobuf {
class MethodDescriptor;
}  // namespace google::protobuf

namespace mlcore {
class Client;
}  // namespace mlcore

namespace mlcore::server {

class StreamCall;

class Dispatcher {
 public:
  // `post` runs work on the server's worker threads; `client` outlives the dispatcher.
  Dispatcher(Client& client, std::function<void(std::function<void()>)> post, bool access_log,
             ServerMetrics& metrics)
      : client_(client), post_(std::move(post)), access_log_(access_log), metrics_(metrics) {}

  // A unary call: decoded and run on a worker thread; the reactor finishes it.
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx,
                                  const google::protobuf::MethodDescriptor* method,
                                  const grpc::ByteBuffer* request, grpc::ByteBuffer* response);
  // A streaming call (client, server or bidi), run on a thread of its own.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Stream(
      grpc::CallbackServerContext* ctx, const google::protobuf::MethodDescriptor* method);

  // Open streams end at their next poll, and no new ones start work.
  void BeginShutdown() { stopping_ = true; }
  // Blocks until every stream thread has finished.
  void WaitStreams();
  // Streams open now.
  int OpenStreams();

 private:
  friend class StreamCall;
  Status RunUnary(grpc::CallbackServerContext* ctx,
                  const google::protobuf::MethodDescriptor* method, const grpc::ByteBuffer& request,
                  grpc::ByteBuffer* response);
  Status RunStream(StreamCall& call, const google::protobuf::MethodDescriptor* method);
  void Log(const google::protobuf::MethodDescriptor* method, const std::string& user,
           const Status& status, double ms) const;
  void StreamEnded();

  Client& client_;
  std::function<void(std::function<void()>)> post_;
  bool access_log_;
  ServerMetrics& metrics_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int streams_ = 0;
};

// The caller's user name for a call: the SDK's `mlc-user` metadata when it is a plausible login
// name, else the server's own user.
std::string CallerOf(const grpc::ServerContextBase& ctx);

}  // namespace mlcore::server
