#include "artifacts/io.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sys/stat.h>
#include <system_error>

#include "artifacts/blob_store.h"

namespace mlcore::artifacts {

FdCloser::~FdCloser() {
  if (fd_ >= 0) close(fd_);
}

Result<TempFile> TempFile::Create(std::string path_template) {
  int fd = mkostemp(path_template.data(), O_CLOEXEC);
  if (fd < 0) return IoError(errno, "cannot create temporary file " + path_template);
  return TempFile(fd, std::move(path_template));
}

TempFile::TempFile(TempFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
  other.path_.clear();
}

TempFile::~TempFile() {
  if (fd_ >= 0) close(fd_);
  if (!path_.empty()) unlink(path_.c_str());
}

Status TempFile::Finish(int mode, bool sync) {
  if (fchmod(fd_, static_cast<mode_t>(mode)) != 0) {
    return IoError(errno, "cannot set the mode of " + path_);
  }
  if (sync && fsync(fd_) != 0) return IoError(errno, "cannot sync " + path_);
  int rc = close(fd_);
  fd_ = -1;
  if (rc != 0) return IoError(errno, "cannot close " + path_);
  return Status::Ok();
}

std::string TempFile::Release() {
  std::string path = std::move(path_);
  path_.clear();
  return path;
}

Result<size_t> ReadFull(int fd, char* data, size_t size, std::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(errno, "cannot read " + std::string(what));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteAll(int fd, std::string_view bytes, std::string_view what) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(errno, "cannot write " + std::string(what));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError(errno, "cannot open directory " + dir);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0 && err != EINVAL) return IoError(err, "cannot sync directory " + dir);
  return Status::Ok();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return IoError(errno, "cannot list directory " + dir);
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one DIR per call
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  closedir(d);
  return names;
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return IoError(ec.value(), "cannot remove " + path);
  return Status::Ok();
}

Result<std::string> UniqueTmpName(const std::string& prefix) {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string name = prefix;
    for (int i = 0; i < 16; ++i) name += kHex[rd() & 15];
    struct stat st {};
    if (lstat(name.c_str(), &st) != 0 && errno == ENOENT) return name;
  }
  return InternalError("cannot find an unused temporary name for " + prefix);
}

}  // namespace mlcore::artifacts
