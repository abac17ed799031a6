#include "artifacts/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <vector>

#include "artifacts/io.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace mlcore::artifacts {

struct BlobStore::Session {
  std::mutex mu;
  std::unique_ptr<util::Sha256> hash;  // over bytes [0, hashed)
  uint64_t hashed = 0;
};

bool IsValidDigest(std::string_view digest) {
  if (digest.size() != 64) return false;
  for (char c : digest) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status ValidateDigest(std::string_view digest) {
  if (IsValidDigest(digest)) return Status::Ok();
  return InvalidArgumentError("malformed digest \"" + std::string(digest.substr(0, 80)) +
                              "\": expected 64 lowercase hex characters (SHA-256)");
}

bool ValidUploadId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Status IoError(int err, std::string_view what) {
  if (err == EFBIG) {
    return ResourceExhaustedError(std::string(what) +
                                  ": file too large (file size limit reached; free space or "
                                  "raise the limit and retry)");
  }
  return util::FromErrno(err, what);
}

namespace {

std::string RandomId() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id += kHex[rd() & 15];
  return id;
}

// Reads the committed prefix of a session file into a fresh hash.
Status HashPrefix(int fd, uint64_t length, util::Sha256* hash, const std::string& path) {
  std::vector<char> buf(kChunkSize);
  uint64_t done = 0;
  while (done < length) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    ssize_t n = pread(fd, buf.data(), want, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(errno, "cannot read upload data " + path);
    if (n == 0) return DataLossError("upload data " + path + " is shorter than expected");
    hash->Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    done += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

struct Meta {
  std::string digest;
  std::optional<uint64_t> size;
};

std::string FormatMeta(const Meta& meta) {
  std::string text = "digest " + meta.digest + "\n";
  if (meta.size) text += "size " + std::to_string(*meta.size) + "\n";
  return text;
}

Result<Meta> ReadMeta(const std::string& dir) {
  MLC_ASSIGN_OR_RETURN(std::string text, util::ReadFile(dir + "/meta"));
  Meta meta;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.starts_with("digest ")) meta.digest = std::string(line.substr(7));
    if (line.starts_with("size ")) meta.size = std::stoull(std::string(line.substr(5)));
    pos = end + 1;
  }
  return meta;
}

}  // namespace

BlobStore::Lock::~Lock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
  if (fd2_ >= 0) close(fd2_);
}

BlobStore::~BlobStore() = default;

Result<std::unique_ptr<BlobStore>> BlobStore::Create(const std::string& root) {
  std::unique_ptr<BlobStore> store(new BlobStore(root));
  for (const std::string& dir :
       {store->BlobsDir(), store->TmpDir(), store->UploadsDir(), store->QuarantineDir()}) {
    MLC_RETURN_IF_ERROR(util::EnsureDirectory(dir, "artifact store directory"));
  }
  return store;
}

Result<BlobStore::Lock> BlobStore::LockPublish() const {
  std::string path = root_ + "/publish.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(errno, "cannot open lock file " + path);
  Lock lock(fd);
  while (flock(fd, LOCK_SH) != 0) {
    if (errno != EINTR) return IoError(errno, "cannot lock " + path);
  }
  return lock;
}

Result<BlobStore::Lock> BlobStore::LockForGc() {
  std::string gc_path = root_ + "/gc.lock";
  int gc_fd = open(gc_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (gc_fd < 0) return IoError(errno, "cannot open lock file " + gc_path);
  if (flock(gc_fd, LOCK_EX | LOCK_NB) != 0) {
    close(gc_fd);
    return AbortedError("another garbage collection is running on " + root_ + "; retry later");
  }
  std::string path = root_ + "/publish.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    close(gc_fd);
    return IoError(errno, "cannot open lock file " + path);
  }
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      close(fd);
      close(gc_fd);
      return IoError(errno, "cannot lock " + path);
    }
  }
  return Lock(fd, gc_fd);
}

std::string BlobStore::BlobPath(std::string_view digest) const {
  std::string path = BlobsDir();
  path += '/';
  path += digest.substr(0, 2);
  path += '/';
  path += digest.substr(2);
  return path;
}

