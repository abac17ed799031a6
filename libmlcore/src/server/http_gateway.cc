#include "server/http_gateway.h"

#include <httplib.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/dispatcher.h"
#include "server/http_routes.h"
#include "server/web_assets.h"

namespace mlcore::server {
namespace {

using google::protobuf::Message;
using google::protobuf::MethodDescriptor;

// Request bodies above this are refused (413) before they are read, as gRPC refuses 64 MiB.
constexpr size_t kMaxBody = size_t{64} << 20;
// Event streams send a comment this often when idle, so proxies keep them and a gone client is
// noticed.
constexpr auto kKeepAlive = std::chrono::seconds(15);
// Threads serving HTTP connections (each holds one while kept alive or streaming).
constexpr size_t kHttpThreads = 128;
// How long an event stream waits for its first message (or failure) before it answers 200.
constexpr auto kStreamPatience = std::chrono::milliseconds(1000);
// Messages an event stream buffers before its producer waits for the client to read.
constexpr size_t kMaxQueuedEvents = 256;

void SetError(httplib::Response& res, const Status& status) {
  res.status = HttpStatusOf(status.code());
  res.set_content(JsonErrorBody(status), "application/json");
}

std::string Serialized(const Message& message) { return message.SerializeAsString(); }

// Whether an Accept-Encoding header admits gzip ("gzip, deflate, br"; "gzip;q=0" refuses it).
bool AcceptsGzip(std::string_view header) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string q(item.substr(semi + 1));
    std::erase(q, ' ');
    return !(q.rfind("q=0", 0) == 0 && q.find_first_of("123456789", 3) == std::string::npos);
  }
  return false;
}

// API answers smaller than this go uncompressed (gzip would save little of a small answer).
constexpr size_t kGzipMinBytes = size_t{32} * 1024;

bool IsLoopback(std::string_view addr) {
  return addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.");
}

// gzip at level 1 (~100 MB/s; a JSON listing shrinks 5-10x).
Result<std::string> GzipFast(std::string_view in) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return InternalError("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return InternalError("gzip: deflate failed");
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A streaming call carried by one HTTP request: its request messages were read in full from the
// body; its answers are queued for the response (an event stream) or kept (a single answer).
class HttpStreamIo final : public StreamIo {
 public:
  HttpStreamIo(std::deque<std::string> requests, const Dispatcher& dispatcher, bool events)
      : requests_(std::move(requests)), dispatcher_(dispatcher), events_(events) {}

  bool Read(grpc::ByteBuffer* out) override {
    std::lock_guard lock(mu_);
    if (requests_.empty()) return false;
    *out = ToBuffer(requests_.front());
    requests_.pop_front();
    return true;
  }
  int ReadUnless(grpc::ByteBuffer* out, const std::function<bool()>& /*give_up*/) override {
    if (Stopped()) return -1;
    return Read(out) ? 1 : 0;
  }
  bool Write(const Message& message) override {
    std::unique_lock lock(mu_);
    if (!events_) {
      answers_.push_back(PrintJsonMessage(message));
      return true;
    }
    cv_.wait(lock, [&] { return queue_.size() < kMaxQueuedEvents || gone_; });
    if (gone_) return false;
    queue_.push_back("data: " + PrintJsonMessage(message) + "\n\n");
    started_ = true;
    cv_.notify_all();
    return true;
  }
  bool Stopped() const override { return gone_ || dispatcher_.stopping(); }

  // The producer's end: its final status.
  void End(Status status) {
    std::lock_guard lock(mu_);
    status_ = std::move(status);
    ended_ = true;
    cv_.notify_all();
  }
  // Waits until the first event, the end, or `patience`; false when the call ended first (its
  // status is then the answer), true when the answer is to be an event stream.
  bool WaitStart(std::chrono::milliseconds patience) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, patience, [&] { return started_ || ended_; });
    return started_ || !ended_;
  }
  // Sends queued events to `sink` until the producer ends or the client goes away.
  void Drain(httplib::DataSink& sink) {
    std::unique_lock lock(mu_);
    while (true) {
      if (!cv_.wait_for(lock, kKeepAlive, [&] { return !queue_.empty() || ended_; })) {
        lock.unlock();
        const bool ok = sink.write(": keep-alive\n\n", 14);
        lock.lock();
        if (!ok) break;
        continue;
      }
      if (queue_.empty()) {  // ended
        if (!status_.ok()) {
          const std::string event = "event: error\ndata: " + JsonErrorBody(status_) + "\n\n";
          lock.unlock();
          sink.write(event.data(), event.size());
          lock.lock();
        }
        lock.unlock();
        sink.done();
        return;
      }
      std::string event = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      lock.unlock();
      const bool ok = sink.write(event.data(), event.size());
      lock.lock();
      if (!ok) break;
    }
    gone_ = true;  // the client went away: the producer stops at its next write or poll
    cv_.notify_all();
  }
  void Abandon() {
    std::lock_guard lock(mu_);
    gone_ = true;
    cv_.notify_all();
  }
  const Status& status() const { return status_; }
  const std::vector<std::string>& answers() const { return answers_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> requests_;
  const Dispatcher& dispatcher_;
  const bool events_;
  std::deque<std::string> queue_;
  std::vector<std::string> answers_;
  std::atomic<bool> gone_{false};
  bool started_ = false;
  bool ended_ = false;
  Status status_;
};

