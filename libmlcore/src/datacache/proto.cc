#include "datacache/proto.h"

#include <ctime>

namespace mlcore::datacache {
namespace {

void SetMs(google::protobuf::Timestamp* ts, int64_t ms) {
  ts->set_seconds(ms / 1000);
  ts->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

// Parses an HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT"); false when it is not one.
bool ParseHttpDate(const std::string& text, int64_t* seconds) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return false;
  *seconds = static_cast<int64_t>(timegm(&tm));
  return true;
}

}  // namespace

v1::LoadResponse ToProto(const LoadResult& result) {
  v1::LoadResponse out;
  out.set_local_path(result.local_path);
  out.set_digest(result.digest);
  out.set_size_bytes(static_cast<int64_t>(result.size_bytes));
  out.set_source(static_cast<v1::LoadSource>(result.source));
  return out;
}

v1::CacheEntry ToProto(const Entry& entry) {
  v1::CacheEntry out;
  out.set_uri(entry.uri);
  out.set_digest(entry.digest);
  out.set_size_bytes(static_cast<int64_t>(entry.size_bytes));
  out.set_tier(static_cast<v1::CacheTier>(entry.tier));
  out.set_pinned(!entry.pins.empty());
  for (const Pin& pin : entry.pins) {
    v1::CachePin* p = out.add_pins();
    p->set_owner(pin.owner);
    SetMs(p->mutable_create_time(), pin.create_time_ms);
    if (pin.expire_time_ms > 0) SetMs(p->mutable_expire_time(), pin.expire_time_ms);
  }
  SetMs(out.mutable_last_access_time(), entry.last_access_ms);
  SetMs(out.mutable_fetch_time(), entry.fetch_time_ms);
  out.set_etag(entry.etag);
  int64_t seconds = 0;
  if (ParseHttpDate(entry.last_modified, &seconds)) {
    out.mutable_last_modified_time()->set_seconds(seconds);
  }
  out.set_local_path(entry.local_path);
  out.set_access_count(entry.access_count);
  return out;
}

v1::CacheStats ToProto(const Stats& stats) {
  v1::CacheStats out;
  for (const TierStats& t : stats.tiers) {
    v1::TierStats* p = out.add_tiers();
    p->set_tier(static_cast<v1::CacheTier>(t.tier));
    p->set_hits(t.hits);
    p->set_misses(t.misses);
    p->set_bytes_served(t.bytes_served);
    p->set_bytes_written(t.bytes_written);
    p->set_used_bytes(t.used_bytes);
    p->set_capacity_bytes(t.capacity_bytes);
    p->set_pinned_bytes(t.pinned_bytes);
    p->set_entries(t.entries);
    p->set_evictions(t.evictions);
  }
  out.set_origin_fetches(stats.origin_fetches);
  out.set_origin_bytes(stats.origin_bytes);
  out.set_single_flight_waits(stats.single_flight_waits);
  out.set_verification_failures(stats.verification_failures);
  SetMs(out.mutable_since(), stats.since_ms);
  return out;
}

v1::EvictResponse ToProto(const EvictResult& result) {
  v1::EvictResponse out;
  out.set_entries_evicted(result.entries_evicted);
  out.set_bytes_freed(result.bytes_freed);
  return out;
}

}  // namespace mlcore::datacache
