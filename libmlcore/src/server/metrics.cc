#include "server/metrics.h"

#include <poll.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>

namespace mlcore::server {

void ServerMetrics::Record(const std::string& method, const std::string& code, double seconds) {
  std::lock_guard lock(mu_);
  ++calls_[{method, code}];
  Histogram& h = latency_[method];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string ServerMetrics::Render() const {
  std::ostringstream out;
  std::lock_guard lock(mu_);
  out << "# HELP mlcore_rpc_calls_total Finished rpcs by method and status code.\n"
         "# TYPE mlcore_rpc_calls_total counter\n";
  for (const auto& [key, n] : calls_) {
    out << "mlcore_rpc_calls_total{method=\"" << key.first << "\",code=\"" << key.second << "\"} "
        << n << "\n";
  }
  out << "# HELP mlcore_rpc_duration_seconds Time from request to response (streams: to the end).\n"
         "# TYPE mlcore_rpc_duration_seconds histogram\n";
  for (const auto& [method, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out << "mlcore_rpc_duration_seconds_bucket{method=\"" << method << "\",le=\"" << kBuckets[i]
          << "\"} " << h.buckets[i] << "\n";
    }
    out << "mlcore_rpc_duration_seconds_bucket{method=\"" << method << "\",le=\"+Inf\"} " << h.count
        << "\n"
        << "mlcore_rpc_duration_seconds_sum{method=\"" << method << "\"} " << h.sum << "\n"
        << "mlcore_rpc_duration_seconds_count{method=\"" << method << "\"} " << h.count << "\n";
  }
  out << "# HELP mlcore_metric_points_ingested_total Metric points written by clients.\n"
         "# TYPE mlcore_metric_points_ingested_total counter\n"
         "mlcore_metric_points_ingested_total "
      << points_.load() << "\n";
  return out.str();
}

Result<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(const std::string& address,
                                                        std::function<std::string()> render) {
  std::string text = address;
  if (text.starts_with("http://")) text = text.substr(7);
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgumentError("metrics address \"" + address + "\" must be HOST:PORT");
  }
  std::string host = text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  char* end = nullptr;
  long port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    return InvalidArgumentError("metrics address \"" + address + "\" has an invalid port");
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return InvalidArgumentError("metrics address \"" + address + "\" needs an IPv4 host");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 16) != 0) {
    int err = errno;
    close(fd);
    return UnavailableError("cannot serve metrics on " + address + ": " + std::strerror(err));
  }
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  std::string url = "http://" + host + ":" + std::to_string(ntohs(sa.sin_port)) + "/metrics";
  std::unique_ptr<MetricsHttp> http(new MetricsHttp(fd, std::move(url), std::move(render)));
  http->thread_ = std::thread([raw = http.get()] { raw->Loop(); });
  return http;
}

MetricsHttp::~MetricsHttp() { Stop(); }

void MetricsHttp::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

void MetricsHttp::Loop() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    timeval tv{2, 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string request;
    char buf[2048];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
      ssize_t n = recv(conn, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    std::string status = "200 OK";
    std::string body;
    std::string type = "text/plain; version=0.0.4; charset=utf-8";
    if (request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?")) {
      body = render_();
    } else if (request.starts_with("GET /healthz ")) {
      body = "ok\n";
    } else {
      status = "404 Not Found";
      body = "mlc server serves GET /metrics and GET /healthz here; the API is gRPC\n";
    }
    std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                           "\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < response.size()) {
      ssize_t n = send(conn, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(conn);
  }
}

}  // namespace mlcore::server
