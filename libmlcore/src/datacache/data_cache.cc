#include "datacache/data_cache.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <spdlog/spdlog.h>

#include "datacache/files.h"
#include "datacache/index.h"
#include "mlcore/resources.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace mlcore::datacache {
namespace {

bool IsDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The size of a regular file, or nullopt.
std::optional<uint64_t> FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> HashFile(const std::string& path) {
  MLC_ASSIGN_OR_RETURN(std::string bytes, util::ReadFile(path));
  return util::Sha256Hex(bytes);
}

std::string ColdRecordPath(const std::string& cold_dir, const std::string& uri) {
  return cold_dir + "/uris/" + util::Sha256Hex(uri);
}

// The cold tier's own record of a URI ("digest\nsize\netag\nlast-modified\n"), so machines
// sharing the cold directory find each other's objects.
std::optional<UriRecord> ReadColdRecord(const std::string& cold_dir, const std::string& uri) {
  auto text = util::ReadFile(ColdRecordPath(cold_dir, uri));
  if (!text.ok()) return std::nullopt;
  std::istringstream in(*text);
  UriRecord r;
  std::string size;
  if (!std::getline(in, r.digest) || !std::getline(in, size)) return std::nullopt;
  std::getline(in, r.etag);
  std::getline(in, r.last_modified);
  r.size = std::strtoull(size.c_str(), nullptr, 10);
  if (!IsDigest(r.digest)) return std::nullopt;
  return r;
}

}  // namespace

struct DataCache::Impl {
  std::unique_ptr<CacheIndex> index;
  std::mutex origins_mu;
  std::map<std::string, std::unique_ptr<Origin>> origins;
};

DataCache::DataCache(DataCacheOptions options) : options_(std::move(options)) {}
DataCache::~DataCache() = default;

Result<std::unique_ptr<DataCache>> DataCache::Open(const DataCacheOptions& options) {
  if (options.hot_dir.empty()) return InvalidArgumentError("the data cache needs a hot directory");
  DataCacheOptions o = options;
  o.hot_dir = util::AbsolutePath(o.hot_dir);
  if (!o.cold_dir.empty()) o.cold_dir = util::AbsolutePath(o.cold_dir);
  if (o.index_path.empty()) o.index_path = o.hot_dir + "/index.db";
  for (const char* sub : {"", "/objects", "/tmp", "/locks"}) {
    MLC_RETURN_IF_ERROR(util::EnsureDirectory(o.hot_dir + sub, "data cache hot tier"));
  }
  if (!o.cold_dir.empty()) {
    for (const char* sub : {"", "/objects", "/tmp", "/uris"}) {
      MLC_RETURN_IF_ERROR(util::EnsureDirectory(o.cold_dir + sub, "data cache cold tier"));
    }
  }
  std::unique_ptr<DataCache> cache(new DataCache(o));
  cache->impl_ = std::make_unique<Impl>();
  MLC_ASSIGN_OR_RETURN(cache->impl_->index, CacheIndex::Open(o.index_path));
  RemoveStaleTemps(o.hot_dir);
  if (!o.cold_dir.empty()) RemoveStaleTemps(o.cold_dir);
  return cache;
}

namespace {

// Everything one Load needs; keeps DataCache::Load readable.
class Loader {
 public:
  Loader(const DataCacheOptions& o, CacheIndex& index, Origin* origin, std::string uri,
         const LoadOptions& opt)
      : o_(o), index_(index), origin_(origin), uri_(std::move(uri)), opt_(opt) {}

