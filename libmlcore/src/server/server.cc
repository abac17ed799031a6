#include "mlcore/server.h"

#include <absl/synchronization/mutex.h>
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/codegen/service_type.h>
#include <spdlog/spdlog.h>

#include "core/schema_files.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "mlcore/invoke.h"
#include "remote/grpc_backend.h"
#include "remote/grpc_status.h"
#include "server/auth_store.h"
#include "server/dispatcher.h"
#include "server/http_gateway.h"
#include "server/http_routes.h"
#include "server/metrics.h"
#include "util/fs.h"

namespace mlcore::server {
namespace {

using google::protobuf::MethodDescriptor;

// Every service the API defines.
std::vector<std::string> ServiceNames() {
  std::vector<std::string> names;
  for (const std::string& method : InvokableMethods()) {
    std::string service = method.substr(0, method.find('/'));
    if (std::find(names.begin(), names.end(), service) == names.end()) names.push_back(service);
  }
  for (const char* extra : {"mlcore.v1.AuthService", "mlcore.v1.PipelineService"}) {
    if (std::find(names.begin(), names.end(), extra) == names.end()) names.emplace_back(extra);
  }
  return names;
}

// Runs unary calls off gRPC's callback threads (a call may block on SQLite or the disk).
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() { Stop(); }
  size_t QueueLength() {
    std::lock_guard lock(mu_);
    return queue_.size();
  }
  void Post(std::function<void()> work) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(work));
    cv_.notify_one();
  }
  // Runs what is queued, then joins the threads.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_) t.join();
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> work;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// One gRPC service built from a proto service descriptor: unary methods get a raw unary
// callback handler, streaming ones a raw bidirectional handler (the wire format is the same;
// registering them as bidi lets one bridge serve client, server and bidi streams).
class ReflectedService final : public grpc::Service {
 public:
  ReflectedService(const google::protobuf::ServiceDescriptor* service, Dispatcher* dispatcher) {
    for (int i = 0; i < service->method_count(); ++i) {
      const MethodDescriptor* method = service->method(i);
      names_.push_back("/" + service->full_name() + "/" + method->name());
      const bool streaming = method->client_streaming() || method->server_streaming();
      AddMethod(new grpc::internal::RpcServiceMethod(names_.back().c_str(),
                                                     streaming
                                                         ? grpc::internal::RpcMethod::BIDI_STREAMING
                                                         : grpc::internal::RpcMethod::NORMAL_RPC,
                                                     nullptr));
      if (streaming) {
        MarkMethodRawCallback(
            i, new grpc::internal::CallbackBidiHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                   [dispatcher, method](grpc::CallbackServerContext* ctx) {
                     return dispatcher->Stream(ctx, method);
                   }));
      } else {
        MarkMethodRawCallback(
            i,
            new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                [dispatcher, method](grpc::CallbackServerContext* ctx,
                                     const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
                  return dispatcher->Unary(ctx, method, request, response);
                }));
      }
    }
  }

 private:
  std::deque<std::string> names_;  // RpcServiceMethod keeps the pointer
};

bool IsLoopbackHost(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

struct ListenAddress {
  std::string grpc_address;  // what ServerBuilder takes
  std::string uri_prefix;    // "grpc://HOST:" or "grpc+unix://PATH"
  bool tcp = false;
  int port = 0;
};

Result<ListenAddress> ParseListen(std::string text, bool insecure_local, bool tls) {
  ListenAddress out;
  for (const char* prefix : {"grpc+unix://", "unix://"}) {
    if (text.starts_with(prefix)) {
      std::string path = text.substr(std::string_view(prefix).size());
      if (path.empty() || path[0] != '/') {
        return InvalidArgumentError("listen address \"" + text +
                                    "\" needs an absolute socket path: unix:///run/mlc.sock");
      }
      out.grpc_address = "unix://" + path;
      out.uri_prefix = "grpc+unix://" + path;
      return out;
    }
  }
  if (text.starts_with("grpc://")) text = text.substr(7);
  if (text.starts_with("grpcs://")) text = text.substr(8);
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgumentError("listen address \"" + text +
                                "\" must be HOST:PORT (127.0.0.1:7070) or unix:///path.sock");
  }
  std::string host = text.substr(0, colon);
  if (insecure_local && !IsLoopbackHost(host)) {
    return InvalidArgumentError(
        "--insecure-local serves without authentication, so it listens only on loopback "
        "addresses (127.0.0.1, ::1, localhost) or Unix sockets, not \"" +
        host + "\"");
  }
  if (!insecure_local && !tls && !IsLoopbackHost(host)) {
    return InvalidArgumentError(
        "listening on \"" + host +
        "\" without TLS would send API tokens across the network in clear; give "
        "--tls-cert and --tls-key (PEM files), or listen on 127.0.0.1 or a Unix socket");
  }
  out.grpc_address = text;
  out.uri_prefix = std::string(tls ? "grpcs://" : "grpc://") + host + ":";
  out.tcp = true;
  return out;
}

