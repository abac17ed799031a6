#include "datacache/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <vector>

#include "util/fs.h"

namespace mlcore::datacache {
namespace {

std::string RandomName() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  uint64_t v = rng();
  for (int i = 0; i < 16; ++i, v >>= 4) out += kHex[v & 15];
  return out;
}

std::string DirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string ObjectPath(const std::string& tier_dir, const std::string& digest) {
  return tier_dir + "/objects/" + digest.substr(0, 2) + "/" + digest;
}

Status WriteError(int err, const std::string& path) {
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    return ResourceExhaustedError("cannot write " + path + ": " + std::strerror(err) +
                                  " (free disk space or lower the cache capacity)");
  }
  return util::FromErrno(err, "cannot write " + path);
}

Result<FileLock> FileLock::Acquire(const std::string& path, bool* waited) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return util::FromErrno(errno, "cannot open lock file " + path);
  *waited = false;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return FileLock(fd);
  if (errno != EWOULDBLOCK) {
    int err = errno;
    ::close(fd);
    return util::FromErrno(err, "cannot lock " + path);
  }
  *waited = true;
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    return util::FromErrno(err, "cannot lock " + path);
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

// What TempObject::Write does with the bytes (see files.h). The caller's thread writes them to
// the file at once, from the caller's buffer while it is still in the CPU cache, and copies them
// into a ring of buffers; a hashing thread hashes the ring's buffers in order and starts the
// writeback of the bytes it has hashed (they are in the file by then), so Publish's fsync finds
// little left. The ring's buffers belong to the caller until submitted and to the hasher until it
// counts past them; everything else the two share is guarded by mu_.
class TempObject::Pipeline {
 public:
  // 8 x 1 MiB: 1,024 hand-offs per GiB, 8 MiB of memory per download.
  static constexpr size_t kBufferBytes = size_t{1} << 20;
  static constexpr uint64_t kBuffers = 8;
  // Writeback is started every this many bytes, and the previous window is waited for, so dirty
  // data stays under two windows.
  static constexpr uint64_t kWritebackBytes = uint64_t{8} << 20;

  Pipeline(int fd, const std::string& path) : fd_(fd), path_(path) {}
  ~Pipeline() { Stop(/*abort=*/true); }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Writes `bytes` at the end of the file and queues them for hashing.
  Status Append(std::string_view bytes) {
    if (finished_) return InternalError("write to " + path_ + " after it was finished");
    MLC_RETURN_IF_ERROR(error_);
    error_ = WriteAt(bytes.data(), bytes.size(), offset_);
    MLC_RETURN_IF_ERROR(error_);
    offset_ += bytes.size();
    while (!bytes.empty()) {
      std::unique_ptr<char[]>& buffer = slots_[head_ % kBuffers].data;
      if (!buffer) buffer.reset(new char[kBufferBytes]);
      size_t n = std::min(bytes.size(), kBufferBytes - fill_);
      std::memcpy(buffer.get() + fill_, bytes.data(), n);
      fill_ += n;
      bytes.remove_prefix(n);
      if (fill_ == kBufferBytes) Submit();
    }
    return Status::Ok();
  }

