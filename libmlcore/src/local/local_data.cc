#include "local/local_data.h"

#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "artifacts/manifest.h"
#include "core/page_token.h"
#include "datacache/files.h"
#include "datacache/proto.h"
#include "local/process.h"
#include "mlcore/resources.h"
#include "registry/model_uri.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

constexpr std::string_view kArtifactScheme = "artifact://";
constexpr int kDefaultPageSize = 100;

// "artifact://ID[/PATH]" split into id and path (no trailing slash).
struct ArtifactUri {
  std::string id;
  std::string path;
};

Result<ArtifactUri> ParseArtifactUri(std::string_view uri) {
  if (!uri.starts_with(kArtifactScheme)) return InvalidArgumentError("not an artifact:// URI");
  std::string_view rest = uri.substr(kArtifactScheme.size());
  while (rest.ends_with('/')) rest.remove_suffix(1);
  ArtifactUri out;
  size_t slash = rest.find('/');
  out.id = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash + 1));
  if (out.id.empty()) {
    return InvalidArgumentError("\"" + std::string(uri) +
                                "\" names no artifact; use artifact://ID or artifact://ID/PATH");
  }
  return out;
}

// An artifact URI resolved against the store.
struct ResolvedArtifact {
  std::string base;  // "artifact://ID" or "models:/PROJECT/NAME/VERSION": + "/" + path per file
  v1::Artifact artifact;  // artifact:// only
  v1::Manifest manifest;  // the selected file or subtree, full paths
  std::string path;       // the selected path; empty = the whole artifact
  bool single_file = false;
};

Result<ResolvedArtifact> ResolveArtifact(ArtifactIndex& index, std::string_view uri,
                                         const std::string& project) {
  MLC_ASSIGN_OR_RETURN(ArtifactUri parsed, ParseArtifactUri(uri));
  auto artifact = index.GetArtifact(parsed.id);
  if (!artifact.ok() || (!project.empty() && artifact->project() != project)) {
    return NotFoundError("artifact " + parsed.id + " not found" +
                         (project.empty() ? "" : " in project " + project) +
                         "; list them with `mlc artifact ls`");
  }
  v1::GetManifestRequest get;
  get.set_project(artifact->project());
  get.set_digest(artifact->manifest_digest());
  get.set_path_prefix(parsed.path);
  auto manifest = index.GetManifest(get);
  if (!manifest.ok()) {
    if (manifest.status().code() == StatusCode::kNotFound && !parsed.path.empty()) {
      return NotFoundError("artifact " + parsed.id + " has no file at or under \"" + parsed.path +
                           "\"");
    }
    return manifest.status();
  }
  ResolvedArtifact out;
  out.base = std::string(kArtifactScheme) + parsed.id;
  out.artifact = std::move(artifact).value();
  out.manifest = std::move(manifest).value();
  out.path = parsed.path;
  out.single_file = out.manifest.entries_size() == 1 &&
                    (parsed.path.empty() || out.manifest.entries(0).path() == parsed.path);
  return out;
}

std::string EntryUri(const ResolvedArtifact& r, const v1::ManifestEntry& entry) {
  return r.base + "/" + entry.path();
}

// A `models:/` URI resolved through the registry to a READY version's files (always a tree).
Result<ResolvedArtifact> ResolveModel(ArtifactIndex& index, RegistryStore& registry,
                                      std::string_view uri, const std::string& project) {
  MLC_ASSIGN_OR_RETURN(registry::ModelUri parsed, registry::ParseModelUri(uri));
  if (parsed.project.empty()) parsed.project = project;
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion version, registry.Resolve(parsed));
  v1::GetManifestRequest get;
  get.set_project(version.project());
  get.set_digest(version.manifest_digest());
  MLC_ASSIGN_OR_RETURN(v1::Manifest manifest, index.GetManifest(get));
  ResolvedArtifact out;
  out.base = "models:/" + version.project() + "/" + version.model() + "/" +
             std::to_string(version.version());
  out.manifest = std::move(manifest);
  return out;
}

