#include "artifacts/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include <climits>

#include "artifacts/io.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace mlcore::artifacts {
namespace {

std::string KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "a special file";
}

Result<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return IoError(errno, "cannot resolve " + path);
  return std::string(buf);
}

bool Inside(const std::string& root, const std::string& path) {
  if (root == "/") return true;
  return path == root ||
         (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/');
}

class Walker {
 public:
  explicit Walker(std::string root_real) : root_real_(std::move(root_real)) {}

  Status Walk(const std::string& abs_dir, const std::string& rel) {
    MLC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(abs_dir));
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      std::string abs = abs_dir + "/" + name;
      std::string rel_path = rel.empty() ? name : rel + "/" + name;
      MLC_RETURN_IF_ERROR(ValidateEntryPath(rel_path));
      struct stat st {};
      if (lstat(abs.c_str(), &st) != 0) return IoError(errno, "cannot stat " + abs);
      bool via_link = false;
      if (S_ISLNK(st.st_mode)) {
        MLC_RETURN_IF_ERROR(CheckLink(abs, &st));
        via_link = true;
      }
      if (S_ISDIR(st.st_mode)) {
        for (const auto& [dev, ino] : stack_) {
          if (dev == st.st_dev && ino == st.st_ino) {
            return InvalidArgumentError("symlink cycle: " + abs +
                                        " leads back to one of its parent directories");
          }
        }
        stack_.emplace_back(st.st_dev, st.st_ino);
        MLC_RETURN_IF_ERROR(Walk(abs, rel_path));
        stack_.pop_back();
      } else if (S_ISREG(st.st_mode)) {
        files_.push_back(TreeFile{rel_path, abs, st, via_link});
      } else {
        return InvalidArgumentError(abs + " is " + KindOf(st.st_mode) +
                                    "; only regular files, directories and symlinks inside the "
                                    "tree can be uploaded");
      }
    }
    return Status::Ok();
  }

  void PushRoot(const struct stat& st) { stack_.emplace_back(st.st_dev, st.st_ino); }
  std::vector<TreeFile>& files() { return files_; }

 private:
  // Follows a symlink that must resolve inside the tree; `st` receives the target's stat.
  Status CheckLink(const std::string& abs, struct stat* st) {
    char target[PATH_MAX];
    ssize_t n = readlink(abs.c_str(), target, sizeof(target) - 1);
    std::string target_text = n >= 0 ? std::string(target, static_cast<size_t>(n)) : "?";
    char real[PATH_MAX];
    if (realpath(abs.c_str(), real) == nullptr) {
      return InvalidArgumentError("symlink " + abs + " -> " + target_text +
                                  " cannot be resolved (dangling or unreadable target)");
    }
    if (!Inside(root_real_, real)) {
      return InvalidArgumentError("symlink " + abs + " -> " + target_text +
                                  " points outside the tree (" + root_real_ +
                                  "); copy the target into the tree or remove the link");
    }
    if (stat(abs.c_str(), st) != 0) return IoError(errno, "cannot stat " + abs);
    return Status::Ok();
  }

  std::string root_real_;
  std::vector<std::pair<dev_t, ino_t>> stack_;
  std::vector<TreeFile> files_;
};

// Creates `rel_dir` (a validated relative path) under `root`, refusing symlinked components.
Status MakeDirs(const std::string& root, std::string_view rel_dir) {
  std::string path = root;
  size_t pos = 0;
  while (pos < rel_dir.size()) {
    size_t end = rel_dir.find('/', pos);
    if (end == std::string_view::npos) end = rel_dir.size();
    path += '/';
    path += rel_dir.substr(pos, end - pos);
    pos = end + 1;
    if (mkdir(path.c_str(), 0755) == 0) continue;
    if (errno != EEXIST) return IoError(errno, "cannot create directory " + path);
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return IoError(errno, "cannot stat " + path);
    if (S_ISLNK(st.st_mode)) {
      return InvalidArgumentError(path + " is a symlink; refusing to write through it");
    }
    if (!S_ISDIR(st.st_mode)) {
      return FailedPreconditionError(path + " exists and is not a directory");
    }
  }
  return Status::Ok();
}