class ServerImpl final : public Server {
 public:
  ServerImpl(std::unique_ptr<Client> client, std::unique_ptr<AuthStore> auth,
             const ServerOptions& options)
      : client_(std::move(client)),
        auth_(std::move(auth)),
        pool_(options.workers > 0
                  ? options.workers
                  : std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()))),
        dispatcher_(
            *client_, [this](std::function<void()> work) { pool_.Post(std::move(work)); },
            options.access_log, metrics_, auth_.get()) {}

  Status Listen(const ServerOptions& options) {
    std::vector<std::string> addresses = options.listen;
    if (addresses.empty()) addresses.emplace_back("127.0.0.1:7070");
    EnsureSchemaLinked();
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    listens_.reserve(addresses.size());
    const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
    std::shared_ptr<grpc::ServerCredentials> tcp_credentials = grpc::InsecureServerCredentials();
    if (tls) {
      MLC_ASSIGN_OR_RETURN(tcp_credentials, TlsCredentials(options));
    }
    for (const auto& a : addresses) {
      MLC_ASSIGN_OR_RETURN(ListenAddress l, ParseListen(a, options.insecure_local, tls));
      listens_.push_back(l);
    }
    for (auto& l : listens_) {
      // Unix sockets are guarded by file permissions; tokens are still checked on them.
      builder.AddListeningPort(l.grpc_address,
                               l.tcp ? tcp_credentials : grpc::InsecureServerCredentials(),
                               l.tcp ? &l.port : nullptr);
    }
    // Requests above 64 MiB are refused (RESOURCE_EXHAUSTED) before they are read; blobs stream.
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.SetMaxSendMessageSize(-1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // A second server on a taken port must fail, not share it (gRPC defaults to SO_REUSEPORT).
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    const auto* pool = google::protobuf::DescriptorPool::generated_pool();
    for (const std::string& name : ServiceNames()) {
      const auto* service = pool->FindServiceByName(name);
      if (service == nullptr) continue;
      services_.push_back(std::make_unique<ReflectedService>(service, &dispatcher_));
      builder.RegisterService(services_.back().get());
    }
    server_ = builder.BuildAndStart();
    if (!server_) {
      std::string list;
      for (const auto& l : listens_) list += (list.empty() ? "" : ", ") + l.grpc_address;
      return UnavailableError("cannot listen on " + list +
                              ": the address is in use, not local to this machine, or not "
                              "permitted; pick another with --listen");
    }
    for (const auto& l : listens_) {
      if (l.tcp && l.port == 0) {
        Shutdown(std::chrono::milliseconds(0));
        return UnavailableError("cannot listen on " + l.grpc_address +
                                ": the address is in use or not permitted");
      }
    }
    if (!options.metrics_listen.empty()) {
      auto host = options.metrics_listen.substr(0, options.metrics_listen.rfind(':'));
      if (options.insecure_local && !IsLoopbackHost(host)) {
        Shutdown(std::chrono::milliseconds(0));
        return InvalidArgumentError("--insecure-local serves metrics only on loopback, not \"" +
                                    host + "\"");
      }
      auto http = MetricsHttp::Start(options.metrics_listen, [this] { return RenderMetrics(); });
      if (!http.ok()) {
        Shutdown(std::chrono::milliseconds(0));
        return http.status();
      }
      metrics_http_ = std::move(http).value();
    }
    if (!options.http_listen.empty()) {
      auto host_port = ParseHttpListen(options.http_listen);
      if (!host_port.ok()) {
        Shutdown(std::chrono::milliseconds(0));
        return host_port.status();
      }
      const std::string& host = host_port->first;
      const bool loopback = IsLoopbackHost(host);
      if (options.insecure_local && !loopback) {
        Shutdown(std::chrono::milliseconds(0));
        return InvalidArgumentError("--insecure-local serves HTTP only on loopback, not \"" + host +
                                    "\"");
      }
      const bool https = !options.tls_cert_file.empty();
      if (!loopback && !https) {
        Shutdown(std::chrono::milliseconds(0));
        return InvalidArgumentError(
            "serving HTTP on \"" + host +
            "\" would send tokens in clear text: give --tls-cert and --tls-key (PEM files), or "
            "listen on 127.0.0.1");
      }
      HttpGatewayOptions http_options;
      http_options.listen = options.http_listen;
      if (https) {
        http_options.tls_cert_file = options.tls_cert_file;
        http_options.tls_key_file = options.tls_key_file;
      }
      http_options.services = ServiceNames();
      auto gateway = HttpGateway::Start(http_options, dispatcher_);
      if (!gateway.ok()) {
        Shutdown(std::chrono::milliseconds(0));
        return gateway.status();
      }
      http_ = std::move(gateway).value();
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Client>> InProcessClient(const std::string& token) override {
    if (!server_) return FailedPreconditionError("the server is not running");
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    ResolvedConfig config;
    config.backend = "grpc+inproc://" + listens_.at(0).grpc_address;
    config.backend_source = "argument";
    config.project_source = "unset";
    return std::make_unique<Client>(
        remote::GrpcBackendOnChannel(config.backend, server_->InProcessChannel(args), token),
        config);
  }

  std::string metrics_url() const override {
    return metrics_http_ ? metrics_http_->url() : std::string();
  }

  std::string http_url() const override { return http_ ? http_->url() : std::string(); }

  // The recorded metrics plus the gauges read at scrape time.
  std::string RenderMetrics() {
    std::string out = metrics_.Render();
    out +=
        "# HELP mlcore_unary_queue_length Unary calls waiting for a worker.\n"
        "# TYPE mlcore_unary_queue_length gauge\n"
        "mlcore_unary_queue_length " +
        std::to_string(pool_.QueueLength()) + "\n";
    out +=
        "# HELP mlcore_open_streams Streaming calls open now.\n"
        "# TYPE mlcore_open_streams gauge\n"
        "mlcore_open_streams " +
        std::to_string(dispatcher_.OpenStreams()) + "\n";
    v1::ListJobsRequest running;
    running.set_project("*");
    running.add_states(v1::JOB_STATE_RUNNING);
    running.set_page_size(1000);
    if (auto jobs = client_->ListJobs(running); jobs.ok()) {
      out +=
          "# HELP mlcore_jobs_running Jobs running now (first 1000 counted).\n"
          "# TYPE mlcore_jobs_running gauge\n"
          "mlcore_jobs_running " +
          std::to_string(jobs->jobs_size()) + "\n";
    }
    if (auto stats = client_->GetCacheStats(); stats.ok()) {
      out +=
          "# HELP mlcore_cache_hit_ratio Loads served by a data-cache tier / loads that looked "
          "in it.\n# TYPE mlcore_cache_hit_ratio gauge\n";
      for (const auto& tier : stats->tiers()) {
        const int64_t looked = tier.hits() + tier.misses();
        std::string name = v1::CacheTier_Name(tier.tier());
        out += "mlcore_cache_hit_ratio{tier=\"" + name + "\"} " +
               std::to_string(looked == 0 ? 0.0 : static_cast<double>(tier.hits()) / looked) + "\n";
      }
    }
    return out;
  }

  std::vector<std::string> uris() const override {
    std::vector<std::string> out;
    for (const auto& l : listens_) {
      out.push_back(l.tcp ? l.uri_prefix + std::to_string(l.port) : l.uri_prefix);
    }
    return out;
  }

  void Shutdown(std::chrono::milliseconds grace) override {
    std::call_once(shutdown_once_, [&] {
      if (metrics_http_) metrics_http_->Stop();
      dispatcher_.BeginShutdown();  // streams end at their next poll
      if (http_) http_->Stop();
      if (server_) server_->Shutdown(std::chrono::system_clock::now() + grace);
      dispatcher_.WaitStreams();
      pool_.Stop();
      {
        std::lock_guard lock(mu_);
        stopped_ = true;
      }
      cv_.notify_all();
    });
  }

  void Wait() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopped_; });
  }

  ~ServerImpl() override { Shutdown(std::chrono::milliseconds(0)); }

 private:
  static Result<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials(
      const ServerOptions& options) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return InvalidArgumentError("TLS needs both --tls-cert and --tls-key");
    }
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    auto cert = util::ReadFile(options.tls_cert_file);
    if (!cert.ok())
      return InvalidArgumentError("cannot read --tls-cert: " + cert.status().message());
    auto key = util::ReadFile(options.tls_key_file);
    if (!key.ok()) return InvalidArgumentError("cannot read --tls-key: " + key.status().message());
    if (cert->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return InvalidArgumentError(options.tls_cert_file + " holds no PEM certificate");
    }
    if (key->find("PRIVATE KEY-----") == std::string::npos) {
      return InvalidArgumentError(options.tls_key_file + " holds no PEM private key");
    }
    pair.cert_chain = *cert;
    pair.private_key = *key;
    ssl.pem_key_cert_pairs.push_back(pair);
    if (!options.tls_client_ca_file.empty()) {
      auto ca = util::ReadFile(options.tls_client_ca_file);
      if (!ca.ok()) {
        return InvalidArgumentError("cannot read --tls-client-ca: " + ca.status().message());
      }
      ssl.pem_root_certs = *ca;
      // A certificate is checked when presented; clients without one use tokens.
      ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    return grpc::SslServerCredentials(ssl);
  }

  std::unique_ptr<Client> client_;
  std::unique_ptr<AuthStore> auth_;
  ServerMetrics metrics_;
  WorkerPool pool_;
  Dispatcher dispatcher_;
  std::unique_ptr<MetricsHttp> metrics_http_;
  std::unique_ptr<HttpGateway> http_;
  std::vector<ListenAddress> listens_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  std::once_flag shutdown_once_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace

