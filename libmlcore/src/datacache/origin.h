// Origins of the data-load cache: where an object comes from on a miss.
//
// An Origin streams one object's bytes into a FetchSink. Implementations: `file://` (and plain
// paths) and `http(s)://` (libcurl: connection reuse, resume by Range after a reset, conditional
// GET, bounded retries with exponential backoff, timeouts). New schemes (s3://) implement Origin
// and register in MakeOrigin.
//
// Thread safety: an Origin may be used from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::datacache {

// Receives the content of a fetch. Write appends; Restart discards everything written so far (the
// origin could not resume and starts over); Announce reports the total size as soon as it is
// known (so the cache can make room or refuse early).
class FetchSink {
 public:
  virtual ~FetchSink() = default;
  virtual Status Announce(uint64_t total_bytes) = 0;
  virtual Status Write(std::string_view bytes) = 0;
  virtual Status Restart() = 0;
  virtual uint64_t bytes_written() const = 0;
};

struct FetchRequest {
  std::string uri;
  // Conditional fetch: when either is set and the origin reports the object unchanged, Fetch
  // returns not_modified and writes nothing.
  std::string if_none_match;      // an ETag
  std::string if_modified_since;  // an HTTP-date, as the origin sent it in Last-Modified
  // Absolute deadline of the whole fetch, retries included.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct FetchInfo {
  bool not_modified = false;
  std::string etag;           // empty when the origin sent none
  std::string last_modified;  // HTTP-date as sent; empty when none
  uint64_t size = 0;          // bytes delivered
  int attempts = 0;           // requests made (1 = no retry)
  int range_requests = 0;     // resumed requests
};

// Tuning of the network origins.
struct OriginOptions {
  int max_attempts = 5;            // per fetch, first try included
  int initial_backoff_ms = 200;    // doubled after every failed attempt
  int max_backoff_ms = 10000;      //
  int connect_timeout_ms = 10000;  //
  int low_speed_time_s = 30;       // abort an attempt slower than low_speed_limit for this long
  int low_speed_limit_bytes = 1;   // bytes per second
};

class Origin {
 public:
  virtual ~Origin() = default;
  // Streams the object at `request.uri` into `sink`. Errors: NOT_FOUND (no such object),
  // PERMISSION_DENIED, UNAVAILABLE (unreachable after retries), DATA_LOSS (the origin's
  // Content-Length does not match what it serves), DEADLINE_EXCEEDED, and whatever the sink
  // returns (e.g. RESOURCE_EXHAUSTED, CANCELLED).
  virtual Result<FetchInfo> Fetch(const FetchRequest& request, FetchSink& sink) = 0;
};

// The schemes MakeOrigin understands, for messages ("file, http, https").
std::string_view SupportedSchemes();

// The canonical form of a load URI: plain paths become `file://` + absolute path; other URIs are
// returned unchanged. `extra_schemes` ("artifact", "models") are accepted as they are ("models:/x"
// needs no "//"). Errors: INVALID_ARGUMENT for an empty URI or an unknown scheme (the message
// lists the supported ones).
Result<std::string> CanonicalUri(std::string_view uri,
                                 const std::vector<std::string>& extra_schemes = {});

// An origin for `scheme` ("file", "http", "https"). Errors: INVALID_ARGUMENT (unknown scheme).
Result<std::unique_ptr<Origin>> MakeOrigin(std::string_view scheme, const OriginOptions& options);

// The scheme of a canonical URI ("file" for "file:///x").
std::string SchemeOf(std::string_view uri);

}  // namespace mlcore::datacache