// Reads a stored blob's bytes to `write` in chunks.
Status ReadStoredBlob(const BlobStore& store, const v1::ManifestEntry& entry,
                      const std::function<Status(std::string_view)>& write) {
  std::string blob = store.BlobPath(entry.digest());
  int in = open(blob.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    if (errno == ENOENT) {
      return NotFoundError("blob " + entry.digest() + " of " + entry.path() +
                           " is missing from the store");
    }
    return IoError(errno, "cannot open blob " + blob);
  }
  FdCloser closer(in);
  posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buf(std::min<uint64_t>(kChunkSize, std::max<int64_t>(entry.size_bytes(), 1)));
  while (true) {
    MLC_ASSIGN_OR_RETURN(size_t n, ReadFull(in, buf.data(), buf.size(), blob));
    if (n == 0) return Status::Ok();
    MLC_RETURN_IF_ERROR(write(std::string_view(buf.data(), n)));
  }
}

// Copies one blob to `dest` (atomically), verifying it on the way. A mismatch quarantines the
// blob in `store` when there is one.
Status CopyEntry(const v1::ManifestEntry& entry, const BlobReader& read, BlobStore* store,
                 const std::string& dest, const MaterializeOptions& options, uint64_t* done,
                 uint64_t total) {
  std::string dir = dest.substr(0, dest.rfind('/'));
  std::string base = dest.substr(dest.rfind('/') + 1);
  MLC_ASSIGN_OR_RETURN(TempFile tmp, TempFile::Create(dir + "/." + base + ".mlc-XXXXXX"));
  util::Sha256 hash;
  uint64_t copied = 0;
  Status read_status = read(entry, [&](std::string_view chunk) -> Status {
    hash.Update(chunk);
    MLC_RETURN_IF_ERROR(WriteAll(tmp.fd(), chunk, tmp.path()));
    copied += chunk.size();
    *done += chunk.size();
    if (options.progress && !options.progress(*done, total)) {
      return CancelledError("download cancelled at " + entry.path());
    }
    return Status::Ok();
  });
  MLC_RETURN_IF_ERROR(read_status);
  std::string actual = hash.HexDigest();
  if (actual != entry.digest() || copied != static_cast<uint64_t>(entry.size_bytes())) {
    std::string what = "blob " + entry.digest() + " of " + entry.path() + " is corrupted (" +
                       std::to_string(copied) + " bytes hashing to " + actual + "); ";
    if (store == nullptr) return DataLossError(what + "nothing was written; try again");
    Status q = store->Quarantine(entry.digest());
    return DataLossError(what + (q.ok() ? "it was quarantined, upload it again" : q.ToString()));
  }
  MLC_RETURN_IF_ERROR(tmp.Finish(static_cast<int>(entry.mode() & 0777), options.sync));
  struct stat st {};
  if (lstat(dest.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return FailedPreconditionError(dest + " exists and is a directory");
  }
  if (rename(tmp.path().c_str(), dest.c_str()) != 0) {
    return IoError(errno, "cannot move file into place at " + dest);
  }
  tmp.Release();
  return Status::Ok();
}

}  // namespace

Status ValidateEntryPath(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError("unsafe path \"" + std::string(path.substr(0, 300)) +
                                "\": " + std::string(why));
  };
  if (path.empty()) return bad("empty");
  if (path.front() == '/') return bad("absolute paths are not allowed");
  if (path.find('\0') != std::string_view::npos || path.find('\n') != std::string_view::npos) {
    return bad("NUL and newline characters are not allowed");
  }
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    if (part.empty()) return bad("empty component (\"//\" or trailing \"/\")");
    if (part == ".") return bad("\".\" components are not allowed");
    if (part == "..") return bad("\"..\" components are not allowed");
    pos = end + 1;
  }
  return Status::Ok();
}

std::string CanonicalText(const v1::Manifest& manifest) {
  std::string text;
  for (const v1::ManifestEntry& e : manifest.entries()) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", e.mode() & 0777);
    text += mode;
    text += ' ';
    text += e.digest();
    text += ' ';
    text += std::to_string(e.size_bytes());
    text += ' ';
    text += e.path();
    text += '\n';
  }
  return text;
}

