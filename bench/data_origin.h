// A small, fast static file server for the data-cache benchmark (bench/data_bench.cc): the HTTP
// origin both the cache and the `curl` peer fetch from, so the two see the same server. Python's
// http.server would be the bottleneck at loopback speeds; this one sends bodies with sendfile(2).
//
// HTTP/1.1 GET and HEAD of the regular files under `root` on 127.0.0.1 (port chosen by the OS):
// keep-alive (HTTP/1.0 and "Connection: close" close after the response), Content-Length, a
// strong ETag and Last-Modified from the file's mtime and size, If-None-Match (304), one byte
// range per request ("bytes=A-B", "bytes=A-", "bytes=-N"; 206 with Content-Range, 416 past the
// end) honoring If-Range. Paths with ".." or a query are answered 404/ignored. One thread per
// connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace mlcore::bench {

class StaticFileServer {
 public:
  explicit StaticFileServer(std::string root) : root_(std::move(root)) {}
  ~StaticFileServer() { Stop(); }
  StaticFileServer(const StaticFileServer&) = delete;
  StaticFileServer& operator=(const StaticFileServer&) = delete;

  // Listens on 127.0.0.1 and starts accepting. False (with a message in *error) on failure.
  bool Start(std::string* error);
  int port() const { return port_; }
  // "http://127.0.0.1:<port>"
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Stops accepting, closes every connection and joins the threads (idempotent).
  void Stop();
  // Body bytes sent so far (all connections).
  uint64_t bytes_sent() const { return bytes_sent_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);
  // Handles one request in `head` (request line and headers); false = close the connection.
  bool Respond(int fd, const std::string& head);

  std::string root_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> bytes_sent_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::set<int> open_fds_;
};

}  // namespace mlcore::bench
