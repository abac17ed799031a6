#include "datacache/origin.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include <curl/curl.h>

#include "util/fs.h"
#include "util/strings.h"

namespace mlcore::datacache {
namespace {

// ---- file:// ------------------------------------------------------------------------------

class FileOrigin : public Origin {
 public:
  Result<FetchInfo> Fetch(const FetchRequest& request, FetchSink& sink) override {
    std::string path = request.uri.substr(std::string_view("file://").size());
    if (path.rfind("localhost/", 0) == 0) path = path.substr(std::string_view("localhost").size());
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return util::FromErrno(errno, "cannot open origin " + request.uri);
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return util::FromErrno(errno, "cannot stat origin " + request.uri);
    if (!S_ISREG(st.st_mode)) {
      return FailedPreconditionError("origin " + request.uri + " is not a regular file");
    }
    FetchInfo info;
    info.attempts = 1;
    // A weak validator, as web servers derive one: modification time and size.
    info.etag =
        "\"" +
        std::to_string(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec) +
        "-" + std::to_string(st.st_size) + "\"";
    if (!request.if_none_match.empty() && request.if_none_match == info.etag) {
      info.not_modified = true;
      return info;
    }
    MLC_RETURN_IF_ERROR(sink.Announce(static_cast<uint64_t>(st.st_size)));
    std::vector<char> buffer(1 << 20);
    for (;;) {
      if (std::chrono::steady_clock::now() > request.deadline) {
        return DeadlineExceededError("timed out reading " + request.uri);
      }
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return util::FromErrno(errno, "cannot read origin " + request.uri);
      if (n == 0) break;
      MLC_RETURN_IF_ERROR(sink.Write(std::string_view(buffer.data(), static_cast<size_t>(n))));
    }
    info.size = sink.bytes_written();
    if (info.size != static_cast<uint64_t>(st.st_size)) {
      return UnavailableError("origin " + request.uri + " changed while it was read; retry");
    }
    return info;
  }
};

// ---- http(s):// ---------------------------------------------------------------------------

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What one request saw.
struct Attempt {
  FetchSink* sink = nullptr;
  uint64_t offset = 0;  // bytes the sink held when the attempt started (resume point)
  bool ranged = false;  // a Range header was sent
  long status = 0;      // NOLINT(google-runtime-int): curl's type
  std::string etag;
  std::string last_modified;
  int64_t content_length = -1;
  std::string content_range;
  bool body_started = false;
  uint64_t announced_total = 0;
  Status sink_error;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* a = static_cast<Attempt*>(user);
  std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (redirects and 100-continue send several)
    a->etag.clear();
    a->last_modified.clear();
    a->content_length = -1;
    a->content_range.clear();
    size_t space = line.find(' ');
    if (space != std::string_view::npos)
      a->status = std::atol(std::string(line.substr(space + 1, 3)).c_str());
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  std::string name = util::AsciiLower(util::TrimSpace(line.substr(0, colon)));
  std::string value(util::TrimSpace(line.substr(colon + 1)));
  if (name == "etag") a->etag = value;
  if (name == "last-modified") a->last_modified = value;
  if (name == "content-length") a->content_length = std::atoll(value.c_str());
  if (name == "content-range") a->content_range = value;
  return line.size();
}

// Starts the body of a 2xx response: restart the sink when the server ignored our Range, report
// the total size.
Status StartBody(Attempt& a) {
  a.body_started = true;
  if (a.status == 206) {
    // "bytes START-END/TOTAL": the server must continue where we stopped.
    uint64_t start = 0;
    uint64_t total = 0;
    if (std::sscanf(a.content_range.c_str(), "bytes %lu-%*u/%lu", &start, &total) != 2 ||
        start != a.offset) {
      return UnavailableError("origin answered a resume request with Content-Range \"" +
                              a.content_range + "\"");
    }
    a.announced_total = total;
  } else {
    if (a.offset > 0) MLC_RETURN_IF_ERROR(a.sink->Restart());
    a.offset = 0;
    a.announced_total = a.content_length >= 0 ? static_cast<uint64_t>(a.content_length) : 0;
  }
  if (a.announced_total > 0) return a.sink->Announce(a.announced_total);
  return Status::Ok();
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* a = static_cast<Attempt*>(user);
  size_t n = size * count;
  if (a->status < 200 || a->status >= 300) return n;  // an error page: discard
  if (!a->body_started) {
    a->sink_error = StartBody(*a);
    if (!a->sink_error.ok()) return 0;
  }
  a->sink_error = a->sink->Write(std::string_view(data, n));
  return a->sink_error.ok() ? n : 0;
}

// libcurl's receive buffer (default 16 KiB; at most CURL_MAX_READ_SIZE, 512 KiB in older
// libcurl): fewer, larger reads and sink writes.
constexpr long kReceiveBufferBytes = 512 * 1024;  // NOLINT(google-runtime-int)

bool Retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

class HttpOrigin : public Origin {
 public:
  explicit HttpOrigin(const OriginOptions& options) : options_(options) { GlobalInit(); }
  ~HttpOrigin() override {
    for (CURL* h : pool_) curl_easy_cleanup(h);
  }
  HttpOrigin(const HttpOrigin&) = delete;
  HttpOrigin& operator=(const HttpOrigin&) = delete;

