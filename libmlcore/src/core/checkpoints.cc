#include "mlcore/checkpoints.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

#include "local/local_data.h"
#include "mlcore/client.h"
#include "mlcore/uri.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/strings.h"

namespace mlcore {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStepPrefix = "step-";
constexpr const char* kPartialPrefix = ".partial-";
constexpr const char* kUploadedSuffix = ".artifact";

std::string StepName(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%012lld", kStepPrefix, static_cast<long long>(step));
  return buf;
}

// The step of "step-000000000042" (or of a path ending in it); -1 when it is not one.
int64_t ParseStep(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  if (!name.starts_with(kStepPrefix)) return -1;
  name.remove_prefix(std::string_view(kStepPrefix).size());
  if (name.empty() || name.size() > 18) return -1;
  int64_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

Status ValidateKey(const std::string& key) {
  bool ok = !key.empty() && key.size() <= 128 && key[0] != '.';
  for (char c : key) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return InvalidArgumentError("checkpoint key \"" + key +
                                "\" must be 1-128 of letters, digits, '-', '_', '.' (not starting "
                                "with '.')");
  }
  return Status::Ok();
}

Status FromFs(const std::error_code& ec, const std::string& what) {
  return util::FromErrno(ec.value(), what + ": " + ec.message());
}

Result<std::string> DefaultHotDir(const Client& client) {
  std::string dir = util::GetEnv("MLC_CHECKPOINT_DIR");
  if (!dir.empty()) return dir;
  auto uri = Uri::Parse(client.config().backend);
  if (uri.ok() && uri->scheme == "local" && !uri->path.empty()) {
    MLC_ASSIGN_OR_RETURN(auto options, local::LocalCacheOptions(util::AbsolutePath(uri->path)));
    return options.hot_dir + "/checkpoints";
  }
  std::string cache = util::GetEnv("XDG_CACHE_HOME");
  if (cache.empty()) cache = util::HomeDir() + "/.cache";
  return cache + "/mlcore/checkpoints";
}

}  // namespace

struct Checkpoints::Impl {
  Client* client = nullptr;
  std::string key;
  std::string dir;      // <hot>/<key>
  v1::ObjectRef owner;  // resolved: id and project set
  int keep_local = 2;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<int64_t> queue;
  bool uploading = false;
  bool stop = false;
  Status first_error = Status::Ok();
  std::thread worker;

  std::string StepDir(int64_t step) const { return dir + "/" + StepName(step); }
  std::string ArtifactPath(int64_t step) const {
    return "checkpoints/" + key + "/" + StepName(step);
  }
  std::string MarkerPath(int64_t step) const { return StepDir(step) + kUploadedSuffix; }

  // Committed steps on the hot tier, ascending.
  std::vector<int64_t> LocalSteps() const {
    std::vector<int64_t> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (!e.is_directory(ec)) continue;
      int64_t step = ParseStep(e.path().filename().string());
      if (step >= 0) out.push_back(step);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void Enqueue(int64_t step) {
    std::lock_guard lock(mu);
    queue.push_back(step);
    cv.notify_all();
  }

  void Loop() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;  // stop requested and nothing left
      int64_t step = queue.front();
      queue.pop_front();
      uploading = true;
      lock.unlock();
      Status s = Upload(step);
      if (s.ok()) Prune();
      lock.lock();
      uploading = false;
      if (!s.ok()) {
        spdlog::warn("checkpoint {} of {}: upload failed: {}", step, key, s.ToString());
        if (first_error.ok()) first_error = s;
      }
      cv.notify_all();
    }
  }

  Status Upload(int64_t step) {
    auto artifact =
        client->LogArtifact(owner, StepDir(step), ArtifactPath(step), v1::ARTIFACT_KIND_CHECKPOINT,
                            {{"step", std::to_string(step)}, {"checkpoint_key", key}});
    if (!artifact.ok()) return artifact.status();
    return util::AtomicWriteFile(MarkerPath(step), artifact->id() + "\n");
  }

  // Keeps the newest `keep_local` uploaded steps (and every step not uploaded yet).
  void Prune() {
    std::vector<int64_t> steps = LocalSteps();
    int kept = 0;
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
      if (!fs::exists(MarkerPath(*it))) continue;
      if (++kept <= keep_local) continue;
      std::error_code ec;
      fs::remove_all(StepDir(*it), ec);
      fs::remove(MarkerPath(*it), ec);
    }
  }
};