// The blob of the one file a per-file `models:/PROJECT/NAME/VERSION/PATH` key names.
Result<v1::ManifestEntry> ModelFile(ArtifactIndex& index, RegistryStore& registry,
                                    std::string_view key) {
  std::string_view rest = key.substr(std::string_view("models:/").size());
  std::vector<std::string> parts;
  for (int i = 0; i < 3; ++i) {
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return InvalidArgumentError("\"" + std::string(key) + "\" names no file of a model version");
    }
    parts.emplace_back(rest.substr(0, slash));
    rest.remove_prefix(slash + 1);
  }
  int64_t number = std::strtoll(parts[2].c_str(), nullptr, 10);
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion version, registry.GetVersion(parts[0], parts[1], number));
  v1::GetManifestRequest get;
  get.set_project(version.project());
  get.set_digest(version.manifest_digest());
  get.set_path_prefix(std::string(rest));
  MLC_ASSIGN_OR_RETURN(v1::Manifest manifest, index.GetManifest(get));
  if (manifest.entries_size() != 1 || manifest.entries(0).path() != rest) {
    return FailedPreconditionError(std::string(key) + " is not one file");
  }
  return manifest.entries(0);
}

// Serves `artifact://` from the blob store: the bytes of the one file the URI names.
class ArtifactOrigin final : public datacache::Origin {
 public:
  ArtifactOrigin(LocalDataService::ArtifactsFn artifacts, LocalDataService::RegistryFn registry)
      : artifacts_(std::move(artifacts)), registry_(std::move(registry)) {}

  Result<datacache::FetchInfo> Fetch(const datacache::FetchRequest& request,
                                     datacache::FetchSink& sink) override {
    MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, artifacts_());
    v1::ManifestEntry entry;
    if (registry::IsModelUri(request.uri)) {
      MLC_ASSIGN_OR_RETURN(RegistryStore * registry, registry_());
      MLC_ASSIGN_OR_RETURN(entry, ModelFile(*index, *registry, request.uri));
    } else {
      MLC_ASSIGN_OR_RETURN(ResolvedArtifact r, ResolveArtifact(*index, request.uri, ""));
      if (!r.single_file) {
        return FailedPreconditionError(request.uri + " is a directory of " +
                                       std::to_string(r.manifest.entries_size()) + " files");
      }
      entry = r.manifest.entries(0);
    }
    MLC_ASSIGN_OR_RETURN(std::string path, index->BlobPath(entry.digest()));
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return util::FromErrno(errno, "cannot open blob " + path);
    MLC_RETURN_IF_ERROR(sink.Announce(static_cast<uint64_t>(entry.size_bytes())));
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::string buffer(1 << 20, '\0');
    Status status = Status::Ok();
    for (;;) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = util::FromErrno(errno, "cannot read blob " + path);
        break;
      }
      if (n == 0) break;
      status = sink.Write(std::string_view(buffer.data(), static_cast<size_t>(n)));
      if (!status.ok()) break;
    }
    ::close(fd);
    MLC_RETURN_IF_ERROR(status);
    datacache::FetchInfo info;
    info.size = sink.bytes_written();
    info.attempts = 1;
    return info;
  }

 private:
  LocalDataService::ArtifactsFn artifacts_;
  LocalDataService::RegistryFn registry_;
};

void SetCode(v1::PrefetchResult* out, const Status& status) {
  out->set_code(static_cast<int32_t>(status.code()));
  out->set_message(std::string(status.message()));
}

}  // namespace

Result<datacache::DataCacheOptions> LocalCacheOptions(const std::string& state_dir) {
  return datacache::CacheOptionsFromEnv(state_dir + "/cache");
}

struct LocalDataService::Impl {
  std::string state_dir;
  ArtifactsFn artifacts;
  RegistryFn registry;
  std::unique_ptr<ArtifactOrigin> origin;
  std::unique_ptr<datacache::DataCache> cache;

  // artifact:// and models:/ URIs name trees of files in the artifact store.
  bool IsArtifact(std::string_view uri) const {
    return uri.starts_with(kArtifactScheme) || registry::IsModelUri(uri);
  }