  Result<FetchInfo> Fetch(const FetchRequest& request, FetchSink& sink) override {
    CURL* handle = Take();
    if (handle == nullptr) return InternalError("cannot create a libcurl handle");
    Result<FetchInfo> result = FetchWith(handle, request, sink);
    Give(handle);
    return result;
  }

 private:
  // Handles are pooled so their connections (keep-alive, TLS sessions) are reused.
  CURL* Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pool_.empty()) {
        CURL* h = pool_.back();
        pool_.pop_back();
        curl_easy_reset(h);  // keeps live connections and caches
        return h;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* h) {
    std::lock_guard<std::mutex> lock(mu_);
    pool_.push_back(h);
  }

  Result<FetchInfo> FetchWith(CURL* h, const FetchRequest& request, FetchSink& sink) {
    FetchInfo info;
    int backoff_ms = options_.initial_backoff_ms;
    std::string validator;         // ETag or Last-Modified of the first response, for If-Range
    uint64_t first_announced = 0;  // total size the origin first announced
    Status last_error = UnavailableError("no attempt made");
    while (info.attempts < options_.max_attempts) {
      auto now = std::chrono::steady_clock::now();
      if (now >= request.deadline) {
        return DeadlineExceededError("timed out fetching " + request.uri + " after " +
                                     std::to_string(info.attempts) +
                                     " attempt(s); last error: " + last_error.message());
      }
      ++info.attempts;
      Attempt a;
      a.sink = &sink;
      a.offset = sink.bytes_written();
      curl_slist* headers = nullptr;
      std::string range;
      if (a.offset > 0 && !validator.empty()) {
        a.ranged = true;
        ++info.range_requests;
        range = std::to_string(a.offset) + "-";
        headers = curl_slist_append(headers, ("If-Range: " + validator).c_str());
      } else if (a.offset > 0) {
        MLC_RETURN_IF_ERROR(sink.Restart());  // no validator: resuming could mix two versions
        a.offset = 0;
      }
      if (!request.if_none_match.empty()) {
        headers = curl_slist_append(headers, ("If-None-Match: " + request.if_none_match).c_str());
      }
      if (!request.if_modified_since.empty()) {
        headers =
            curl_slist_append(headers, ("If-Modified-Since: " + request.if_modified_since).c_str());
      }
      auto remaining =
          std::chrono::duration_cast<std::chrono::milliseconds>(request.deadline - now);
      curl_easy_reset(h);
      curl_easy_setopt(h, CURLOPT_URL, request.uri.c_str());
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(h, CURLOPT_USERAGENT, "mlcore-datacache");
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(options_.connect_timeout_ms));
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT,
                       static_cast<long>(options_.low_speed_limit_bytes));
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time_s));
      if (remaining.count() < (1LL << 40)) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         static_cast<long>(std::max<int64_t>(1, remaining.count())));
      }
      curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
      curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
      curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
      if (!range.empty()) curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
      if (headers != nullptr) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      CURLcode code = curl_easy_perform(h);
      curl_slist_free_all(headers);
      if (a.status >= 200 && a.status < 300 && !a.body_started) {
        Status s = StartBody(a);  // an empty body never reached OnBody
        if (!s.ok()) return s;
      }
      if (a.status >= 200 && a.status < 300 && !a.ranged) {
        validator = !a.etag.empty() && a.etag.rfind("W/", 0) != 0 ? a.etag : a.last_modified;
        info.etag = a.etag;
        info.last_modified = a.last_modified;
        first_announced = a.announced_total;
      }
      if (!a.sink_error.ok()) return a.sink_error;
      if (code == CURLE_OK) {
        if (a.status == 304) {
          info.not_modified = true;
          return info;
        }
        if (a.status >= 200 && a.status < 300) {
          info.size = sink.bytes_written();
          if (first_announced > 0 && info.size != first_announced) {
            return DataLossError("origin " + request.uri + " announced " +
                                 std::to_string(first_announced) + " bytes (Content-Length) but " +
                                 "served " + std::to_string(info.size));
          }
          return info;
        }
        if (a.status == 404 || a.status == 410) {
          return NotFoundError("origin has no object " + request.uri + " (HTTP " +
                               std::to_string(a.status) + ")");
        }
        if (a.status == 401 || a.status == 403) {
          return PermissionDeniedError("origin refused " + request.uri + " (HTTP " +
                                       std::to_string(a.status) + "); check credentials");
        }
        if (a.status == 416 && a.ranged) {
          // Nothing left past our offset: the object is exactly `offset` bytes long.
          uint64_t total = 0;
          if (std::sscanf(a.content_range.c_str(), "bytes */%lu", &total) == 1 &&
              total == a.offset && first_announced != total) {
            return DataLossError(
                "origin " + request.uri + " announced " + std::to_string(first_announced) +
                " bytes (Content-Length) but the object is " + std::to_string(total) + " bytes");
          }
          MLC_RETURN_IF_ERROR(sink.Restart());
          validator.clear();
          last_error = UnavailableError("origin refused to resume " + request.uri);
          continue;  // start over at once
        }
        if (a.status < 500 && a.status != 408 && a.status != 429) {
          return FailedPreconditionError("origin answered HTTP " + std::to_string(a.status) +
                                         " for " + request.uri);
        }
        last_error = UnavailableError("origin answered HTTP " + std::to_string(a.status) + " for " +
                                      request.uri);
      } else if (Retryable(code)) {
        last_error = UnavailableError("fetching " + request.uri + ": " + curl_easy_strerror(code));
      } else if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT) {
        return InvalidArgumentError("cannot fetch " + request.uri + ": " +
                                    curl_easy_strerror(code));
      } else {
        return UnavailableError("fetching " + request.uri + ": " + curl_easy_strerror(code));
      }
      if (info.attempts >= options_.max_attempts) break;
      // A resume that made progress is retried at once; anything else backs off.
      if (sink.bytes_written() > a.offset && code != CURLE_OK) continue;
      auto sleep = std::min(std::chrono::milliseconds(backoff_ms),
                            std::chrono::duration_cast<std::chrono::milliseconds>(
                                request.deadline - std::chrono::steady_clock::now()));
      if (sleep.count() > 0) std::this_thread::sleep_for(sleep);
      backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
    }
    return Status(last_error.code(), last_error.message() + " (gave up after " +
                                         std::to_string(info.attempts) + " attempts)");
  }

  OriginOptions options_;
  std::mutex mu_;
  std::vector<CURL*> pool_;
};

}  // namespace