Result<BlobInfo> BlobStore::Publish(const std::string& tmp_path, const std::string& digest,
                                    uint64_t size) {
  MLC_ASSIGN_OR_RETURN(Lock lock, LockPublish());
  std::string final_path = BlobPath(digest);
  std::string shard = final_path.substr(0, final_path.rfind('/'));
  if (mkdir(shard.c_str(), 0755) == 0) {
    MLC_RETURN_IF_ERROR(SyncDir(BlobsDir()));
  } else if (errno != EEXIST) {
    int err = errno;
    unlink(tmp_path.c_str());
    return IoError(err, "cannot create blob directory " + shard);
  }
  BlobInfo info{digest, size, false};
  struct stat st {};
  if (stat(final_path.c_str(), &st) == 0) {
    unlink(tmp_path.c_str());
    // Refresh the mtime so a garbage collection's grace period covers the new reference.
    utimensat(AT_FDCWD, final_path.c_str(), nullptr, 0);
    info.existed = true;
    return info;
  }
  if (rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    unlink(tmp_path.c_str());
    return IoError(err, "cannot publish blob " + final_path);
  }
  MLC_RETURN_IF_ERROR(SyncDir(shard));
  return info;
}

Result<BlobInfo> BlobStore::Put(int fd, const ProgressFn& progress, uint64_t total) {
  MLC_ASSIGN_OR_RETURN(TempFile tmp, TempFile::Create(TmpDir() + "/put-XXXXXX"));
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  util::Sha256 hash;
  std::vector<char> buf(kChunkSize);
  uint64_t done = 0;
  while (true) {
    MLC_ASSIGN_OR_RETURN(size_t n, ReadFull(fd, buf.data(), buf.size(), "input"));
    if (n == 0) break;
    std::string_view chunk(buf.data(), n);
    hash.Update(chunk);
    MLC_RETURN_IF_ERROR(WriteAll(tmp.fd(), chunk, tmp.path()));
    done += n;
    if (progress && !progress(done, total)) {
      return CancelledError("upload cancelled after " + std::to_string(done) + " bytes");
    }
  }
  MLC_RETURN_IF_ERROR(tmp.Finish(0444));
  return Publish(tmp.Release(), hash.HexDigest(), done);
}

Result<BlobInfo> BlobStore::PutFile(const std::string& path, const ProgressFn& progress) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(errno, "cannot open " + path);
  struct stat st {};
  uint64_t total = fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  Result<BlobInfo> result = Put(fd, progress, total);
  close(fd);
  return result;
}

Result<BlobInfo> BlobStore::PutBytes(std::string_view bytes) {
  MLC_ASSIGN_OR_RETURN(TempFile tmp, TempFile::Create(TmpDir() + "/put-XXXXXX"));
  MLC_RETURN_IF_ERROR(WriteAll(tmp.fd(), bytes, tmp.path()));
  MLC_RETURN_IF_ERROR(tmp.Finish(0444));
  return Publish(tmp.Release(), util::Sha256Hex(bytes), bytes.size());
}