  Result<ResolvedArtifact> Resolve(const std::string& uri, const std::string& project) {
    MLC_ASSIGN_OR_RETURN(ArtifactIndex * index, artifacts());
    if (registry::IsModelUri(uri)) {
      MLC_ASSIGN_OR_RETURN(RegistryStore * store, registry());
      return ResolveModel(*index, *store, uri, project);
    }
    return ResolveArtifact(*index, uri, project);
  }

  // The cache entry of `uri` (hot copy preferred), or NOT_FOUND.
  Result<v1::CacheEntry> EntryOf(const std::string& uri) {
    MLC_ASSIGN_OR_RETURN(std::string canonical, cache->Canonical(uri));
    datacache::ListFilter filter;
    filter.uri_prefix = canonical;
    MLC_ASSIGN_OR_RETURN(auto entries, cache->List(filter));
    const datacache::Entry* best = nullptr;
    for (const auto& e : entries) {
      if (e.uri != canonical) continue;
      if (best == nullptr || e.tier == datacache::Tier::kHot) best = &e;
    }
    if (best == nullptr) return NotFoundError(canonical + " is not cached; load it first");
    return datacache::ToProto(*best);
  }

  // The per-file URIs of a directory artifact URI, or just {uri}.
  Result<std::vector<std::string>> Expand(const std::string& uri, const std::string& project,
                                          ResolvedArtifact* resolved, bool* is_tree) {
    *is_tree = false;
    if (!IsArtifact(uri)) return std::vector<std::string>{uri};
    MLC_ASSIGN_OR_RETURN(*resolved, Resolve(uri, project));
    if (resolved->single_file) return std::vector<std::string>{uri};
    *is_tree = true;
    std::vector<std::string> out;
    for (const auto& e : resolved->manifest.entries()) out.push_back(EntryUri(*resolved, e));
    return out;
  }

  std::string TreeDir(const std::string& digest) const {
    return cache->options().hot_dir + "/trees/" + digest;
  }

  // A summary entry for a directory URI: its tree, size and the pins of its files.
  Result<v1::CacheEntry> TreeEntry(const std::string& uri, const ResolvedArtifact& r,
                                   const std::vector<std::string>& files) {
    v1::CacheEntry out;
    out.set_uri(uri);
    out.set_digest(r.manifest.digest());
    out.set_size_bytes(r.manifest.total_size_bytes());
    out.set_tier(v1::CACHE_TIER_HOT);
    std::string tree = TreeDir(r.manifest.digest());
    if (std::filesystem::exists(tree)) out.set_local_path(tree);
    std::set<std::string> owners;
    for (const std::string& f : files) {
      auto e = EntryOf(f);
      if (!e.ok()) continue;
      for (const auto& pin : e->pins()) {
        if (owners.insert(pin.owner()).second) *out.add_pins() = pin;
      }
    }
    out.set_pinned(!owners.empty());
    return out;
  }

  // Builds <hot>/trees/<digest>: symlinks to the (loaded) objects at the entries' paths relative
  // to the selected path. Atomic: the tree appears complete or not at all.
  Result<std::string> BuildTree(const ResolvedArtifact& r,
                                const std::vector<std::string>& objects) {
    std::vector<datacache::TreeLink> links;
    links.reserve(objects.size());
    for (int i = 0; i < r.manifest.entries_size(); ++i) {
      links.push_back({RelativePath(r, r.manifest.entries(i)), objects[static_cast<size_t>(i)]});
    }
    return datacache::PublishLinkTree(cache->options().hot_dir + "/trees", r.manifest.digest(),
                                      links);
  }

  // An entry's path relative to the selected path of a directory URI.
  static std::string RelativePath(const ResolvedArtifact& r, const v1::ManifestEntry& e) {
    const std::string& rel = e.path();
    if (r.path.empty() || rel.size() <= r.path.size()) return rel;
    return rel.substr(r.path.size() + 1);
  }
};

LocalDataService::LocalDataService(std::string state_dir, ArtifactsFn artifacts,
                                   RegistryFn registry)
    : impl_(std::make_unique<Impl>()) {
  impl_->state_dir = std::move(state_dir);
  impl_->artifacts = std::move(artifacts);
  impl_->registry = std::move(registry);
}
LocalDataService::~LocalDataService() = default;

