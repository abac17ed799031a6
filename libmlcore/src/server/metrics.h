// The server's Prometheus metrics: per-rpc counters and latency histograms, points ingested, and
// the plain-HTTP `/metrics` endpoint that serves them with the gauges the server adds at scrape
// time (queue length, running jobs, cache hit ratio).
//
// Thread safety: Record/AddPoints may be called from any thread; MetricsHttp serves one scrape
// at a time on its own thread.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "mlcore/status.h"

namespace mlcore::server {

class ServerMetrics {
 public:
  // Upper bounds (seconds) of the latency histogram's buckets; +Inf is implicit.
  static constexpr std::array<double, 10> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,  0.1,    0.5,   2.5};

  // One finished call of `method` ("mlcore.v1.JobService/GetJob") with gRPC code name `code`.
  void Record(const std::string& method, const std::string& code, double seconds);
  // Metric points written through LogBatch or LogMetricsStream.
  void AddPoints(int64_t points) { points_ += points; }

  // The Prometheus text exposition of everything recorded.
  std::string Render() const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> calls_;  // (method, code) -> count
  std::map<std::string, Histogram> latency_;                       // method -> histogram
  std::atomic<int64_t> points_{0};
};

// A minimal HTTP/1.1 listener for GET /metrics (and GET /healthz), loopback or any address.
class MetricsHttp {
 public:
  // Listens on "HOST:PORT" (port 0 picks one) and serves `render()` on GET /metrics. Errors:
  // INVALID_ARGUMENT (address), UNAVAILABLE (cannot bind).
  static Result<std::unique_ptr<MetricsHttp>> Start(const std::string& address,
                                                    std::function<std::string()> render);
  ~MetricsHttp();
  // "http://HOST:PORT/metrics" as bound.
  const std::string& url() const { return url_; }
  void Stop();

 private:
  MetricsHttp(int fd, std::string url, std::function<std::string()> render)
      : fd_(fd), url_(std::move(url)), render_(std::move(render)) {}
  void Loop();

  int fd_;
  std::string url_;
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mlcore::server