Status NormalizeManifest(v1::Manifest* manifest) {
  int64_t total = 0;
  for (v1::ManifestEntry& e : *manifest->mutable_entries()) {
    MLC_RETURN_IF_ERROR(ValidateEntryPath(e.path()));
    MLC_RETURN_IF_ERROR(ValidateDigest(e.digest()).WithContext(e.path()));
    if (e.size_bytes() < 0) return InvalidArgumentError(e.path() + ": negative size");
    e.set_mode(e.mode() & 0777);
    total += e.size_bytes();
  }
  auto* entries = manifest->mutable_entries();
  std::sort(
      entries->begin(), entries->end(),
      [](const v1::ManifestEntry& a, const v1::ManifestEntry& b) { return a.path() < b.path(); });
  for (int i = 1; i < entries->size(); ++i) {
    if (entries->Get(i).path() == entries->Get(i - 1).path()) {
      return InvalidArgumentError("duplicate path \"" + entries->Get(i).path() + "\"");
    }
  }
  // A file and a directory of the same name ("a" and "a/b") cannot both exist.
  std::set<std::string_view> files;
  for (const v1::ManifestEntry& e : *entries) files.insert(e.path());
  for (const v1::ManifestEntry& e : *entries) {
    std::string_view p = e.path();
    for (size_t slash = p.find('/'); slash != std::string_view::npos;
         slash = p.find('/', slash + 1)) {
      if (files.contains(p.substr(0, slash))) {
        return InvalidArgumentError("path \"" + e.path() + "\" is below the file \"" +
                                    std::string(p.substr(0, slash)) + "\"");
      }
    }
  }
  manifest->set_total_size_bytes(total);
  manifest->set_digest(util::Sha256Hex(CanonicalText(*manifest)));
  return Status::Ok();
}

Result<v1::Manifest> FilterManifest(const v1::Manifest& manifest, std::string_view prefix) {
  if (prefix.empty()) return manifest;
  MLC_RETURN_IF_ERROR(ValidateEntryPath(prefix));
  v1::Manifest out;
  for (const v1::ManifestEntry& e : manifest.entries()) {
    std::string_view p = e.path();
    if (p == prefix ||
        (p.size() > prefix.size() && p.starts_with(prefix) && p[prefix.size()] == '/')) {
      *out.add_entries() = e;
    }
  }
  if (out.entries().empty()) {
    return NotFoundError("no file at or under \"" + std::string(prefix) + "\" in the manifest");
  }
  MLC_RETURN_IF_ERROR(NormalizeManifest(&out));
  return out;
}