Checkpoints::~Checkpoints() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
    impl_->cv.notify_all();
  }
  if (impl_->worker.joinable()) impl_->worker.join();
}

Result<std::unique_ptr<Checkpoints>> Checkpoints::Open(Client& client,
                                                       const CheckpointOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->client = &client;
  impl->keep_local = std::max(1, options.keep_local);
  v1::ObjectRef owner = options.owner;
  if (owner.kind() == v1::OBJECT_KIND_UNSPECIFIED) {
    if (std::string job = util::GetEnv("MLC_JOB_ID"); !job.empty()) {
      owner.set_kind(v1::OBJECT_KIND_JOB);
      owner.set_id(job);
    } else if (std::string run = util::GetEnv("MLC_RUN_ID"); !run.empty()) {
      owner.set_kind(v1::OBJECT_KIND_RUN);
      owner.set_id(run);
    } else {
      return InvalidArgumentError(
          "checkpoints need an owner: run inside a job or a run (MLC_JOB_ID / MLC_RUN_ID), or "
          "name a run or job");
    }
  }
  if (owner.kind() == v1::OBJECT_KIND_JOB) {
    MLC_ASSIGN_OR_RETURN(v1::Job job, client.GetJob(owner.id(), v1::JOB_VIEW_BASIC));
    owner.set_id(job.id());
    owner.set_project(job.spec().project());
  } else if (owner.kind() == v1::OBJECT_KIND_RUN) {
    MLC_ASSIGN_OR_RETURN(v1::Run run, client.GetRun(owner.id()));
    owner.set_id(run.id());
    owner.set_project(run.project());
  } else {
    return InvalidArgumentError("a checkpoint's owner is a run or a job");
  }
  impl->owner = owner;
  impl->key = options.key;
  if (impl->key.empty()) impl->key = util::GetEnv("MLC_CHECKPOINT_KEY");
  if (impl->key.empty()) impl->key = owner.id();
  MLC_RETURN_IF_ERROR(ValidateKey(impl->key));
  std::string hot = options.dir;
  if (hot.empty()) {
    MLC_ASSIGN_OR_RETURN(hot, DefaultHotDir(client));
  }
  impl->dir = util::AbsolutePath(hot) + "/" + impl->key;
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(impl->dir, "checkpoint directory"));
  std::unique_ptr<Checkpoints> out(new Checkpoints());
  out->impl_ = std::move(impl);
  Impl* raw = out->impl_.get();
  // Committed steps a crash left without their upload go first.
  for (int64_t step : raw->LocalSteps()) {
    if (!fs::exists(raw->MarkerPath(step))) raw->queue.push_back(step);
  }
  raw->worker = std::thread([raw] { raw->Loop(); });
  return out;
}

Result<std::string> Checkpoints::Begin(int64_t step) {
  if (step < 0) return InvalidArgumentError("a checkpoint's step cannot be negative");
  if (fs::exists(impl_->StepDir(step))) {
    return AlreadyExistsError("checkpoint step " + std::to_string(step) + " of " + impl_->key +
                              " exists already");
  }
  std::string partial = impl_->dir + "/" + kPartialPrefix + StepName(step);
  std::error_code ec;
  fs::remove_all(partial, ec);
  if (!fs::create_directories(partial, ec) && ec) return FromFs(ec, "cannot create " + partial);
  return partial;
}