Result<std::unique_ptr<LocalDataService>> LocalDataService::Open(const std::string& state_dir,
                                                                 ArtifactsFn artifacts,
                                                                 RegistryFn registry) {
  std::unique_ptr<LocalDataService> s(
      new LocalDataService(state_dir, std::move(artifacts), std::move(registry)));
  s->impl_->origin = std::make_unique<ArtifactOrigin>(s->impl_->artifacts, s->impl_->registry);
  MLC_ASSIGN_OR_RETURN(datacache::DataCacheOptions options, LocalCacheOptions(state_dir));
  options.extra_origins["artifact"] = s->impl_->origin.get();
  options.extra_origins["models"] = s->impl_->origin.get();
  MLC_ASSIGN_OR_RETURN(s->impl_->cache, datacache::DataCache::Open(options));
  return s;
}

Result<v1::LoadResponse> LocalDataService::Load(const v1::LoadRequest& request,
                                                const ProgressFn& progress, pid_t pin_holder) {
  const std::string& uri = request.uri();
  datacache::LoadOptions options;
  options.expected_digest = request.digest();
  options.revalidate = request.revalidate();
  options.pin_owner = request.pin_owner();
  options.pin_holder = pin_holder;
  options.project = request.project();
  options.progress = progress;
  if (request.has_timeout() && TimeUtil::DurationToMilliseconds(request.timeout()) > 0) {
    options.timeout =
        std::chrono::milliseconds(TimeUtil::DurationToMilliseconds(request.timeout()));
  }
  if (!impl_->IsArtifact(uri)) {
    MLC_ASSIGN_OR_RETURN(datacache::LoadResult r, impl_->cache->Load(uri, options));
    v1::LoadResponse out = datacache::ToProto(r);
    out.set_machine_id(datacache::MachineId());
    return out;
  }
  MLC_ASSIGN_OR_RETURN(ResolvedArtifact r, impl_->Resolve(uri, request.project()));
  const std::string want = r.single_file ? r.manifest.entries(0).digest() : r.manifest.digest();
  if (!request.digest().empty() && request.digest() != want) {
    return FailedPreconditionError(uri + " holds " + want + ", not the expected " +
                                   request.digest());
  }
  if (r.single_file) {
    options.expected_digest = want;
    MLC_ASSIGN_OR_RETURN(datacache::LoadResult loaded, impl_->cache->Load(uri, options));
    v1::LoadResponse out = datacache::ToProto(loaded);
    out.set_machine_id(datacache::MachineId());
    return out;
  }
  // A directory: every file as its own object, then a tree of links to them.
  const auto total = static_cast<uint64_t>(r.manifest.total_size_bytes());
  uint64_t base = 0;
  int worst = v1::LOAD_SOURCE_HOT;
  std::vector<std::string> objects;
  objects.reserve(static_cast<size_t>(r.manifest.entries_size()));
  for (const v1::ManifestEntry& e : r.manifest.entries()) {
    datacache::LoadOptions file = options;
    file.expected_digest = e.digest();
    if (progress) {
      file.progress = [&progress, base, total](uint64_t done, uint64_t) {
        return progress(base + done, total);
      };
    }
    MLC_ASSIGN_OR_RETURN(datacache::LoadResult loaded, impl_->cache->Load(EntryUri(r, e), file));
    worst = std::max(worst, static_cast<int>(loaded.source));
    objects.push_back(loaded.local_path);
    base += static_cast<uint64_t>(e.size_bytes());
    if (progress && !progress(base, total)) return CancelledError("load cancelled");
  }
  MLC_ASSIGN_OR_RETURN(std::string tree, impl_->BuildTree(r, objects));
  v1::LoadResponse out;
  out.set_local_path(tree);
  out.set_digest(r.manifest.digest());
  out.set_size_bytes(r.manifest.total_size_bytes());
  out.set_source(static_cast<v1::LoadSource>(worst));
  out.set_machine_id(datacache::MachineId());
  for (const v1::ManifestEntry& e : r.manifest.entries()) {
    v1::LoadedFile* f = out.add_files();
    f->set_path(Impl::RelativePath(r, e));
    f->set_digest(e.digest());
    f->set_size_bytes(e.size_bytes());
  }
  return out;
}