namespace {

// BuildManifest with `store` nullptr hashes only (HashTree).
Result<v1::Manifest> BuildOrHash(const std::string& dir, BlobStore* store,
                                 const BuildOptions& options, BuildStats* stats) {
  BuildStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  *stats = BuildStats{};
  MLC_ASSIGN_OR_RETURN(std::vector<TreeFile> files, ListTree(dir));

  uint64_t total = 0;
  for (const TreeFile& f : files) total += static_cast<uint64_t>(f.st.st_size);
  uint64_t done = 0;
  v1::Manifest manifest;
  StatCache stamps;
  for (const TreeFile& f : files) {
    v1::ManifestEntry* entry = manifest.add_entries();
    entry->set_path(f.rel);
    entry->set_mode(f.st.st_mode & 0777);
    ++stats->files;
    if (options.previous != nullptr) {
      auto it = options.previous->find(f.rel);
      if (it != options.previous->end() && StampMatches(it->second, f.st) &&
          IsValidDigest(it->second.digest) &&
          (store == nullptr || store->Has(it->second.digest).value_or(false))) {
        entry->set_digest(it->second.digest);
        entry->set_size_bytes(static_cast<int64_t>(it->second.size));
        stamps[f.rel] = it->second;
        ++stats->files_skipped;
        done += it->second.size;
        if (options.progress && !options.progress(done, total)) {
          return CancelledError("upload cancelled at " + f.rel);
        }
        continue;
      }
    }
    struct stat before {};
    MLC_ASSIGN_OR_RETURN(int fd, OpenTreeFile(f, &before));
    FdCloser closer(fd);
    uint64_t base = done;
    ProgressFn per_file;
    if (options.progress) {
      per_file = [&](uint64_t file_done, uint64_t) {
        return options.progress(base + file_done, total);
      };
    }
    MLC_ASSIGN_OR_RETURN(BlobInfo info,
                         store != nullptr
                             ? store->Put(fd, per_file, before.st_size)
                             : HashFd(fd, per_file, static_cast<uint64_t>(before.st_size), f.abs));
    done = base + info.size;
    entry->set_digest(info.digest);
    entry->set_size_bytes(static_cast<int64_t>(info.size));
    ++stats->files_uploaded;
    stats->bytes_read += info.size;
    if (!info.existed) ++stats->blobs_new;
    struct stat after {};
    // Only stamp a file that did not change while it was read (else: rehash next time). These
    // stamps keep the local store's (size, mtime, inode) format: no ctime or racy-git check.
    if (fstat(fd, &after) == 0 && after.st_size == before.st_size &&
        MtimeNs(after) == MtimeNs(before) && static_cast<uint64_t>(after.st_size) == info.size) {
      stamps[f.rel] = FileStamp{info.size, MtimeNs(after), after.st_ino, info.digest};
    }
  }
  MLC_RETURN_IF_ERROR(NormalizeManifest(&manifest));
  if (options.stamps_out != nullptr) *options.stamps_out = std::move(stamps);
  return manifest;
}

Status MaterializeWith(const v1::Manifest& manifest, const BlobReader& read, BlobStore* store,
                       const std::string& dest_dir, const MaterializeOptions& options) {
  v1::Manifest all = manifest;
  MLC_RETURN_IF_ERROR(NormalizeManifest(&all));
  MLC_ASSIGN_OR_RETURN(v1::Manifest selected, FilterManifest(all, options.only_path));
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(dest_dir, "download directory"));
  MLC_ASSIGN_OR_RETURN(std::string root, RealPath(dest_dir));
  auto total = static_cast<uint64_t>(selected.total_size_bytes());
  uint64_t done = 0;
  std::set<std::string> dirs;
  for (const v1::ManifestEntry& e : selected.entries()) {
    std::string_view rel = e.path();
    size_t slash = rel.rfind('/');
    std::string dest = root + "/" + e.path();
    if (slash != std::string_view::npos) {
      MLC_RETURN_IF_ERROR(MakeDirs(root, rel.substr(0, slash)));
    }
    MLC_RETURN_IF_ERROR(CopyEntry(e, read, store, dest, options, &done, total));
    dirs.insert(dest.substr(0, dest.rfind('/')));
  }
  if (options.progress && selected.entries().empty() && !options.progress(0, 0)) {
    return CancelledError("download cancelled");
  }
  if (options.sync) {
    for (const std::string& d : dirs) MLC_RETURN_IF_ERROR(SyncDir(d));
  }
  return Status::Ok();
}

}  // namespace

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

int64_t CtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

FileStamp StampOf(const struct stat& st, int64_t recorded_ns) {
  FileStamp stamp;
  stamp.size = static_cast<uint64_t>(st.st_size);
  stamp.mtime_ns = MtimeNs(st);
  stamp.inode = static_cast<uint64_t>(st.st_ino);
  stamp.device = static_cast<uint64_t>(st.st_dev);
  stamp.ctime_ns = CtimeNs(st);
  stamp.recorded_ns = recorded_ns;
  return stamp;
}

bool StampMatches(const FileStamp& stamp, const struct stat& st) {
  if (stamp.size != static_cast<uint64_t>(st.st_size) || stamp.mtime_ns != MtimeNs(st) ||
      stamp.inode != static_cast<uint64_t>(st.st_ino)) {
    return false;
  }
  if (stamp.device != 0 && stamp.device != static_cast<uint64_t>(st.st_dev)) return false;
  if (stamp.ctime_ns != 0 && stamp.ctime_ns != CtimeNs(st)) return false;
  return stamp.recorded_ns == 0 || stamp.mtime_ns < stamp.recorded_ns - kRacyStampSlackNs;
}

