#include "data_origin.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace mlcore::bench {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool SendAll(int fd, const std::string& bytes, bool more) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string HttpDate(time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Parses one "bytes=..." range against `size`: true with [*first, *last] set when satisfiable;
// *unsatisfiable is set when syntactically fine but past the end. False = ignore the header.
bool ParseRange(const std::string& value, uint64_t size, uint64_t* first, uint64_t* last,
                bool* unsatisfiable) {
  *unsatisfiable = false;
  if (value.rfind("bytes=", 0) != 0 || value.find(',') != std::string::npos) return false;
  std::string spec = value.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string::npos) return false;
  std::string a = Trim(spec.substr(0, dash));
  std::string b = Trim(spec.substr(dash + 1));
  char* end = nullptr;
  if (a.empty()) {  // suffix: the last N bytes
    if (b.empty()) return false;
    uint64_t n = std::strtoull(b.c_str(), &end, 10);
    if (*end != '\0') return false;
    if (n == 0 || size == 0) {
      *unsatisfiable = true;
      return false;
    }
    *first = n >= size ? 0 : size - n;
    *last = size - 1;
    return true;
  }
  *first = std::strtoull(a.c_str(), &end, 10);
  if (*end != '\0') return false;
  if (b.empty()) {
    *last = size == 0 ? 0 : size - 1;
  } else {
    *last = std::strtoull(b.c_str(), &end, 10);
    if (*end != '\0' || *last < *first) return false;
    if (*last >= size) *last = size == 0 ? 0 : size - 1;
  }
  if (*first >= size) {
    *unsatisfiable = true;
    return false;
  }
  return true;
}

}  // namespace

bool StaticFileServer::Start(std::string* error) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    *error = std::string("bind/listen on 127.0.0.1: ") + std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void StaticFileServer::Stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes recv()/sendfile()
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
}

void StaticFileServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    open_fds_.insert(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void StaticFileServer::Serve(int fd) {
  std::string buffer;
  char chunk[16384];
  for (;;) {
    size_t end = buffer.find("\r\n\r\n");
    while (end == std::string::npos) {
      if (buffer.size() > 65536) break;  // absurd header: give up on this connection
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      end = buffer.find("\r\n\r\n");
    }
    if (end == std::string::npos) break;
    std::string head = buffer.substr(0, end + 2);
    buffer.erase(0, end + 4);  // GET and HEAD carry no body
    if (!Respond(fd, head)) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(fd);
  ::close(fd);
}

bool StaticFileServer::Respond(int fd, const std::string& head) {
  size_t eol = head.find("\r\n");
  std::string request_line = head.substr(0, eol);
  std::string method, target, version;
  {
    size_t s1 = request_line.find(' ');
    size_t s2 = request_line.rfind(' ');
    if (s1 == std::string::npos || s2 == s1) return false;
    method = request_line.substr(0, s1);
    target = request_line.substr(s1 + 1, s2 - s1 - 1);
    version = request_line.substr(s2 + 1);
  }
  std::string range, if_none_match, if_range, connection;
  for (size_t pos = eol + 2; pos < head.size();) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = Lower(Trim(line.substr(0, colon)));
    std::string value = Trim(line.substr(colon + 1));
    if (name == "range") range = value;
    if (name == "if-none-match") if_none_match = value;
    if (name == "if-range") if_range = value;
    if (name == "connection") connection = Lower(value);
  }
  bool keep_alive = version == "HTTP/1.1" ? connection != "close" : connection == "keep-alive";
  const std::string conn_header =
      keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  auto plain = [&](const std::string& status, const std::string& extra) {
    std::string body = status + "\n";
    std::string out = "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n" + extra + conn_header + "\r\n";
    if (method != "HEAD") out += body;
    return SendAll(fd, out, false) && keep_alive;
  };
  if (method != "GET" && method != "HEAD")
    return plain("405 Method Not Allowed", "Allow: GET, HEAD\r\n");
  std::string path = target.substr(0, target.find('?'));
  if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos) {
    return plain("404 Not Found", "");
  }
  int file = ::open((root_ + path).c_str(), O_RDONLY | O_CLOEXEC);
  if (file < 0) return plain("404 Not Found", "");
  struct stat st {};
  if (::fstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(file);
    return plain("404 Not Found", "");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  char etag_buf[64];
  std::snprintf(etag_buf, sizeof etag_buf, "\"%llx-%llx\"",
                static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ULL +
                    static_cast<unsigned long long>(st.st_mtim.tv_nsec),
                static_cast<unsigned long long>(size));
  const std::string etag = etag_buf;
  const std::string last_modified = HttpDate(st.st_mtim.tv_sec);
  const std::string validators = "ETag: " + etag + "\r\nLast-Modified: " + last_modified + "\r\n";
  if (!if_none_match.empty() && (if_none_match == etag || if_none_match == "*")) {
    ::close(file);
    return SendAll(fd, "HTTP/1.1 304 Not Modified\r\n" + validators + conn_header + "\r\n",
                   false) &&
           keep_alive;
  }
  uint64_t first = 0, last = size == 0 ? 0 : size - 1;
  bool partial = false;
  if (!range.empty() && (if_range.empty() || if_range == etag || if_range == last_modified)) {
    bool unsatisfiable = false;
    partial = ParseRange(range, size, &first, &last, &unsatisfiable);
    if (unsatisfiable) {
      ::close(file);
      return plain("416 Range Not Satisfiable",
                   "Content-Range: bytes */" + std::to_string(size) + "\r\n");
    }
  }
  const uint64_t length = size == 0 ? 0 : last - first + 1;
  std::string out = partial ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n";
  out += "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(length) +
         "\r\nAccept-Ranges: bytes\r\n" + validators + conn_header;
  if (partial) {
    out += "Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
           std::to_string(size) + "\r\n";
  }
  out += "\r\n";
  bool ok = SendAll(fd, out, method == "GET" && length > 0);
  if (ok && method == "GET") {
    off_t offset = static_cast<off_t>(first);
    uint64_t left = length;
    while (left > 0) {
      ssize_t n = ::sendfile(fd, file, &offset, std::min<uint64_t>(left, 1ULL << 30));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        break;
      }
      left -= static_cast<uint64_t>(n);
      bytes_sent_ += static_cast<uint64_t>(n);
    }
  }
  ::close(file);
  return ok && keep_alive;
}

}  // namespace mlcore::bench