Status LocalDataService::Read(const v1::ReadDataRequest& request,
                              const std::function<bool(const v1::ReadDataResponse&)>& sink) {
  v1::LoadRequest load;
  load.set_project(request.project());
  load.set_uri(request.uri());
  if (request.path().empty()) load.set_digest(request.digest());
  MLC_ASSIGN_OR_RETURN(v1::LoadResponse loaded, Load(load, {}));
  std::string file = loaded.local_path();
  std::string digest = loaded.digest();
  int64_t size = loaded.size_bytes();
  if (!request.path().empty()) {
    const v1::LoadedFile* found = nullptr;
    for (const v1::LoadedFile& f : loaded.files()) {
      if (f.path() == request.path()) found = &f;
    }
    if (found == nullptr) {
      return InvalidArgumentError(
          loaded.files().empty() ? request.uri() + " is a single file: read it without a path"
                                 : "\"" + request.path() + "\" is not a file of " + request.uri() +
                                       "; the paths are those of the load's `files`");
    }
    if (!request.digest().empty() && request.digest() != found->digest()) {
      return FailedPreconditionError(request.uri() + " holds " + found->digest() + " at \"" +
                                     request.path() + "\", not the expected " + request.digest());
    }
    file += "/" + found->path();
    digest = found->digest();
    size = found->size_bytes();
  } else if (!loaded.files().empty()) {
    return InvalidArgumentError(request.uri() +
                                " is a directory: read its files one by one, by `path`");
  }
  if (request.offset() < 0 || request.offset() > size) {
    return InvalidArgumentError("offset " + std::to_string(request.offset()) +
                                " is outside the file (" + std::to_string(size) + " bytes)");
  }
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return util::FromErrno(errno, "cannot open " + file);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  constexpr size_t kChunk = 1 << 20;
  v1::ReadDataResponse chunk;
  chunk.set_size_bytes(size);
  chunk.set_digest(digest);
  std::string* data = chunk.mutable_data();
  auto offset = static_cast<off_t>(request.offset());
  bool first = true;
  while (true) {
    data->resize(kChunk);
    ssize_t n = ::pread(fd, data->data(), kChunk, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return util::FromErrno(errno, "cannot read " + file);
    }
    data->resize(static_cast<size_t>(n));
    if (n == 0 && !first) break;
    if (!sink(chunk)) return Status::Ok();
    if (n == 0) break;
    offset += n;
    if (first) {
      chunk.clear_size_bytes();
      chunk.clear_digest();
      first = false;
    }
  }
  return Status::Ok();
}

Result<v1::ListCacheEntriesResponse> LocalDataService::List(
    const v1::ListCacheEntriesRequest& request) {
  datacache::ListFilter filter;
  filter.tier = static_cast<int>(request.tier());
  filter.uri_prefix = request.uri_prefix();
  filter.pinned_only = request.pinned_only();
  filter.project = request.project();
  MLC_ASSIGN_OR_RETURN(std::string offset_text, DecodePageToken(request.page_token(), "cache"));
  size_t offset = offset_text.empty() ? 0 : std::strtoull(offset_text.c_str(), nullptr, 10);
  size_t page = request.page_size() > 0 ? static_cast<size_t>(request.page_size())
                                        : static_cast<size_t>(kDefaultPageSize);
  MLC_ASSIGN_OR_RETURN(auto entries, impl_->cache->List(filter));
  v1::ListCacheEntriesResponse out;
  for (size_t i = offset; i < entries.size() && i < offset + page; ++i) {
    *out.add_entries() = datacache::ToProto(entries[i]);
  }
  if (offset + page < entries.size()) {
    out.set_next_page_token(EncodePageToken(std::to_string(offset + page), "cache"));
  }
  return out;
}