const char kNoUiPage[] =
    "<!doctype html><meta charset=utf-8><title>mlcore</title>"
    "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">"
    "<h1>mlcore server</h1><p>The web UI is not built into this server. Build it with "
    "<code>scripts/build-web.sh</code> (needs node and npm), then rebuild the server "
    "(<code>scripts/build.sh</code> or <code>pip install .</code>).</p>"
    "<p>The HTTP/JSON API is served at <a href=\"/api/v1/openapi.json\">/api/v1/"
    "openapi.json</a>.</p></body>";

class HttpGatewayImpl final : public HttpGateway {
 public:
  HttpGatewayImpl(Dispatcher& dispatcher, std::vector<HttpRoute> routes,
                  std::unique_ptr<httplib::Server> http, std::string scheme)
      : dispatcher_(dispatcher),
        routes_(std::move(routes)),
        openapi_(OpenApiDocument(routes_)),
        http_(std::move(http)),
        scheme_(std::move(scheme)) {}
  ~HttpGatewayImpl() override { Stop(); }

  Status Listen(const std::string& host, int port) {
    // httplib serves a connection on one pool thread for as long as it is kept alive, and an
    // event stream for as long as it is open: a browser tab holds up to 6 connections plus its
    // streams (logs, job watch, metrics watch). Threads are cheap; idle connections close soon.
    http_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
    http_->set_payload_max_length(kMaxBody);
    http_->set_tcp_nodelay(true);  // answers go out whole: no Nagle wait for the client's ACK
    // httplib's default adds SO_REUSEPORT, which lets a second server share a taken port; a
    // second server must fail instead (as the gRPC side does).
    http_->set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    http_->set_keep_alive_timeout(5);
    http_->set_read_timeout(60);
    http_->set_write_timeout(60);
    // Every request goes to Handle, which routes by the (mlcore.v1.http) table; registered per
    // verb (not as a pre-routing handler) so httplib reads the body first.
    const auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
    };
    http_->Get(".*", handle);
    http_->Post(".*", handle);
    http_->Put(".*", handle);
    http_->Patch(".*", handle);
    http_->Delete(".*", handle);
    int bound = port;
    if (port == 0) {
      bound = http_->bind_to_any_port(host);
      if (bound < 0) bound = 0;
    } else if (!http_->bind_to_port(host, port)) {
      bound = 0;
    }
    if (bound == 0) {
      return UnavailableError("cannot listen for HTTP on " + host + ":" + std::to_string(port) +
                              ": the address is in use, not local to this machine, or not "
                              "permitted; pick another with --http");
    }
    const bool v6 = host.find(':') != std::string::npos;
    url_ = scheme_ + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(bound);
    thread_ = std::thread([this] {
      http_->listen_after_bind();
      listen_returned_ = true;
    });
    return Status::Ok();
  }

  std::string url() const override { return url_; }

  void Stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    if (thread_.joinable()) {
      // httplib's stop() does nothing until its listen loop has begun (is_running), and that
      // loop would then never end: a gateway stopped right after it started hung its Stop.
      while (!listen_returned_ && !http_->is_running()) std::this_thread::yield();
    }
    http_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // httplib compresses every text or JSON answer for a client that accepts it, with brotli at
  // quality 11: ~1 MB/s, 200 ms of CPU for a 200 KB job listing (the web UI's first page of jobs
  // waited for it). The gateway compresses itself instead: the UI's files once at build time,
  // large API answers with fast gzip for clients that are not on this machine. httplib decides
  // from the request's Accept-Encoding after the handler returns, so the header is taken out of
  // the request here (httplib hands a const reference to a Request it owns and does not share).
  void Handle(const httplib::Request& req, httplib::Response& res) {
    const bool gzip_ok = AcceptsGzip(req.get_header_value("Accept-Encoding"));
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    Route(req, gzip_ok, res);
    if (gzip_ok && res.body.size() >= kGzipMinBytes && !IsLoopback(req.remote_addr) &&
        res.get_header_value("Content-Encoding").empty() &&
        res.get_header_value("Content-Type") == "application/json") {
      auto zipped = GzipFast(res.body);
      if (zipped.ok()) {
        res.body = std::move(*zipped);
        res.set_header("Content-Encoding", "gzip");
        res.set_header("Vary", "Accept-Encoding");
      }
    }
  }

  void Route(const httplib::Request& req, bool gzip_ok, httplib::Response& res) {
    const std::string_view target = req.target;
    const std::string_view path = target.substr(0, target.find('?'));
    if (!path.starts_with("/api/")) {
      ServeUi(req, gzip_ok, path, res);
      return;
    }
    if (path == "/api/v1/openapi.json") {
      if (req.method != "GET") {
        SetError(res, InvalidArgumentError("the OpenAPI document is read with GET"));
        res.status = 405;
        return;
      }
      res.set_content(openapi_, "application/json");
      return;
    }
    std::vector<std::pair<std::string, std::string>> params;
    bool path_known = false;
    const HttpRoute* route = MatchHttpRoute(routes_, req.method, path, &params, &path_known);
    if (route == nullptr) {
      if (path_known) {
        std::string allow;
        for (const auto& r : routes_) {
          std::vector<std::pair<std::string, std::string>> ignored;
          bool known = false;
          if (MatchHttpRoute(routes_, r.verb, path, &ignored, &known) == &r)
            allow += (allow.empty() ? "" : ", ") + r.verb;
        }
        res.set_header("Allow", allow);
        res.status = 405;
        res.set_content(
            nlohmann::json({{"error",
                             {{"code", 405},
                              {"status", "INVALID_ARGUMENT"},
                              {"message", "method " + req.method + " is not served on " +
                                              std::string(path) + "; use " + allow}}}})
                .dump(),
            "application/json");
      } else {
        SetError(res, NotFoundError("no API route " + req.method + " " + std::string(path) +
                                    "; the routes are listed in /api/v1/openapi.json"));
      }
      return;
    }
    Result<Principal> who = dispatcher_.IdentifyHttp(req.get_header_value("Authorization"),
                                                     req.get_header_value("Mlc-User"));
    if (!who.ok()) {
      res.set_header("WWW-Authenticate", "Bearer");
      SetError(res, who.status());
      return;
    }
    const MethodDescriptor* method = route->method;
    if (method->client_streaming()) {
      ServeStream(*who, *route, NdjsonRequests(req.body, method), req, res);
      return;
    }
    std::unique_ptr<Message> request = NewMessage(method->input_type());
    Status built = BuildRequest(*route, req, params, request.get());
    if (!built.ok()) {
      SetError(res, built);
      return;
    }
    if (method->server_streaming()) {
      std::deque<std::string> one;
      one.push_back(Serialized(*request));
      ServeStream(*who, *route, Result<std::deque<std::string>>(std::move(one)), req, res);
      return;
    }
    std::unique_ptr<Message> response = NewMessage(method->output_type());
    Status status = dispatcher_.CallUnary(*who, method, *request, response.get());
    if (!status.ok()) {
      SetError(res, status);
      return;
    }
    res.set_content(PrintJsonMessage(*response), "application/json");
  }

  // The request of a unary or server-streaming call: path variables, then the query string (GET,
  // DELETE) or the JSON body (the others). A body field that contradicts the path is an error.
  static Status BuildRequest(const HttpRoute& route, const httplib::Request& req,
                             const std::vector<std::pair<std::string, std::string>>& params,
                             Message* request) {
    if (route.QueryRequest()) {
      std::vector<std::pair<std::string, std::string>> query(req.params.begin(), req.params.end());
      for (const auto& [name, value] : query) {
        for (const auto& [field, unused] : params) {
          if (name == field) {
            return InvalidArgumentError("parameter " + name +
                                        " is part of the path; do not repeat it in the query");
          }
        }
      }
      MLC_RETURN_IF_ERROR(SetFieldsFromText(query, request));
    } else {
      MLC_RETURN_IF_ERROR(ParseJsonMessage(req.body, request));
      std::unique_ptr<Message> from_path(request->New());
      MLC_RETURN_IF_ERROR(SetFieldsFromText(params, from_path.get()));
      for (const auto& [field, value] : params) {
        const std::string in_body = ScalarFieldText(*request, field);
        if (!in_body.empty() && in_body != ScalarFieldText(*from_path, field)) {
          return InvalidArgumentError("field " + field + " is \"" + in_body +
                                      "\" in the body but \"" + value +
                                      "\" in the path; leave it out of the body");
        }
      }
      request->MergeFrom(*from_path);
      return Status::Ok();
    }
    return SetFieldsFromText(params, request);
  }

  // The messages of a client-streaming call: one JSON object per line of the body.
  static Result<std::deque<std::string>> NdjsonRequests(const std::string& body,
                                                        const MethodDescriptor* method) {
    std::deque<std::string> out;
    size_t at = 0;
    int line = 0;
    while (at < body.size()) {
      size_t end = body.find('\n', at);
      if (end == std::string::npos) end = body.size();
      ++line;
      const std::string_view text(body.data() + at, end - at);
      at = end + 1;
      if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      std::unique_ptr<Message> message = NewMessage(method->input_type());
      Status parsed = ParseJsonMessage(text, message.get());
      if (!parsed.ok()) {
        return InvalidArgumentError("line " + std::to_string(line) +
                                    " of the body: " + parsed.message());
      }
      out.push_back(Serialized(*message));
    }
    return out;
  }

  // Runs a streaming call on a thread of its own. A server-streaming call answers an event
  // stream once its first message is ready, or a plain error when it fails before any; a
  // client-streaming one answers its single message as JSON.
  void ServeStream(const Principal& who, const HttpRoute& route,
                   Result<std::deque<std::string>> requests, const httplib::Request& req,
                   httplib::Response& res) {
    (void)req;
    if (!requests.ok()) {
      SetError(res, requests.status());
      return;
    }
    const MethodDescriptor* method = route.method;
    const bool events = method->server_streaming();
    auto io = std::make_shared<HttpStreamIo>(std::move(*requests), dispatcher_, events);
    if (!events) {
      Status status = dispatcher_.CallStream(who, method, *io);
      if (!status.ok()) {
        SetError(res, status);
      } else if (io->answers().empty()) {
        SetError(res, InternalError("the call ended without an answer"));
      } else {
        res.set_content(io->answers().back(), "application/json");
      }
      return;
    }
    std::thread([this, io, who, method] {
      io->End(dispatcher_.CallStream(who, method, *io));
    }).detach();
    // Most failures (authorization, a missing object) come at once and get a plain error
    // status; a stream with nothing to say yet (a watch) still answers its headers promptly.
    if (!io->WaitStart(kStreamPatience)) {
      SetError(res, io->status().ok() ? Status::Ok() : io->status());
      if (io->status().ok()) {  // ended cleanly with no message: an empty stream
        res.status = 200;
        res.set_content("", "text/event-stream");
      }
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [io](size_t /*offset*/, httplib::DataSink& sink) {
          io->Drain(sink);
          return true;
        },
        [io](bool /*success*/) { io->Abandon(); });
  }

  void ServeUi(const httplib::Request& req, bool gzip_ok, std::string_view path,
               httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_content("method not allowed", "text/plain");
      return;
    }
    if (path == "/healthz") {
      res.set_content(dispatcher_.stopping() ? "stopping\n" : "ok\n", "text/plain");
      if (dispatcher_.stopping()) res.status = 503;
      return;
    }
    if (!WebUiBuilt()) {
      if (path == "/" || path == "/index.html") {
        res.set_content(kNoUiPage, "text/html; charset=utf-8");
      } else {
        res.status = 404;
        res.set_content("not found (the web UI is not built into this server)\n", "text/plain");
      }
      return;
    }
    std::string file(path == "/" ? "/index.html" : path);
    const WebAsset* asset = FindWebAsset(file);
    // A page of the app (no file extension) is the app itself: it routes on the client.
    if (asset == nullptr && file.rfind('.') < file.rfind('/')) asset = FindWebAsset("/index.html");
    if (asset == nullptr && file.find('.') == std::string::npos)
      asset = FindWebAsset("/index.html");
    if (asset == nullptr) {
      res.status = 404;
      res.set_content("not found\n", "text/plain");
      return;
    }
    res.set_header("Cache-Control", file == "/index.html" ? "no-cache" : "max-age=300");
    // Compressed once at build time (scripts/embed-web.py): app.js goes from ~115 to ~40 KB.
    if (!asset->gzip.empty()) {
      res.set_header("Vary", "Accept-Encoding");
      if (gzip_ok) {
        res.set_header("Content-Encoding", "gzip");
        res.set_content(std::string(asset->gzip), std::string(asset->content_type));
        return;
      }
    }
    res.set_content(std::string(asset->body), std::string(asset->content_type));
  }

  Dispatcher& dispatcher_;
  const std::vector<HttpRoute> routes_;
  const std::string openapi_;
  std::unique_ptr<httplib::Server> http_;
  const std::string scheme_;
  std::string url_;
  std::thread thread_;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::atomic<bool> listen_returned_{false};  // listen_after_bind returned (e.g. it failed)
};

}  // namespace