Result<std::string> OpenApiJson() {
  MLC_ASSIGN_OR_RETURN(std::vector<HttpRoute> routes, BuildHttpRoutes(ServiceNames()));
  return OpenApiDocument(routes);
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  // Debian builds abseil without NDEBUG, so every absl::Mutex in gRPC feeds a deadlock-detection
  // graph (2-4% of a unary call's CPU in the server's profile); release builds of abseil skip it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (options.state_dir.empty()) return InvalidArgumentError("the server needs a state directory");
  std::unique_ptr<AuthStore> auth;
  if (!options.insecure_local) {
    MLC_ASSIGN_OR_RETURN(auth, AuthStore::Open(util::AbsolutePath(options.state_dir)));
    if (auth->UserCount() == 0) {
      return FailedPreconditionError(
          "the server has no users yet: create the first administrator with `mlc server user "
          "add NAME --admin --token --state " +
          options.state_dir +
          "` (it prints the token to log in with), or serve only this machine without "
          "authentication with --insecure-local");
    }
  }
  ResolvedConfig config;
  config.backend = "local://" + util::AbsolutePath(options.state_dir);
  if (!options.engine.empty()) {
    if (!options.engine.starts_with("local://") && !options.engine.starts_with("slurm+")) {
      return InvalidArgumentError("--engine " + options.engine +
                                  " is not a backend a server can front; use local://DIR or "
                                  "slurm+http://HOST:PORT (see docs/slurm.md)");
    }
    config.backend = options.engine;
    if (options.engine.starts_with("slurm+") &&
        options.engine.find("state=") == std::string::npos) {
      config.backend += (options.engine.find('?') == std::string::npos ? "?" : "&");
      config.backend += "state=" + util::AbsolutePath(options.state_dir);
    }
  }
  config.backend_source = "argument";
  config.project_source = "unset";
  auto backend = BackendRegistry::Global().Create(config.backend);
  if (!backend.ok()) return backend.status();
  auto client = std::make_unique<Client>(std::move(backend).value(), config);
  auto server = std::make_unique<ServerImpl>(std::move(client), std::move(auth), options);
  MLC_RETURN_IF_ERROR(server->Listen(options));
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace mlcore::server