Result<v1::CacheEntry> LocalDataService::Pin(const v1::PinRequest& request) {
  ResolvedArtifact r;
  bool tree = false;
  MLC_ASSIGN_OR_RETURN(auto files, impl_->Expand(request.uri(), request.project(), &r, &tree));
  auto ttl = std::chrono::milliseconds(
      request.has_ttl() ? TimeUtil::DurationToMilliseconds(request.ttl()) : 0);
  for (const std::string& f : files) {
    MLC_RETURN_IF_ERROR(impl_->cache->Pin(f, request.owner(), ttl, request.project()));
  }
  if (tree) return impl_->TreeEntry(request.uri(), r, files);
  return impl_->EntryOf(request.uri());
}

Result<v1::CacheEntry> LocalDataService::Unpin(const v1::UnpinRequest& request) {
  ResolvedArtifact r;
  bool tree = false;
  MLC_ASSIGN_OR_RETURN(auto files, impl_->Expand(request.uri(), request.project(), &r, &tree));
  for (const std::string& f : files) {
    MLC_RETURN_IF_ERROR(impl_->cache->Unpin(f, request.owner()));
  }
  if (tree) return impl_->TreeEntry(request.uri(), r, files);
  return impl_->EntryOf(request.uri());
}

Result<v1::EvictResponse> LocalDataService::Evict(const v1::EvictRequest& request) {
  ResolvedArtifact r;
  bool tree = false;
  MLC_ASSIGN_OR_RETURN(auto files, impl_->Expand(request.uri(), "", &r, &tree));
  datacache::EvictResult total;
  Status first = Status::Ok();
  for (const std::string& f : files) {
    auto evicted = impl_->cache->Evict(f, static_cast<int>(request.tier()), request.force());
    if (evicted.ok()) {
      total.entries_evicted += evicted->entries_evicted;
      total.bytes_freed += evicted->bytes_freed;
    } else if (first.ok() && !(tree && evicted.status().code() == StatusCode::kNotFound)) {
      first = evicted.status();
    }
  }
  if (tree) {
    if (total.entries_evicted == 0 && first.ok()) {
      return NotFoundError(request.uri() + " is not cached");
    }
    // The tree links to the hot copies: it goes with them, not when the eviction was refused
    // (pinned: a job may be reading it) nor when only the cold tier was evicted.
    if (first.ok() && request.tier() != v1::CACHE_TIER_COLD) {
      std::error_code ec;
      std::filesystem::remove_all(impl_->TreeDir(r.manifest.digest()), ec);
    }
  }
  if (!first.ok()) return first;
  return datacache::ToProto(total);
}

Result<v1::PrefetchResponse> LocalDataService::Prefetch(const v1::PrefetchRequest& request) {
  v1::PrefetchResponse out;
  if (request.wait()) {
    for (const auto& item : request.items()) {
      v1::LoadRequest load;
      load.set_project(request.project());
      load.set_uri(item.uri());
      load.set_digest(item.digest());
      auto loaded = Load(load, {});
      v1::PrefetchResult* res = out.add_results();
      res->set_uri(item.uri());
      if (loaded.ok()) {
        res->set_digest(loaded->digest());
      } else {
        SetCode(res, loaded.status());
      }
    }
    return out;
  }
  // Not waiting: a detached process does the loads, so they survive this one.
  MLC_ASSIGN_OR_RETURN(std::string binary, SupervisorBinary());
  std::vector<std::string> argv = {binary,           "--prefetch", "--state",
                                   impl_->state_dir, "--project",  request.project()};
  for (const auto& item : request.items()) {
    argv.push_back(item.digest().empty() ? item.uri() : item.uri() + "@" + item.digest());
    v1::PrefetchResult* res = out.add_results();
    res->set_uri(item.uri());
    res->set_digest(item.digest());
  }
  std::string log_dir = impl_->cache->options().hot_dir + "/prefetch.log";
  MLC_RETURN_IF_ERROR(SpawnDetached(argv, log_dir).status());
  return out;
}

Result<v1::CacheStats> LocalDataService::Stats() {
  MLC_ASSIGN_OR_RETURN(datacache::Stats stats, impl_->cache->GetStats());
  return datacache::ToProto(stats);
}