  // A hot hit, or nullopt.
  Result<std::optional<LoadResult>> TryHot() {
    MLC_ASSIGN_OR_RETURN(auto rec, index_.LookupUri(uri_));
    if (!rec || (!opt_.expected_digest.empty() && rec->digest != opt_.expected_digest)) {
      return std::optional<LoadResult>();
    }
    MLC_ASSIGN_OR_RETURN(auto copy, index_.LookupCopy(rec->digest, Tier::kHot));
    if (!copy) return std::optional<LoadResult>();
    if (FileSize(copy->path) != copy->size) {  // removed or damaged behind our back
      MLC_RETURN_IF_ERROR(index_.ForgetCopy(copy->digest, Tier::kHot));
      return std::optional<LoadResult>();
    }
    if (opt_.verify_hits) {
      auto digest = HashFile(copy->path);
      if (!digest.ok() || *digest != copy->digest) {
        MLC_RETURN_IF_ERROR(index_.Bump("verification_failures"));
        ::unlink(copy->path.c_str());
        MLC_RETURN_IF_ERROR(index_.ForgetCopy(copy->digest, Tier::kHot));
        return std::optional<LoadResult>();
      }
    }
    MLC_RETURN_IF_ERROR(index_.Touch(copy->digest, Tier::kHot));
    MLC_RETURN_IF_ERROR(index_.Bump("hot_hits"));
    MLC_RETURN_IF_ERROR(index_.Bump("hot_bytes_served", static_cast<int64_t>(copy->size)));
    return std::optional<LoadResult>(
        LoadResult{copy->path, copy->digest, copy->size, Source::kHot});
  }

  // A cold hit copied (and verified) into hot, or nullopt.
  Result<std::optional<LoadResult>> TryCold() {
    std::optional<UriRecord> rec = ReadColdRecord(o_.cold_dir, uri_);
    if (!rec || (!opt_.expected_digest.empty() && rec->digest != opt_.expected_digest)) {
      return std::optional<LoadResult>();
    }
    std::string cold_path = ObjectPath(o_.cold_dir, rec->digest);
    if (FileSize(cold_path) != rec->size) return std::optional<LoadResult>();
    MLC_ASSIGN_OR_RETURN(auto tmp, CopyToTemp(cold_path, o_.hot_dir, MakeRoomFn()));
    if (tmp->Digest() != rec->digest) {
      spdlog::warn("data cache: cold copy {} of {} is corrupt; removing it", cold_path, uri_);
      MLC_RETURN_IF_ERROR(index_.Bump("verification_failures"));
      ::unlink(cold_path.c_str());
      MLC_RETURN_IF_ERROR(index_.ForgetCopy(rec->digest, Tier::kCold));
      return std::optional<LoadResult>();
    }
    std::string hot_path = ObjectPath(o_.hot_dir, rec->digest);
    MLC_RETURN_IF_ERROR(tmp->Publish(hot_path));
    MLC_RETURN_IF_ERROR(index_.RecordCopy(uri_, *rec, Tier::kCold, cold_path, false));
    MLC_RETURN_IF_ERROR(index_.RecordCopy(uri_, *rec, Tier::kHot, hot_path, false));
    MLC_RETURN_IF_ERROR(index_.Touch(rec->digest, Tier::kCold));
    MLC_RETURN_IF_ERROR(index_.Touch(rec->digest, Tier::kHot));
    MLC_RETURN_IF_ERROR(index_.Bump("cold_hits"));
    MLC_RETURN_IF_ERROR(index_.Bump("cold_bytes_served", static_cast<int64_t>(rec->size)));
    MLC_RETURN_IF_ERROR(index_.Bump("hot_bytes_written", static_cast<int64_t>(rec->size)));
    return std::optional<LoadResult>(LoadResult{hot_path, rec->digest, rec->size, Source::kCold});
  }