Result<CheckpointInfo> Checkpoints::Commit(int64_t step) {
  std::string partial = impl_->dir + "/" + kPartialPrefix + StepName(step);
  if (!fs::is_directory(partial)) {
    return FailedPreconditionError("checkpoint step " + std::to_string(step) +
                                   " was not begun (call Begin first)");
  }
  std::string final_dir = impl_->StepDir(step);
  if (::rename(partial.c_str(), final_dir.c_str()) != 0) {
    int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
      return AlreadyExistsError("checkpoint step " + std::to_string(step) + " of " + impl_->key +
                                " exists already");
    }
    return util::FromErrno(err, "cannot publish " + final_dir);
  }
  impl_->Enqueue(step);
  CheckpointInfo info;
  info.step = step;
  info.local_path = final_dir;
  return info;
}

Result<CheckpointInfo> Checkpoints::Save(const std::string& path, int64_t step) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return NotFoundError("cannot save checkpoint: " + path + " not found");
  MLC_ASSIGN_OR_RETURN(std::string partial, Begin(step));
  if (fs::is_directory(st)) {
    fs::copy(path, partial, fs::copy_options::recursive, ec);
  } else {
    fs::copy_file(path, fs::path(partial) / fs::path(path).filename(), ec);
  }
  if (ec) {
    Status s = FromFs(ec, "cannot copy " + path + " to the checkpoint directory " + partial);
    fs::remove_all(partial, ec);
    return s;
  }
  return Commit(step);
}

Result<CheckpointInfo> Checkpoints::RestoreLatest() {
  std::vector<int64_t> local = impl_->LocalSteps();
  int64_t best_local = local.empty() ? -1 : local.back();
  // The store: every checkpoint of this key in the owner's project.
  int64_t best_remote = -1;
  std::string best_id;
  v1::ListArtifactsRequest list;
  list.set_project(impl_->owner.project());
  list.set_kind(v1::ARTIFACT_KIND_CHECKPOINT);
  list.set_path_prefix("checkpoints/" + impl_->key + "/");
  list.set_page_size(1000);
  for (;;) {
    MLC_ASSIGN_OR_RETURN(v1::ListArtifactsResponse page, impl_->client->ListArtifacts(list));
    for (const v1::Artifact& a : page.artifacts()) {
      int64_t step = ParseStep(a.path());
      if (step > best_remote) {
        best_remote = step;
        best_id = a.id();
      }
    }
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  if (best_local < 0 && best_remote < 0) {
    return NotFoundError("no checkpoint of " + impl_->key + " yet");
  }
  CheckpointInfo info;
  if (best_local >= best_remote) {
    info.step = best_local;
    info.local_path = impl_->StepDir(best_local);
    info.from_hot_tier = true;
    auto marker = util::ReadFile(impl_->MarkerPath(best_local));
    if (marker.ok()) info.artifact_id = util::TrimSpace(*marker);
    return info;
  }
  // Download the newest into the hot tier, atomically.
  std::string partial = impl_->dir + "/" + kPartialPrefix + "restore-" + util::RandomHexId("", 8);
  auto downloaded = impl_->client->DownloadArtifact(best_id, partial, "", impl_->owner);
  std::error_code ec;
  if (!downloaded.ok()) {
    fs::remove_all(partial, ec);
    return downloaded.status();
  }
  std::string final_dir = impl_->StepDir(best_remote);
  if (::rename(partial.c_str(), final_dir.c_str()) != 0) {
    int err = errno;
    fs::remove_all(partial, ec);
    if (err != EEXIST && err != ENOTEMPTY)
      return util::FromErrno(err, "cannot publish " + final_dir);
  }
  MLC_RETURN_IF_ERROR(util::AtomicWriteFile(impl_->MarkerPath(best_remote), best_id + "\n"));
  info.step = best_remote;
  info.local_path = final_dir;
  info.artifact_id = best_id;
  return info;
}

Status Checkpoints::Flush() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->queue.empty() && !impl_->uploading; });
  Status s = impl_->first_error;
  impl_->first_error = Status::Ok();
  return s;
}

const std::string& Checkpoints::key() const { return impl_->key; }
const std::string& Checkpoints::dir() const { return impl_->dir; }

}  // namespace mlcore