std::string_view SupportedSchemes() { return "file, http, https"; }

std::string SchemeOf(std::string_view uri) {
  size_t pos = uri.find("://");
  return pos == std::string_view::npos ? std::string() : util::AsciiLower(uri.substr(0, pos));
}

Result<std::string> CanonicalUri(std::string_view uri,
                                 const std::vector<std::string>& extra_schemes) {
  if (uri.empty()) return InvalidArgumentError("empty URI; give a file path or a URL");
  for (const std::string& extra : extra_schemes) {
    if (uri.size() > extra.size() && uri.starts_with(extra) && uri[extra.size()] == ':') {
      return std::string(uri);
    }
  }
  size_t pos = uri.find("://");
  if (pos == std::string_view::npos) return "file://" + util::AbsolutePath(uri);
  std::string scheme = SchemeOf(uri);
  if (scheme != "file" && scheme != "http" && scheme != "https") {
    std::string supported(SupportedSchemes());
    for (const std::string& extra : extra_schemes) supported += ", " + extra;
    return InvalidArgumentError("unsupported scheme \"" + scheme + "\" in \"" + std::string(uri) +
                                "\"; supported schemes: " + supported + " (or a plain path)");
  }
  return scheme + std::string(uri.substr(pos));
}

Result<std::unique_ptr<Origin>> MakeOrigin(std::string_view scheme, const OriginOptions& options) {
  if (scheme == "file") return std::unique_ptr<Origin>(new FileOrigin());
  if (scheme == "http" || scheme == "https") {
    return std::unique_ptr<Origin>(new HttpOrigin(options));
  }
  return InvalidArgumentError("unsupported scheme \"" + std::string(scheme) +
                              "\"; supported schemes: " + std::string(SupportedSchemes()));
}

}  // namespace mlcore::datacache
