// `mlc server`: every service of proto/mlcore/v1 over gRPC, on the same engine as local://.
//
// The services are thin: each rpc is decoded by reflection and handed to the same Client calls
// that mlc_invoke and Python use (core/invoke.h), over a LocalBackend on the server's state
// directory. Only what cannot be a plain Client call has its own handler: SubmitJob (the client
// prepared the job), the blob streams (UploadBlob, DownloadBlob, GetUploadStatus) and the metric
// ingest streams (LogMetricsStream, and IngestMetrics, which acknowledges each batch once durable). The gRPC health service and server reflection are served too,
// so `grpcurl -plaintext 127.0.0.1:7070 list` works.
//
// Identity: until tokens are enforced (auth.proto), the server runs only with `insecure_local`,
// listening on loopback addresses or Unix sockets; the caller's user name is taken from the
// `mlc-user` metadata the SDK sends (the server's own user when absent), and recorded on jobs,
// runs and registry changes.
//
// Shutdown: Shutdown() stops accepting calls, ends open streams (log follows, registry watches)
// at their next poll, lets in-flight unary calls finish within the grace period and cancels what
// remains; acknowledged metric batches are durable before they are acknowledged.
//
// Thread safety: Start, Shutdown and Wait may be called from different threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::server {

struct ServerOptions {
  // Where to listen: "HOST:PORT" (port 0 picks a free one), "grpc://HOST:PORT" or
  // "unix:///abs/path.sock" / "grpc+unix:///abs/path.sock". Default: 127.0.0.1:7070.
  std::vector<std::string> listen;
  // The state directory (as local://DIR would use). Required.
  std::string state_dir;
  // Serve without authentication: refuses any listen address but loopback and Unix sockets.
  bool insecure_local = false;
  // Threads running unary calls; 0 = max(4, 2 x cores). Streams get a thread each.
  int workers = 0;
  // Log one line per call (method, user, code, milliseconds) at info level.
  bool access_log = false;
  // Serve Prometheus metrics over plain HTTP at "HOST:PORT" (GET /metrics); empty = off. Calls
  // and latencies per rpc, metric points ingested, the unary queue, open streams, running jobs
  // and the data cache's hit ratio per tier.
  std::string metrics_listen;
};

class Server {
 public:
  // Opens the state directory and starts listening. Errors: INVALID_ARGUMENT (address, or a
  // non-loopback address without auth), FAILED_PRECONDITION (insecure_local not set), UNAVAILABLE
  // (an address cannot be bound: in use or not permitted), and the state directory's errors.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options);
  virtual ~Server() = default;

  // The addresses actually bound, as client URIs ("grpc://127.0.0.1:40123",
  // "grpc+unix:///run/mlc.sock"), in the order of ServerOptions::listen.
  virtual std::vector<std::string> uris() const = 0;

  // "http://HOST:PORT/metrics" when ServerOptions::metrics_listen was set, else empty.
  virtual std::string metrics_url() const = 0;

  // Graceful stop: see the file comment. Idempotent.
  virtual void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10)) = 0;

  // Blocks until Shutdown() has completed.
  virtual void Wait() = 0;
};

}  // namespace mlcore::server
