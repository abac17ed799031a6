#include "remote/remote_data.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "datacache/data_cache.h"
#include "datacache/files.h"
#include "util/fs.h"

namespace mlcore::remote {

namespace {

constexpr std::string_view kScheme = "mlcserver";
constexpr std::string_view kKeyPrefix = "mlcserver://sha256/";

std::string KeyOf(const std::string& digest) { return std::string(kKeyPrefix) + digest; }

std::string DefaultHotDir() {
  std::string cache = util::GetEnv("XDG_CACHE_HOME");
  if (cache.empty()) cache = util::HomeDir() + "/.cache";
  return cache + "/mlcore/data";
}

}  // namespace

// The origin of `mlcserver://sha256/<digest>` keys: the server that loaded the content, asked with
// ReadData for the file the key's digest was last seen at. An interrupted stream resumes at the
// bytes already written (twice at most) before the error is returned.
class ServerOrigin final : public datacache::Origin {
 public:
  explicit ServerOrigin(RemoteDataCopier::ReadFn read) : read_(std::move(read)) {}

  void Remember(const std::string& digest, v1::ReadDataRequest where) {
    std::lock_guard lock(mu_);
    where_[digest] = std::move(where);
  }

  Result<datacache::FetchInfo> Fetch(const datacache::FetchRequest& request,
                                     datacache::FetchSink& sink) override {
    std::string digest = request.uri.substr(std::min(request.uri.size(), kKeyPrefix.size()));
    v1::ReadDataRequest read;
    {
      std::lock_guard lock(mu_);
      auto it = where_.find(digest);
      if (it == where_.end()) {
        return NotFoundError("no server load names content " + digest + "; load its URI again");
      }
      read = it->second;
    }
    datacache::FetchInfo info;
    Status last;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      info.attempts = attempt;
      read.set_offset(static_cast<int64_t>(sink.bytes_written()));
      if (read.offset() > 0) ++info.range_requests;
      Status sink_error;
      bool first = true;
      last = read_(read, [&](const v1::ReadDataResponse& chunk) {
        if (first && read.offset() == 0) {
          sink_error = sink.Announce(static_cast<uint64_t>(chunk.size_bytes()));
          if (!sink_error.ok()) return false;
        }
        first = false;
        sink_error = sink.Write(chunk.data());
        return sink_error.ok();
      });
      if (!sink_error.ok()) return sink_error;
      if (last.ok()) break;
      if (last.code() != StatusCode::kUnavailable && last.code() != StatusCode::kAborted) break;
    }
    MLC_RETURN_IF_ERROR(last);
    info.size = sink.bytes_written();
    return info;
  }

 private:
  RemoteDataCopier::ReadFn read_;
  std::mutex mu_;
  std::map<std::string, v1::ReadDataRequest> where_;
};

RemoteDataCopier::RemoteDataCopier(ReadFn read)
    : origin_(std::make_unique<ServerOrigin>(std::move(read))) {}
RemoteDataCopier::~RemoteDataCopier() = default;

Result<datacache::DataCache*> RemoteDataCopier::Cache() {
  std::lock_guard lock(mu_);
  if (cache_) return cache_.get();
  MLC_ASSIGN_OR_RETURN(datacache::DataCacheOptions options,
                       datacache::CacheOptionsFromEnv(DefaultHotDir()));
  options.extra_origins[std::string(kScheme)] = origin_.get();
  MLC_ASSIGN_OR_RETURN(cache_, datacache::DataCache::Open(options));
  return cache_.get();
}

Result<v1::LoadResponse> RemoteDataCopier::Localize(const v1::LoadRequest& request,
                                                    v1::LoadResponse loaded,
                                                    const ProgressFn& progress) {
  if (loaded.machine_id() == datacache::MachineId()) return loaded;
  MLC_ASSIGN_OR_RETURN(datacache::DataCache * cache, Cache());
  datacache::LoadOptions options;
  options.timeout = std::chrono::milliseconds(30 * 60 * 1000);
  if (request.has_timeout() && request.timeout().seconds() > 0) {
    options.timeout = std::chrono::seconds(request.timeout().seconds());
  }
  const auto total = static_cast<uint64_t>(loaded.size_bytes());
  int worst = static_cast<int>(datacache::Source::kHot);
  // One file: `path` empty, the object's own digest.
  auto copy = [&](const std::string& path, const std::string& digest,
                  uint64_t base) -> Result<std::string> {
    v1::ReadDataRequest where;
    where.set_project(request.project());
    where.set_uri(request.uri());
    where.set_path(path);
    where.set_digest(digest);
    origin_->Remember(digest, std::move(where));
    datacache::LoadOptions file = options;
    file.expected_digest = digest;
    if (progress) {
      file.progress = [&progress, base, total](uint64_t done, uint64_t) {
        return progress(base + done, total);
      };
    }
    MLC_ASSIGN_OR_RETURN(datacache::LoadResult got, cache->Load(KeyOf(digest), file));
    worst = std::max(worst, static_cast<int>(got.source));
    return got.local_path;
  };
  v1::LoadResponse out = loaded;
  out.set_machine_id(datacache::MachineId());
  if (loaded.files().empty()) {
    MLC_ASSIGN_OR_RETURN(std::string path, copy("", loaded.digest(), 0));
    out.set_local_path(path);
  } else {
    std::vector<datacache::TreeLink> links;
    links.reserve(static_cast<size_t>(loaded.files_size()));
    uint64_t base = 0;
    for (const v1::LoadedFile& f : loaded.files()) {
      MLC_ASSIGN_OR_RETURN(std::string path, copy(f.path(), f.digest(), base));
      links.push_back({f.path(), path});
      base += static_cast<uint64_t>(f.size_bytes());
      if (progress && !progress(base, total)) return CancelledError("load cancelled");
    }
    MLC_ASSIGN_OR_RETURN(
        std::string tree,
        datacache::PublishLinkTree(cache->options().hot_dir + "/trees", loaded.digest(), links));
    out.set_local_path(tree);
  }
  // What this machine had to do: a copy already here is HOT; a copy made now came from wherever
  // the server got it (at best its hot tier, one hop away: COLD).
  if (worst != static_cast<int>(datacache::Source::kHot)) {
    out.set_source(static_cast<v1::LoadSource>(
        std::max(static_cast<int>(loaded.source()), static_cast<int>(v1::LOAD_SOURCE_COLD))));
  } else {
    out.set_source(v1::LOAD_SOURCE_HOT);
  }
  return out;
}

}  // namespace mlcore::remote