Result<bool> BlobStore::Has(std::string_view digest) const {
  MLC_RETURN_IF_ERROR(ValidateDigest(digest));
  struct stat st {};
  if (stat(BlobPath(digest).c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return IoError(errno, "cannot stat blob " + BlobPath(digest));
}

Result<uint64_t> BlobStore::Size(std::string_view digest) const {
  MLC_RETURN_IF_ERROR(ValidateDigest(digest));
  struct stat st {};
  if (stat(BlobPath(digest).c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFoundError("blob " + std::string(digest) + " not found");
    return IoError(errno, "cannot stat blob " + BlobPath(digest));
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> BlobStore::Open(std::string_view digest) const {
  MLC_RETURN_IF_ERROR(Size(digest));
  return BlobPath(digest);
}

Status BlobStore::Quarantine(std::string_view digest) {
  MLC_RETURN_IF_ERROR(ValidateDigest(digest));
  std::string to = QuarantineDir() + "/" + std::string(digest) + "." +
                   std::to_string(std::time(nullptr)) + "." + RandomId().substr(0, 8);
  if (rename(BlobPath(digest).c_str(), to.c_str()) != 0) {
    if (errno == ENOENT) return NotFoundError("blob " + std::string(digest) + " not found");
    return IoError(errno, "cannot quarantine blob " + BlobPath(digest));
  }
  return Status::Ok();
}

Status BlobStore::Verify(std::string_view digest) {
  MLC_ASSIGN_OR_RETURN(std::string path, Open(digest));
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFoundError("blob " + std::string(digest) + " not found");
    return IoError(errno, "cannot open blob " + path);
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  util::Sha256 hash;
  std::vector<char> buf(kChunkSize);
  Status status;
  while (true) {
    Result<size_t> n = ReadFull(fd, buf.data(), buf.size(), path);
    if (!n.ok()) {
      status = n.status();
      break;
    }
    if (*n == 0) break;
    hash.Update(std::string_view(buf.data(), *n));
  }
  close(fd);
  MLC_RETURN_IF_ERROR(status);
  std::string actual = hash.HexDigest();
  if (actual == digest) return Status::Ok();
  Status q = Quarantine(digest);
  return DataLossError("blob " + std::string(digest) + " is corrupted (content hashes to " +
                       actual + "); " +
                       (q.ok() ? "moved to quarantine" : "quarantine failed: " + q.ToString()));
}

Status BlobStore::Delete(std::string_view digest) {
  MLC_RETURN_IF_ERROR(ValidateDigest(digest));
  if (unlink(BlobPath(digest).c_str()) != 0) {
    if (errno == ENOENT) return NotFoundError("blob " + std::string(digest) + " not found");
    return IoError(errno, "cannot delete blob " + BlobPath(digest));
  }
  return Status::Ok();
}

Status BlobStore::ForEachBlob(const std::function<Status(const BlobEntry&)>& fn) const {
  MLC_ASSIGN_OR_RETURN(std::vector<std::string> shards, ListDir(BlobsDir()));
  for (const std::string& shard : shards) {
    if (shard.size() != 2) continue;
    std::string shard_dir = BlobsDir() + "/" + shard;
    Result<std::vector<std::string>> names = ListDir(shard_dir);
    if (!names.ok()) continue;  // not a directory, or removed concurrently
    for (const std::string& name : *names) {
      std::string digest = shard + name;
      if (!IsValidDigest(digest)) continue;
      struct stat st {};
      if (stat((shard_dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      MLC_RETURN_IF_ERROR(fn(BlobEntry{digest, static_cast<uint64_t>(st.st_size), st.st_mtime}));
    }
  }
  return Status::Ok();
}

// --- Resumable uploads ---

Result<std::string> BlobStore::BeginUpload(const UploadOptions& options) {
  std::string id = options.upload_id.empty() ? RandomId() : options.upload_id;
  if (!ValidUploadId(id)) {
    return InvalidArgumentError("malformed upload id \"" + id.substr(0, 140) +
                                "\": use 1 to 128 of [A-Za-z0-9_-]");
  }
  if (!options.expected_digest.empty())
    MLC_RETURN_IF_ERROR(ValidateDigest(options.expected_digest));
  Meta meta{options.expected_digest, options.expected_size};
  std::string dir = SessionDir(id);
  if (mkdir(dir.c_str(), 0700) != 0) {
    if (errno != EEXIST) return IoError(errno, "cannot create upload directory " + dir);
    Result<Meta> existing = ReadMeta(dir);
    if (existing.ok() && existing->digest == meta.digest && existing->size == meta.size) {
      return id;  // reopened
    }
    return AlreadyExistsError("upload id " + id + " is in use with another digest or size");
  }
  MLC_RETURN_IF_ERROR(util::AtomicWriteFile(dir + "/meta", FormatMeta(meta), 0600));
  std::string data = dir + "/data";
  int fd = open(data.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError(errno, "cannot create upload data " + data);
  close(fd);
  MLC_RETURN_IF_ERROR(SyncDir(dir));
  MLC_RETURN_IF_ERROR(SyncDir(UploadsDir()));
  return id;
}

Result<UploadState> BlobStore::UploadStatus(const std::string& upload_id) const {
  if (!ValidUploadId(upload_id)) return NotFoundError("upload " + upload_id + " not found");
  std::string dir = SessionDir(upload_id);
  Result<Meta> meta = ReadMeta(dir);
  struct stat st {};
  if (!meta.ok() || stat((dir + "/data").c_str(), &st) != 0) {
    return NotFoundError("upload " + upload_id + " not found (unknown id, or expired)");
  }
  UploadState state;
  state.upload_id = upload_id;
  state.committed_bytes = static_cast<uint64_t>(st.st_size);
  state.expected_digest = meta->digest;
  state.expected_size = meta->size;
  state.expire_time = st.st_mtime + kUploadExpirySeconds;
  return state;
}

Result<uint64_t> BlobStore::Append(const std::string& upload_id, uint64_t offset,
                                   std::string_view bytes) {
  MLC_ASSIGN_OR_RETURN(UploadState state, UploadStatus(upload_id));
  std::shared_ptr<Session> session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = sessions_[upload_id];
    if (!slot) slot = std::make_shared<Session>();
    session = slot;
  }
  std::lock_guard<std::mutex> session_lock(session->mu);
  std::string path = SessionDir(upload_id) + "/data";
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return IoError(errno, "cannot open upload data " + path);
  FdCloser closer(fd);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return AbortedError("upload " + upload_id + " is being written by another writer");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) return IoError(errno, "cannot stat upload data " + path);
  auto committed = static_cast<uint64_t>(st.st_size);
  if (offset != committed) {
    return FailedPreconditionError("upload " + upload_id + " has " + std::to_string(committed) +
                                   " bytes committed; resume at offset " +
                                   std::to_string(committed) + ", not " + std::to_string(offset));
  }
  if (state.expected_size && committed + bytes.size() > *state.expected_size) {
    return InvalidArgumentError("upload " + upload_id + " would exceed its declared size of " +
                                std::to_string(*state.expected_size) + " bytes");
  }
  if (!session->hash || session->hashed != committed) {
    session->hash = std::make_unique<util::Sha256>();
    session->hashed = 0;
    MLC_RETURN_IF_ERROR(HashPrefix(fd, committed, session->hash.get(), path));
    session->hashed = committed;
  }
  if (lseek(fd, static_cast<off_t>(committed), SEEK_SET) < 0) {
    return IoError(errno, "cannot seek in upload data " + path);
  }
  Status written = WriteAll(fd, bytes, path);
  // Start writing the piece back without waiting for it: a sync per piece would make the disk's
  // latency the upload's pace. Commit syncs the whole file (and checks its digest) before it
  // publishes, which is the durability that matters; a machine crash mid-upload can only shorten
  // the session, whose status then reports the size actually kept.
  if (written.ok() && !bytes.empty() &&
      sync_file_range(fd, static_cast<off64_t>(committed), static_cast<off64_t>(bytes.size()),
                      SYNC_FILE_RANGE_WRITE) != 0 &&
      errno != ESPIPE && errno != EINVAL) {
    written = IoError(errno, "cannot write back " + path);
  }
  if (!written.ok()) {
    // Roll back to the committed size so a retry resumes cleanly.
    if (ftruncate(fd, static_cast<off_t>(committed)) != 0) session->hash.reset();
    return written;
  }
  session->hash->Update(bytes);
  session->hashed = committed + bytes.size();
  return session->hashed;
}

Result<BlobInfo> BlobStore::Commit(const std::string& upload_id) {
  MLC_ASSIGN_OR_RETURN(UploadState state, UploadStatus(upload_id));
  std::shared_ptr<Session> session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(upload_id);
    if (it != sessions_.end()) session = it->second;
  }
  if (!session) session = std::make_shared<Session>();
  std::lock_guard<std::mutex> session_lock(session->mu);
  std::string dir = SessionDir(upload_id);
  std::string path = dir + "/data";
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return IoError(errno, "cannot open upload data " + path);
  FdCloser closer(fd);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return AbortedError("upload " + upload_id + " is being written by another writer");
  }
  uint64_t size = state.committed_bytes;
  if (!session->hash || session->hashed != size) {
    session->hash = std::make_unique<util::Sha256>();
    MLC_RETURN_IF_ERROR(HashPrefix(fd, size, session->hash.get(), path));
  }
  std::string digest = session->hash->HexDigest();
  session->hash.reset();
  session->hashed = 0;
  auto discard = [&] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.erase(upload_id);
    }
    RemoveTree(dir).IgnoreError();
  };
  if (!state.expected_digest.empty() && digest != state.expected_digest) {
    discard();
    return DataLossError("upload " + upload_id + ": content hashes to " + digest + ", expected " +
                         state.expected_digest +
                         "; nothing was published and the upload was discarded, start over");
  }
  if (state.expected_size && size != *state.expected_size) {
    discard();
    return DataLossError("upload " + upload_id + ": received " + std::to_string(size) +
                         " bytes, expected " + std::to_string(*state.expected_size) +
                         "; nothing was published and the upload was discarded, start over");
  }
  // Fresh mtime: a collection must not take the file in tmp/ for a stale temporary.
  if (fchmod(fd, 0444) != 0 || futimens(fd, nullptr) != 0 || fsync(fd) != 0) {
    return IoError(errno, "cannot sync " + path);
  }
  // Move the data out of the session first so the session is gone once the blob is visible.
  MLC_ASSIGN_OR_RETURN(std::string tmp, UniqueTmpName(TmpDir() + "/commit-"));
  if (rename(path.c_str(), tmp.c_str()) != 0) return IoError(errno, "cannot move " + path);
  discard();
  return Publish(tmp, digest, size);
}

Status BlobStore::AbortUpload(const std::string& upload_id) {
  MLC_RETURN_IF_ERROR(UploadStatus(upload_id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(upload_id);
  }
  return RemoveTree(SessionDir(upload_id));
}

}  // namespace mlcore::artifacts