Result<std::vector<std::string>> LocalDataService::HotDigests() {
  datacache::ListFilter filter;
  filter.tier = static_cast<int>(datacache::Tier::kHot);
  MLC_ASSIGN_OR_RETURN(auto entries, impl_->cache->List(filter));
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(e.digest);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// A data service for a process that has no backend open (a supervisor, a prefetcher).
struct StandaloneData {
  std::unique_ptr<ArtifactIndex> index;
  std::unique_ptr<RegistryStore> registry;
  std::mutex mu;
  std::unique_ptr<LocalDataService> service;

  static Result<std::unique_ptr<StandaloneData>> Open(const std::string& state_dir) {
    auto d = std::make_unique<StandaloneData>();
    StandaloneData* raw = d.get();
    auto artifacts = [raw, state_dir]() -> Result<ArtifactIndex*> {
      std::lock_guard lock(raw->mu);
      if (!raw->index) {
        MLC_ASSIGN_OR_RETURN(raw->index, ArtifactIndex::Open(state_dir));
      }
      return raw->index.get();
    };
    auto registry = [raw, state_dir]() -> Result<RegistryStore*> {
      std::lock_guard lock(raw->mu);
      if (!raw->registry) {
        MLC_ASSIGN_OR_RETURN(raw->registry, RegistryStore::Open(state_dir + "/registry.db"));
      }
      return raw->registry.get();
    };
    MLC_ASSIGN_OR_RETURN(d->service, LocalDataService::Open(state_dir, artifacts, registry));
    return d;
  }
};

}  // namespace

Result<std::vector<v1::DatasetRef>> LoadJobInputs(const std::string& state_dir, const v1::Job& job,
                                                  pid_t holder, std::vector<std::string>* paths) {
  paths->clear();
  std::vector<v1::DatasetRef> out;
  if (job.spec().input_datasets().empty()) return out;
  MLC_ASSIGN_OR_RETURN(auto data, StandaloneData::Open(state_dir));
  for (const v1::DatasetRef& d : job.spec().input_datasets()) {
    v1::LoadRequest load;
    load.set_project(job.spec().project());
    load.set_uri(d.uri());
    load.set_digest(d.digest());
    load.set_pin_owner("job:" + job.id());
    auto loaded = data->service->Load(load, {}, holder);
    if (!loaded.ok()) {
      return Status(loaded.status().code(), "cannot load input dataset " + d.uri() + ": " +
                                                std::string(loaded.status().message()));
    }
    if (d.uri().starts_with(kArtifactScheme)) {
      // Lineage: the job consumed this artifact (the load opened the artifact index).
      auto parsed = ParseArtifactUri(d.uri());
      if (parsed.ok() && data->index) {
        v1::RecordArtifactUseRequest use;
        use.set_artifact_id(parsed->id);
        use.mutable_consumer()->set_kind(v1::OBJECT_KIND_JOB);
        use.mutable_consumer()->set_id(job.id());
        use.mutable_consumer()->set_project(job.spec().project());
        use.mutable_consumer()->set_display_name(job.spec().name());
        Status recorded = data->index->RecordUse(use);
        if (!recorded.ok())
          spdlog::warn("cannot record the use of {}: {}", d.uri(), recorded.ToString());
      }
    }
    v1::DatasetRef ref = d;
    ref.set_digest(loaded->digest());
    ref.set_size_bytes(loaded->size_bytes());
    out.push_back(std::move(ref));
    paths->push_back(loaded->local_path());
  }
  return out;
}

void ReleaseJobInputs(const std::string& state_dir, const v1::Job& job) {
  if (job.spec().input_datasets().empty()) return;
  auto data = StandaloneData::Open(state_dir);
  if (!data.ok()) {
    spdlog::warn("cannot release the input pins of job {}: {}", job.id(), data.status().ToString());
    return;
  }
  for (const v1::DatasetRef& d : job.spec().input_datasets()) {
    v1::UnpinRequest unpin;
    unpin.set_project(job.spec().project());
    unpin.set_uri(d.uri());
    unpin.set_owner("job:" + job.id());
    auto s = (*data)->service->Unpin(unpin);
    if (!s.ok() && s.status().code() != StatusCode::kNotFound) {
      spdlog::warn("cannot release the pin of job {} on {}: {}", job.id(), d.uri(),
                   s.status().ToString());
    }
  }
}