  // Fetches from the origin (conditionally when revalidating), verifies, publishes to hot and
  // writes through to cold.
  Result<LoadResult> FromOrigin(bool revalidate, std::chrono::steady_clock::time_point deadline) {
    FetchRequest request;
    request.uri = uri_;
    request.deadline = deadline;
    MLC_ASSIGN_OR_RETURN(auto known, index_.LookupUri(uri_));
    if (revalidate && known) {
      request.if_none_match = known->etag;
      request.if_modified_since = known->last_modified;
    }
    RemoveStaleTemps(o_.hot_dir);
    std::string bad_digest;
    for (int attempt = 0; attempt < 2; ++attempt) {
      MLC_ASSIGN_OR_RETURN(auto tmp, TempObject::Create(o_.hot_dir));
      tmp->set_progress(opt_.progress);
      tmp->set_on_announce(MakeRoomFn());
      MLC_ASSIGN_OR_RETURN(FetchInfo info, origin_->Fetch(request, *tmp));
      if (info.not_modified) {
        MLC_ASSIGN_OR_RETURN(auto hit, TryHot());
        if (hit) return *hit;
        if (!o_.cold_dir.empty()) {
          MLC_ASSIGN_OR_RETURN(hit, TryCold());
          if (hit) return *hit;
        }
        request.if_none_match.clear();  // our copy is gone after all: fetch it whole
        request.if_modified_since.clear();
        --attempt;
        continue;
      }
      MLC_RETURN_IF_ERROR(tmp->Finish());  // waits for the hash of the last bytes
      UriRecord rec{tmp->Digest(), tmp->bytes_written(), info.etag, info.last_modified};
      MLC_RETURN_IF_ERROR(index_.Bump("origin_fetches"));
      MLC_RETURN_IF_ERROR(index_.Bump("origin_bytes", static_cast<int64_t>(rec.size)));
      if (!opt_.expected_digest.empty() && rec.digest != opt_.expected_digest) {
        MLC_RETURN_IF_ERROR(index_.Bump("verification_failures"));
        bad_digest = rec.digest;
        request.if_none_match.clear();
        request.if_modified_since.clear();
        continue;  // the temporary is removed; never served
      }
      MLC_RETURN_IF_ERROR(MakeRoomFn()(rec.size));
      std::string hot_path = ObjectPath(o_.hot_dir, rec.digest);
      MLC_RETURN_IF_ERROR(tmp->Publish(hot_path));
      MLC_RETURN_IF_ERROR(index_.RecordCopy(uri_, rec, Tier::kHot, hot_path, true));
      MLC_RETURN_IF_ERROR(index_.Touch(rec.digest, Tier::kHot));
      MLC_RETURN_IF_ERROR(index_.Bump("hot_bytes_written", static_cast<int64_t>(rec.size)));
      if (!o_.cold_dir.empty()) {
        Status s = WriteThrough(hot_path, rec);
        if (!s.ok())
          spdlog::warn("data cache: cannot write {} to the cold tier: {}", uri_, s.ToString());
      }
      return LoadResult{hot_path, rec.digest, rec.size, Source::kOrigin};
    }
    return FailedPreconditionError("content of " + uri_ + " does not match the expected digest " +
                                   opt_.expected_digest + " (the origin served " + bad_digest +
                                   " twice); it was not served");
  }

 private:
  TempObject::OnAnnounce MakeRoomFn() {
    return [this](uint64_t total) -> Status {
      MLC_ASSIGN_OR_RETURN(auto victims,
                           index_.MakeRoom(Tier::kHot, o_.hot_capacity_bytes, total,
                                           "hot tier " + o_.hot_dir + " cannot hold " + uri_));
      for (const CopyRow& v : victims) ::unlink(v.path.c_str());
      return Status::Ok();
    };
  }