Result<std::vector<TreeFile>> ListTree(const std::string& dir) {
  MLC_ASSIGN_OR_RETURN(std::string root_real, RealPath(dir));
  struct stat root_st {};
  if (stat(root_real.c_str(), &root_st) != 0) return IoError(errno, "cannot stat " + dir);
  if (!S_ISDIR(root_st.st_mode)) return InvalidArgumentError(dir + " is not a directory");
  Walker walker(root_real);
  walker.PushRoot(root_st);
  MLC_RETURN_IF_ERROR(walker.Walk(root_real, ""));
  return std::move(walker.files());
}

Result<int> OpenTreeFile(const TreeFile& file, struct stat* st) {
  int fd = open(file.abs.c_str(), O_RDONLY | O_CLOEXEC | (file.via_link ? 0 : O_NOFOLLOW));
  if (fd < 0) return IoError(errno, "cannot open " + file.abs);
  if (fstat(fd, st) != 0) {
    Status failed = IoError(errno, "cannot stat " + file.abs);
    close(fd);
    return failed;
  }
  if (st->st_ino != file.st.st_ino || st->st_dev != file.st.st_dev) {
    close(fd);
    return AbortedError(file.abs + " was replaced while the tree was being read; retry");
  }
  return fd;
}

Result<BlobInfo> HashFd(int fd, const ProgressFn& progress, uint64_t total,
                        const std::string& what) {
  util::Sha256 hash;
  std::vector<char> buf(kChunkSize);
  BlobInfo info;
  while (true) {
    MLC_ASSIGN_OR_RETURN(size_t n, ReadFull(fd, buf.data(), buf.size(), what));
    if (n == 0) break;
    hash.Update(std::string_view(buf.data(), n));
    info.size += n;
    if (progress && !progress(info.size, total)) return CancelledError("cancelled at " + what);
  }
  info.digest = hash.HexDigest();
  return info;
}

Result<v1::Manifest> BuildManifest(const std::string& dir, BlobStore& store,
                                   const BuildOptions& options, BuildStats* stats) {
  return BuildOrHash(dir, &store, options, stats);
}

Result<v1::Manifest> HashTree(const std::string& dir, const BuildOptions& options,
                              BuildStats* stats) {
  return BuildOrHash(dir, nullptr, options, stats);
}

Status Materialize(const v1::Manifest& manifest, BlobStore& store, const std::string& dest_dir,
                   const MaterializeOptions& options) {
  return MaterializeWith(
      manifest,
      [&store](const v1::ManifestEntry& entry,
               const std::function<Status(std::string_view)>& write) {
        return ReadStoredBlob(store, entry, write);
      },
      &store, dest_dir, options);
}

Status Materialize(const v1::Manifest& manifest, const BlobReader& read,
                   const std::string& dest_dir, const MaterializeOptions& options) {
  return MaterializeWith(manifest, read, nullptr, dest_dir, options);
}

Result<StatCache> LoadStatCache(const std::string& path) {
  Result<std::string> text = util::ReadFile(path);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) return StatCache{};
  MLC_RETURN_IF_ERROR(text);
  StatCache cache;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    FileStamp stamp;
    std::string rel;
    if (!(fields >> stamp.size >> stamp.mtime_ns >> stamp.inode >> stamp.digest)) continue;
    fields.get();  // the separating space
    std::getline(fields, rel);
    if (!IsValidDigest(stamp.digest) || !ValidateEntryPath(rel).ok()) continue;
    cache[rel] = stamp;
  }
  return cache;
}

Status SaveStatCache(const StatCache& cache, const std::string& path) {
  std::string text;
  for (const auto& [rel, stamp] : cache) {
    text += std::to_string(stamp.size) + " " + std::to_string(stamp.mtime_ns) + " " +
            std::to_string(stamp.inode) + " " + stamp.digest + " " + rel + "\n";
  }
  return util::AtomicWriteFile(path, text, 0644);
}

}  // namespace mlcore::artifacts
