// Client: DataService calls (the data-load cache). Validation happens here, once, for every
// backend and surface.
#include "artifacts/blob_store.h"
#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "util/fs.h"

namespace mlcore {
namespace {

constexpr int kMaxPrefetchItems = 1000;

Status ValidateLoadUri(const std::string& uri) {
  if (uri.empty()) {
    return InvalidArgumentError(
        "no URI given; load a path, file://, http(s):// or artifact://ID[/PATH]");
  }
  return Status::Ok();
}

Status ValidateOptionalDigest(const std::string& digest) {
  return digest.empty() ? Status::Ok() : artifacts::ValidateDigest(digest);
}

std::string DefaultPinOwner(const std::string& owner) {
  return owner.empty() ? "user:" + util::CurrentUser() : owner;
}

}  // namespace

Result<v1::LoadResponse> Client::LoadData(const v1::LoadRequest& request,
                                          const ProgressFn& progress) {
  v1::LoadRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "loading data"));
  r.set_project(project);
  MLC_RETURN_IF_ERROR(ValidateLoadUri(r.uri()));
  MLC_RETURN_IF_ERROR(ValidateOptionalDigest(r.digest()));
  return backend_->LoadData(r, progress);
}

Status Client::ReadData(const v1::ReadDataRequest& request,
                        const std::function<bool(const v1::ReadDataResponse&)>& sink) {
  v1::ReadDataRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "reading data"));
  r.set_project(project);
  MLC_RETURN_IF_ERROR(ValidateLoadUri(r.uri()));
  MLC_RETURN_IF_ERROR(ValidateOptionalDigest(r.digest()));
  return backend_->ReadData(r, sink);
}

Result<v1::ListCacheEntriesResponse> Client::ListCacheEntries(
    const v1::ListCacheEntriesRequest& request) {
  MLC_RETURN_IF_ERROR(ResolvePageSize(request.page_size()).status());
  return backend_->ListCacheEntries(request);
}

Result<v1::CacheEntry> Client::PinData(const v1::PinRequest& request) {
  v1::PinRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "pinning data"));
  r.set_project(project);
  MLC_RETURN_IF_ERROR(ValidateLoadUri(r.uri()));
  r.set_owner(DefaultPinOwner(r.owner()));
  if (r.has_ttl() && (r.ttl().seconds() < 0 || r.ttl().nanos() < 0)) {
    return InvalidArgumentError("a pin's ttl cannot be negative");
  }
  return backend_->PinData(r);
}

Result<v1::CacheEntry> Client::UnpinData(const v1::UnpinRequest& request) {
  v1::UnpinRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "unpinning data"));
  r.set_project(project);
  MLC_RETURN_IF_ERROR(ValidateLoadUri(r.uri()));
  r.set_owner(DefaultPinOwner(r.owner()));
  return backend_->UnpinData(r);
}

Result<v1::EvictResponse> Client::EvictData(const v1::EvictRequest& request) {
  MLC_RETURN_IF_ERROR(ValidateLoadUri(request.uri()));
  return backend_->EvictData(request);
}

Result<v1::PrefetchResponse> Client::PrefetchData(const v1::PrefetchRequest& request) {
  v1::PrefetchRequest r = request;
  MLC_ASSIGN_OR_RETURN(std::string project, ProjectOrDefault(r.project(), "prefetching data"));
  r.set_project(project);
  if (r.items().empty()) return InvalidArgumentError("nothing to prefetch: give at least one URI");
  if (r.items_size() > kMaxPrefetchItems) {
    return InvalidArgumentError("at most 1000 objects per prefetch, got " +
                                std::to_string(r.items_size()));
  }
  for (const auto& item : r.items()) {
    MLC_RETURN_IF_ERROR(ValidateLoadUri(item.uri()));
    MLC_RETURN_IF_ERROR(ValidateOptionalDigest(item.digest()));
  }
  return backend_->PrefetchData(r);
}

Result<v1::CacheStats> Client::GetCacheStats() { return backend_->GetCacheStats(); }

}  // namespace mlcore
