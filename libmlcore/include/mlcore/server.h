// `mlc server`: every service of proto/mlcore/v1 over gRPC, on the same engine as local://.
//
// The services are thin: each rpc is decoded by reflection and handed to the same Client calls
// that mlc_invoke and Python use (core/invoke.h), over a LocalBackend on the server's state
// directory. Only what cannot be a plain Client call has its own handler: SubmitJob (the client
// prepared the job), the blob streams (UploadBlob, DownloadBlob, GetUploadStatus) and the metric
// ingest streams (LogMetricsStream, and IngestMetrics, which acknowledges each batch once durable).
// The gRPC health service and server reflection are served too, so `grpcurl -plaintext
// 127.0.0.1:7070 list` works.
//
// Identity (auth.proto): callers authenticate with an API token sent as `authorization: Bearer`
// metadata, or with a TLS client certificate whose common name is a user; every rpc checks the
// caller's role on the project it touches (server/authz.h). Users, tokens and role bindings live in
// STATE/auth.db; the first administrator is created out of band (`mlc server user add NAME
// --admin --token`). TCP listens beyond loopback need TLS (a certificate and key from files), so
// tokens never cross a network in clear. With `insecure_local` there is no authentication: the
// server listens only on loopback addresses or Unix sockets, takes the caller's name from the
// `mlc-user` metadata the SDK sends, and treats every caller as an administrator.
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
#include "mlcore/v1/auth.pb.h"

namespace mlcore {
class Client;
}  // namespace mlcore

namespace mlcore::server {

struct ServerOptions {
  // Where to listen: "HOST:PORT" (port 0 picks a free one), "grpc://HOST:PORT" or
  // "unix:///abs/path.sock" / "grpc+unix:///abs/path.sock". Default: 127.0.0.1:7070.
  std::vector<std::string> listen;
  // The state directory (as local://DIR would use). Required.
  std::string state_dir;
  // The backend the services run on: empty = `local://<state_dir>`; a `slurm+http://`,
  // `slurm+https://` or `slurm+unix://` URI fronts a Slurm cluster (docs/slurm.md), its job store
  // in `state_dir` unless the URI names a `state=`. Users, tokens and roles stay in `state_dir`.
  std::string engine;
  // Serve without authentication: refuses any listen address but loopback and Unix sockets.
  bool insecure_local = false;
  // TLS for TCP listens: the server's certificate chain and private key (PEM files). Required for
  // any listen address beyond loopback.
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM file of CAs whose client certificates are accepted (optional: clients without a
  // certificate still authenticate with tokens); a verified certificate's common name is the user.
  std::string tls_client_ca_file;
  // Threads running unary calls; 0 = max(4, 2 x cores). Streams get a thread each. Quick reads
  // by key may run on one of gRPC's callback threads instead (docs/server.md, Threads).
  int workers = 0;
  // Log one line per call (method, user, code, milliseconds) at info level.
  bool access_log = false;
  // Serve Prometheus metrics over plain HTTP at "HOST:PORT" (GET /metrics); empty = off. Calls
  // and latencies per rpc, metric points ingested, the unary queue, open streams, running jobs
  // and the data cache's hit ratio per tier.
  std::string metrics_listen;
  // Serve the API as HTTP/JSON, the OpenAPI document and the web UI at "HOST:PORT" (port 0 picks
  // one); empty = off. HTTPS with the TLS files above; beyond loopback only with them. Same
  // users, tokens and roles as gRPC (docs/http.md).
  std::string http_listen;
};

class Server {
 public:
  // Opens the state directory and starts listening. Errors: INVALID_ARGUMENT (address, a
  // non-loopback address without auth or without TLS, unreadable TLS files), FAILED_PRECONDITION
  // (auth on but no user exists yet), UNAVAILABLE (an address cannot be bound: in use or not
  // permitted), and the state directory's errors.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options);
  virtual ~Server() = default;

  // The addresses actually bound, as client URIs ("grpc://127.0.0.1:40123",
  // "grpcs://host:7443" with TLS, "grpc+unix:///run/mlc.sock"), in the order of
  // ServerOptions::listen.
  virtual std::vector<std::string> uris() const = 0;

  // A client of this server over an in-process gRPC channel: every call is a real rpc (encoded,
  // dispatched, authorized), without sockets. `token` authenticates it when auth is on.
  virtual Result<std::unique_ptr<Client>> InProcessClient(const std::string& token = {}) = 0;

  // "http://HOST:PORT/metrics" when ServerOptions::metrics_listen was set, else empty.
  virtual std::string metrics_url() const = 0;

  // "http://HOST:PORT" (or https://) when ServerOptions::http_listen was set, else empty.
  virtual std::string http_url() const = 0;

  // Graceful stop: see the file comment. Idempotent.
  virtual void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10)) = 0;

  // Blocks until Shutdown() has completed.
  virtual void Wait() = 0;
};

// The OpenAPI 3.1 document of the HTTP/JSON API (what `GET /api/v1/openapi.json` serves).
Result<std::string> OpenApiJson();

// Administration of a server's users in its state directory (STATE/auth.db), for `mlc server user`:
// users are created out of band, never deleted (disabled instead). Safe while the server runs: its
// next call sees the change.
// Errors: INVALID_ARGUMENT (name), ALREADY_EXISTS.
Result<v1::User> AddUser(const std::string& state_dir, const v1::User& user);
// Errors: NOT_FOUND.
Result<v1::User> SetUserDisabled(const std::string& state_dir, const std::string& name,
                                 bool disabled);
Result<std::vector<v1::User>> ListUsers(const std::string& state_dir);
// A new API token for `user` (its secret is in the answer, once); ttl 0 = never expires.
Result<v1::CreateTokenResponse> MintToken(const std::string& state_dir, const std::string& user,
                                          const std::string& description, std::chrono::seconds ttl);

}  // namespace mlcore::server