Result<std::pair<std::string, int>> ParseHttpListen(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return InvalidArgumentError("HTTP listen address \"" + address +
                                "\" must be HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks one)");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = address.substr(colon + 1);
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.find_first_not_of("0123456789") != std::string::npos || *end != '\0' || port < 0 ||
      port > 65535)
    return InvalidArgumentError("HTTP listen address \"" + address + "\" has no valid port");
  return std::make_pair(host, static_cast<int>(port));
}

Result<std::unique_ptr<HttpGateway>> HttpGateway::Start(const HttpGatewayOptions& options,
                                                        Dispatcher& dispatcher) {
  MLC_ASSIGN_OR_RETURN(auto host_port, ParseHttpListen(options.listen));
  MLC_ASSIGN_OR_RETURN(std::vector<HttpRoute> routes, BuildHttpRoutes(options.services));
  std::unique_ptr<httplib::Server> http;
  std::string scheme = "http";
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(),
                                                    options.tls_key_file.c_str());
    if (!tls->is_valid()) {
      return InvalidArgumentError("cannot serve HTTPS with certificate " + options.tls_cert_file +
                                  " and key " + options.tls_key_file +
                                  ": unreadable, not PEM, or they do not match");
    }
    http = std::move(tls);
    scheme = "https";
  } else {
    http = std::make_unique<httplib::Server>();
  }
  auto gateway =
      std::make_unique<HttpGatewayImpl>(dispatcher, std::move(routes), std::move(http), scheme);
  MLC_RETURN_IF_ERROR(gateway->Listen(host_port.first, host_port.second));
  return std::unique_ptr<HttpGateway>(std::move(gateway));
}

}  // namespace mlcore::server