  Status WriteThrough(const std::string& hot_path, const UriRecord& rec) {
    std::string cold_path = ObjectPath(o_.cold_dir, rec.digest);
    if (FileSize(cold_path) != rec.size) {
      MLC_ASSIGN_OR_RETURN(auto tmp, CopyToTemp(hot_path, o_.cold_dir, nullptr));
      if (tmp->Digest() != rec.digest) return DataLossError("hot copy changed while copied");
      MLC_RETURN_IF_ERROR(tmp->Publish(cold_path));
    }
    MLC_RETURN_IF_ERROR(util::AtomicWriteFile(ColdRecordPath(o_.cold_dir, uri_),
                                              rec.digest + "\n" + std::to_string(rec.size) + "\n" +
                                                  rec.etag + "\n" + rec.last_modified + "\n"));
    MLC_RETURN_IF_ERROR(index_.RecordCopy(uri_, rec, Tier::kCold, cold_path, true));
    return index_.Bump("cold_bytes_written", static_cast<int64_t>(rec.size));
  }

  const DataCacheOptions& o_;
  CacheIndex& index_;
  Origin* origin_;
  std::string uri_;
  const LoadOptions& opt_;
};

}  // namespace

namespace {

// The extra origin whose scheme `uri` has ("artifact://...", "models:/..."), or nullptr.
Origin* ExtraOriginOf(const DataCacheOptions& options, std::string_view uri) {
  for (const auto& [scheme, origin] : options.extra_origins) {
    if (uri.size() > scheme.size() && uri.starts_with(scheme) && uri[scheme.size()] == ':') {
      return origin;
    }
  }
  return nullptr;
}

}  // namespace

Result<std::string> DataCache::Canonical(std::string_view uri) const {
  std::vector<std::string> extra;
  extra.reserve(options_.extra_origins.size());
  for (const auto& [scheme, origin] : options_.extra_origins) extra.push_back(scheme);
  return CanonicalUri(uri, extra);
}

Result<LoadResult> DataCache::Load(const std::string& raw_uri, const LoadOptions& options) {
  MLC_ASSIGN_OR_RETURN(std::string uri, Canonical(raw_uri));
  if (!options.expected_digest.empty() && !IsDigest(options.expected_digest)) {
    return InvalidArgumentError("malformed digest \"" + options.expected_digest +
                                "\": expected 64 lowercase hex characters (SHA-256)");
  }
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  Origin* origin = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->origins_mu);
    std::string scheme = SchemeOf(uri);
    origin = ExtraOriginOf(options_, uri);
    if (origin == nullptr) {
      auto& slot = impl_->origins[scheme];
      if (!slot) {
        MLC_ASSIGN_OR_RETURN(slot, MakeOrigin(scheme, options_.origin));
      }
      origin = slot.get();
    }
  }
  CacheIndex& index = *impl_->index;
  Loader loader(options_, index, origin, uri, options);
  bool revalidate = options.revalidate && options.expected_digest.empty();
  auto finish = [&](LoadResult r) -> Result<LoadResult> {
    MLC_RETURN_IF_ERROR(index.RecordProjectUse(options.project, uri));
    if (!options.pin_owner.empty())
      MLC_RETURN_IF_ERROR(index.AddPin(uri, options.pin_owner, 0, options.pin_holder));
    return r;
  };
  if (!revalidate) {
    MLC_ASSIGN_OR_RETURN(auto hit, loader.TryHot());
    if (hit) return finish(*hit);
  }
  // Single flight: one fetch per URI at a time, across threads and processes.
  bool waited = false;
  MLC_ASSIGN_OR_RETURN(
      FileLock lock,
      FileLock::Acquire(options_.hot_dir + "/locks/" + util::Sha256Hex(uri) + ".lock", &waited));
  if (waited) {
    MLC_RETURN_IF_ERROR(index.Bump("single_flight_waits"));
    MLC_ASSIGN_OR_RETURN(auto hit, loader.TryHot());  // fetched (or revalidated) by the holder
    if (hit) return finish(*hit);
  }
  MLC_RETURN_IF_ERROR(index.Bump("hot_misses"));
  if (!options_.cold_dir.empty() && !revalidate) {
    MLC_ASSIGN_OR_RETURN(auto hit, loader.TryCold());
    if (hit) return finish(*hit);
    MLC_RETURN_IF_ERROR(index.Bump("cold_misses"));
  }
  MLC_ASSIGN_OR_RETURN(LoadResult fetched, loader.FromOrigin(revalidate, deadline));
  return finish(fetched);
}