Status UploadJobOutputs(const std::string& state_dir, const v1::Job& job,
                        const std::string& working_dir,
                        const std::function<void(const std::string&)>& log,
                        std::vector<std::string>* artifact_ids) {
  if (job.spec().output_paths().empty()) return Status::Ok();
  MLC_ASSIGN_OR_RETURN(auto index, ArtifactIndex::Open(state_dir));
  Status first = Status::Ok();
  std::set<std::string> done;
  for (const std::string& pattern : job.spec().output_paths()) {
    glob_t g{};
    std::string full = working_dir + "/" + pattern;
    int rc = ::glob(full.c_str(), GLOB_NOSORT, nullptr, &g);
    if (rc != 0 || g.gl_pathc == 0) {
      log("output path " + pattern + " matched nothing in " + working_dir);
      ::globfree(&g);
      continue;
    }
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    ::globfree(&g);
    std::sort(matches.begin(), matches.end());
    for (const std::string& match : matches) {
      std::string rel = std::filesystem::path(match).lexically_relative(working_dir).string();
      if (rel.empty() || rel.starts_with("..") || !done.insert(rel).second) continue;
      auto stored = [&]() -> Result<v1::Artifact> {
        MLC_RETURN_IF_ERROR(artifacts::ValidateEntryPath(rel));
        MLC_ASSIGN_OR_RETURN(v1::Manifest m, index->UploadTree(job.spec().project(), match, {}));
        v1::Artifact a;
        a.set_project(job.spec().project());
        a.mutable_owner()->set_kind(v1::OBJECT_KIND_JOB);
        a.mutable_owner()->set_id(job.id());
        a.mutable_owner()->set_project(job.spec().project());
        a.mutable_owner()->set_display_name(job.spec().name());
        a.set_path(rel);
        a.set_kind(std::filesystem::is_directory(match) ? v1::ARTIFACT_KIND_DIRECTORY
                                                        : v1::ARTIFACT_KIND_FILE);
        a.set_manifest_digest(m.digest());
        a.set_created_by(job.user());
        (*a.mutable_labels())["attempt"] = std::to_string(job.restarts());
        return index->CreateArtifact(a);
      }();
      if (stored.ok()) {
        artifact_ids->push_back(stored->id());
        log("stored output " + rel + " as artifact " + stored->id() + " (" +
            std::to_string(stored->file_count()) + " files, " + FormatBytes(stored->size_bytes()) +
            "B)");
      } else if (stored.status().code() == StatusCode::kAlreadyExists) {
        log("output " + rel + " is stored already (an earlier attempt)");
      } else {
        log("cannot store output " + rel + ": " + stored.status().ToString());
        if (first.ok()) first = stored.status();
      }
    }
  }
  return first;
}

int RunPrefetchMain(const std::string& state_dir, const std::string& project,
                    const std::vector<std::string>& items) {
  auto data = StandaloneData::Open(state_dir);
  if (!data.ok()) {
    std::cerr << "mlc-supervisor --prefetch: " << data.status().ToString() << "\n";
    return 2;
  }
  int failures = 0;
  for (const std::string& item : items) {
    v1::LoadRequest load;
    load.set_project(project);
    size_t at = item.rfind('@');
    if (at != std::string::npos && item.size() - at - 1 == 64) {
      load.set_uri(item.substr(0, at));
      load.set_digest(item.substr(at + 1));
    } else {
      load.set_uri(item);
    }
    auto loaded = (*data)->service->Load(load, {});
    if (loaded.ok()) {
      std::cerr << "prefetched " << load.uri() << " (" << loaded->digest() << ")\n";
    } else {
      ++failures;
      std::cerr << "cannot prefetch " << load.uri() << ": " << loaded.status().ToString() << "\n";
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace mlcore::local