  // Discards everything (the caller truncates the file) and starts a new digest.
  void Reset() {
    std::unique_lock<std::mutex> lock(mu_);
    discard_before_ = head_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return hashed_ == head_; });
    fill_ = 0;
    offset_ = 0;
    hashed_bytes_ = 0;
    writeback_from_ = 0;
    previous_window_ = 0;
    sha_ = std::make_unique<util::Sha256>();
  }

  // Hashes what is still queued and stops the hasher; the first write error.
  Status Finish() {
    finished_ = true;
    if (!threaded_) {
      HashInline();  // a small object (or no thread to be had)
    } else {
      if (fill_ > 0) Submit(/*last=*/true);
      Stop(/*abort=*/false);
    }
    return error_;
  }

  std::string HexDigest() { return sha_->HexDigest(); }

 private:
  struct Slot {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };

  // Hands buffer head_ to the hasher (starting it the first time) and waits until the next one
  // is free.
  void Submit(bool last = false) {
    if (!started_) {
      started_ = true;
      try {
        hasher_ = std::thread([this] { HashLoop(); });
        threaded_ = true;
      } catch (const std::system_error&) {
        threaded_ = false;
      }
    }
    if (!threaded_) {
      HashInline();
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    slots_[head_ % kBuffers].size = fill_;
    ++head_;
    fill_ = 0;
    cv_.notify_all();
    if (last) return;
    cv_.wait(lock, [&] { return head_ - hashed_ < kBuffers; });
  }

  // Hashes the buffer being filled on the calling thread.
  void HashInline() {
    sha_->Update(std::string_view(slots_[head_ % kBuffers].data.get(), fill_));
    fill_ = 0;
  }

  void Stop(bool abort) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (abort) discard_before_ = head_;
      stopping_ = true;
      cv_.notify_all();
    }
    if (hasher_.joinable()) hasher_.join();
  }

  // The hashing thread.
  void HashLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return hashed_ < head_ || stopping_; });
      if (hashed_ == head_) return;  // stopping, and nothing is left
      const Slot& slot = slots_[hashed_ % kBuffers];
      if (hashed_ >= discard_before_) {
        std::string_view bytes(slot.data.get(), slot.size);
        util::Sha256* sha = sha_.get();
        uint64_t end = hashed_bytes_ + bytes.size();
        uint64_t writeback_from = writeback_from_;
        uint64_t previous_window = previous_window_;
        lock.unlock();
        sha->Update(bytes);
        if (end - writeback_from >= kWritebackBytes) {
          // [0, end) is in the file: start its writeback and wait for the previous window's.
          // Best effort: fsync reports any I/O error.
          ::sync_file_range(fd_, static_cast<off64_t>(writeback_from),
                            static_cast<off64_t>(end - writeback_from), SYNC_FILE_RANGE_WRITE);
          if (writeback_from > 0) {
            ::sync_file_range(
                fd_, static_cast<off64_t>(previous_window),
                static_cast<off64_t>(writeback_from - previous_window),
                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
          }
          previous_window = writeback_from;
          writeback_from = end;
        }
        lock.lock();
        hashed_bytes_ = end;
        writeback_from_ = writeback_from;
        previous_window_ = previous_window;
      }
      ++hashed_;
      cv_.notify_all();
    }
  }

  Status WriteAt(const char* p, size_t left, uint64_t offset) {
    while (left > 0) {
      ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return WriteError(errno, path_);
      p += n;
      offset += static_cast<uint64_t>(n);
      left -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  const int fd_;
  const std::string& path_;
  // The caller's (producer's) own state.
  Slot slots_[kBuffers];
  size_t fill_ = 0;        // bytes in slots_[head_ % kBuffers], the one being filled
  uint64_t offset_ = 0;    // file offset of the next write
  Status error_;           // the first write error
  bool finished_ = false;  // Finish was called
  bool started_ = false;   // the first buffer filled: the hasher was started...
  bool threaded_ = false;  // ... and runs
  std::thread hasher_;
  // Shared with the hasher.
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t head_ = 0;             // buffers submitted
  uint64_t hashed_ = 0;           // buffers the hasher is done with
  uint64_t discard_before_ = 0;   // buffers below this are skipped (Reset, abort)
  uint64_t hashed_bytes_ = 0;     // bytes hashed since the last Reset
  uint64_t writeback_from_ = 0;   // start of the range whose writeback is not started yet
  uint64_t previous_window_ = 0;  // start of the last range whose writeback was started
  bool stopping_ = false;
  std::unique_ptr<util::Sha256> sha_ = std::make_unique<util::Sha256>();
};

TempObject::TempObject(int fd, std::string path)
    : fd_(fd), path_(std::move(path)), pipeline_(std::make_unique<Pipeline>(fd_, path_)) {}

Result<std::unique_ptr<TempObject>> TempObject::Create(const std::string& tier_dir) {
  // Created under another name and renamed once locked, so RemoveStaleTemps never sees an
  // unlocked part of a live writer.
  std::string base = tier_dir + "/tmp/" + RandomName();
  std::string path = base + ".part";
  std::string init = base + ".init";
  int fd = ::open(init.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return WriteError(errno, init);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::rename(init.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(init.c_str());
    return util::FromErrno(err, "cannot prepare " + path);
  }
  return std::unique_ptr<TempObject>(new TempObject(fd, std::move(path)));
}

TempObject::~TempObject() {
  pipeline_.reset();  // stops the threads before the file goes
  if (!published_) ::unlink(path_.c_str());
  ::close(fd_);
}

Status TempObject::Announce(uint64_t total_bytes) {
  total_ = total_bytes;
  return on_announce_ ? on_announce_(total_bytes) : Status::Ok();
}

Status TempObject::Write(std::string_view bytes) {
  MLC_RETURN_IF_ERROR(pipeline_->Append(bytes));
  written_ += bytes.size();
  if (progress_ && !progress_(written_, total_)) {
    return CancelledError("load cancelled by its progress callback");
  }
  return Status::Ok();
}

Status TempObject::Restart() {
  pipeline_->Reset();
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) return WriteError(errno, path_);
  written_ = 0;
  return Status::Ok();
}

Status TempObject::Finish() { return pipeline_->Finish(); }

std::string TempObject::Digest() {
  (void)Finish();
  return pipeline_->HexDigest();
}

Status TempObject::Publish(const std::string& final_path) {
  MLC_RETURN_IF_ERROR(Finish());
  if (::fsync(fd_) != 0) return WriteError(errno, path_);
  std::string dir = DirOf(final_path);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return WriteError(errno, dir);
  struct stat st {};
  if (::stat(final_path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == written_) {
    return Status::Ok();  // the same content is already published; ours is removed
  }
  if (::rename(path_.c_str(), final_path.c_str()) != 0) return WriteError(errno, final_path);
  published_ = true;
  SyncDir(dir);
  return Status::Ok();
}

Result<std::unique_ptr<TempObject>> CopyToTemp(const std::string& src, const std::string& tier_dir,
                                               const TempObject::OnAnnounce& on_announce) {
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return util::FromErrno(errno, "cannot open " + src);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return util::FromErrno(errno, "cannot stat " + src);
  MLC_ASSIGN_OR_RETURN(auto tmp, TempObject::Create(tier_dir));
  tmp->set_on_announce(on_announce);
  MLC_RETURN_IF_ERROR(tmp->Announce(static_cast<uint64_t>(st.st_size)));
  std::vector<char> buffer(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return util::FromErrno(errno, "cannot read " + src);
    if (n == 0) break;
    MLC_RETURN_IF_ERROR(tmp->Write(std::string_view(buffer.data(), static_cast<size_t>(n))));
  }
  MLC_RETURN_IF_ERROR(tmp->Finish());
  return tmp;
}

void RemoveStaleTemps(const std::string& tier_dir) {
  std::string dir = tier_dir + "/tmp";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".part") names.push_back(name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    std::string path = dir + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // A free lock means the writer is gone (flock dies with its process).
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(path.c_str());
    ::close(fd);
  }
}

Result<std::string> PublishLinkTree(const std::string& trees_dir, const std::string& digest,
                                    const std::vector<TreeLink>& links) {
  std::string final_dir = trees_dir + "/" + digest;
  struct stat st {};
  if (::stat(final_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return final_dir;
  MLC_RETURN_IF_ERROR(util::EnsureDirectory(trees_dir, "data cache trees"));
  std::string tmp = trees_dir + "/.tmp-" + RandomName();
  std::error_code ec;
  auto fail = [&](Status s) {
    std::filesystem::remove_all(tmp, ec);
    return s;
  };
  for (const TreeLink& l : links) {
    std::filesystem::path rel(l.path);
    if (l.path.empty() || rel.is_absolute() ||
        std::any_of(rel.begin(), rel.end(), [](const auto& part) { return part == ".."; })) {
      return fail(InvalidArgumentError("tree entry \"" + l.path + "\" escapes its tree"));
    }
    std::filesystem::path link = std::filesystem::path(tmp) / rel;
    std::filesystem::create_directories(link.parent_path(), ec);
    if (ec) {
      return fail(
          InternalError("cannot create " + link.parent_path().string() + ": " + ec.message()));
    }
    if (::symlink(l.target.c_str(), link.c_str()) != 0) {
      return fail(util::FromErrno(errno, "cannot create " + link.string()));
    }
  }
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int err = errno;
    std::filesystem::remove_all(tmp, ec);
    if (err != EEXIST && err != ENOTEMPTY)
      return util::FromErrno(err, "cannot publish " + final_dir);
  }
  return final_dir;
}

}  // namespace mlcore::datacache