std::vector<Result<LoadResult>> DataCache::Prefetch(const std::vector<std::string>& uris,
                                                    const std::vector<std::string>& digests) {
  std::vector<Result<LoadResult>> out;
  out.reserve(uris.size());
  for (size_t i = 0; i < uris.size(); ++i) {
    LoadOptions opt;
    if (i < digests.size()) opt.expected_digest = digests[i];
    out.push_back(Load(uris[i], opt));
  }
  return out;
}

Status DataCache::Pin(const std::string& uri, const std::string& owner,
                      std::chrono::milliseconds ttl, const std::string& project) {
  MLC_ASSIGN_OR_RETURN(std::string canonical, Canonical(uri));
  if (owner.empty()) return InvalidArgumentError("a pin needs an owner (\"user:<name>\", ...)");
  MLC_ASSIGN_OR_RETURN(auto rec, impl_->index->LookupUri(canonical));
  if (!rec) return NotFoundError(canonical + " is not cached; load it first");
  MLC_RETURN_IF_ERROR(impl_->index->RecordProjectUse(project, canonical));
  return impl_->index->AddPin(canonical, owner, ttl.count() > 0 ? NowMs() + ttl.count() : 0);
}

Status DataCache::Unpin(const std::string& uri, const std::string& owner) {
  MLC_ASSIGN_OR_RETURN(std::string canonical, Canonical(uri));
  MLC_ASSIGN_OR_RETURN(auto rec, impl_->index->LookupUri(canonical));
  if (!rec) return NotFoundError(canonical + " is not cached");
  return impl_->index->RemovePin(canonical, owner);
}

Result<EvictResult> DataCache::Evict(const std::string& uri, int tier, bool force) {
  MLC_ASSIGN_OR_RETURN(std::string canonical, Canonical(uri));
  CacheIndex& index = *impl_->index;
  MLC_RETURN_IF_ERROR(index.ReleaseStalePins());
  MLC_ASSIGN_OR_RETURN(auto rec, index.LookupUri(canonical));
  if (!rec) return NotFoundError(canonical + " is not cached");
  MLC_ASSIGN_OR_RETURN(auto owners, index.PinOwnersOfDigest(rec->digest));
  if (!owners.empty() && !force) {
    std::string list;
    for (const auto& owner : owners) list += (list.empty() ? "" : ", ") + owner;
    return FailedPreconditionError(canonical + " is pinned by " + list +
                                   "; unpin it or evict with force");
  }
  if (force) {
    MLC_ASSIGN_OR_RETURN(auto pins, index.PinsOf(canonical));
    for (const auto& pin : pins) MLC_RETURN_IF_ERROR(index.RemovePin(canonical, pin.owner));
  }
  EvictResult result;
  for (Tier t : {Tier::kHot, Tier::kCold}) {
    if (tier != 0 && tier != static_cast<int>(t)) continue;
    MLC_ASSIGN_OR_RETURN(auto copy, index.LookupCopy(rec->digest, t));
    if (!copy) continue;
    ::unlink(copy->path.c_str());
    if (t == Tier::kCold) ::unlink(ColdRecordPath(options_.cold_dir, canonical).c_str());
    MLC_RETURN_IF_ERROR(index.ForgetCopy(rec->digest, t));
    ++result.entries_evicted;
    result.bytes_freed += static_cast<int64_t>(copy->size);
  }
  if (result.entries_evicted == 0) return NotFoundError(canonical + " is not cached in that tier");
  return result;
}

Result<EvictResult> DataCache::EvictAllUnpinned() {
  MLC_RETURN_IF_ERROR(impl_->index->ReleaseStalePins());
  MLC_ASSIGN_OR_RETURN(auto victims, impl_->index->TakeUnpinned(Tier::kHot));
  EvictResult result;
  for (const CopyRow& v : victims) {
    ::unlink(v.path.c_str());
    ++result.entries_evicted;
    result.bytes_freed += static_cast<int64_t>(v.size);
  }
  return result;
}

Result<std::vector<Entry>> DataCache::List(const ListFilter& filter) {
  MLC_RETURN_IF_ERROR(impl_->index->ReleaseStalePins());
  return impl_->index->List(filter);
}

Result<Stats> DataCache::GetStats() {
  CacheIndex& index = *impl_->index;
  MLC_RETURN_IF_ERROR(index.ReleaseStalePins());
  Stats stats;
  for (Tier t : {Tier::kHot, Tier::kCold}) {
    if (t == Tier::kCold && options_.cold_dir.empty()) continue;
    std::string p = t == Tier::kHot ? "hot_" : "cold_";
    TierStats ts;
    ts.tier = t;
    MLC_ASSIGN_OR_RETURN(ts.hits, index.Counter(p + "hits"));
    MLC_ASSIGN_OR_RETURN(ts.misses, index.Counter(p + "misses"));
    MLC_ASSIGN_OR_RETURN(ts.bytes_served, index.Counter(p + "bytes_served"));
    MLC_ASSIGN_OR_RETURN(ts.bytes_written, index.Counter(p + "bytes_written"));
    MLC_ASSIGN_OR_RETURN(ts.evictions, index.Counter(p + "evictions"));
    MLC_ASSIGN_OR_RETURN(auto occ, index.OccupancyOf(t));
    ts.used_bytes = occ.used;
    ts.pinned_bytes = occ.pinned;
    ts.entries = occ.entries;
    ts.capacity_bytes = t == Tier::kHot ? static_cast<int64_t>(options_.hot_capacity_bytes) : 0;
    stats.tiers.push_back(ts);
  }
  MLC_ASSIGN_OR_RETURN(stats.origin_fetches, index.Counter("origin_fetches"));
  MLC_ASSIGN_OR_RETURN(stats.origin_bytes, index.Counter("origin_bytes"));
  MLC_ASSIGN_OR_RETURN(stats.single_flight_waits, index.Counter("single_flight_waits"));
  MLC_ASSIGN_OR_RETURN(stats.verification_failures, index.Counter("verification_failures"));
  MLC_ASSIGN_OR_RETURN(stats.since_ms, index.Counter("since"));
  return stats;
}

Result<DataCacheOptions> CacheOptionsFromEnv(const std::string& default_hot_dir) {
  DataCacheOptions o;
  o.hot_dir = util::GetEnv("MLC_CACHE_DIR", default_hot_dir);
  o.cold_dir = util::GetEnv("MLC_CACHE_COLD_DIR");
  std::string capacity = util::GetEnv("MLC_CACHE_CAPACITY");
  if (!capacity.empty()) {
    auto parsed = ParseResources("memory=" + capacity);
    if (!parsed.ok() || parsed->memory_bytes() < 0) {
      return InvalidArgumentError("MLC_CACHE_CAPACITY=\"" + capacity +
                                  "\" is not a size; use e.g. 50Gi, 800Mi, or 0 for no cap");
    }
    o.hot_capacity_bytes = static_cast<uint64_t>(parsed->memory_bytes());
  } else {
    // A fifth of the filesystem holding the hot tier (its parent when not created yet).
    std::string probe = o.hot_dir;
    struct statvfs vfs {};
    while (!probe.empty() && ::statvfs(probe.c_str(), &vfs) != 0) {
      probe = std::filesystem::path(probe).parent_path().string();
      if (probe == "/") break;
    }
    if (::statvfs(probe.empty() ? "/" : probe.c_str(), &vfs) == 0) {
      o.hot_capacity_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize / 5;
    }
  }
  return o;
}

}  // namespace mlcore::datacache
