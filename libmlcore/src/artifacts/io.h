// Small POSIX I/O helpers of the artifact store (internal).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mlcore/status.h"

namespace mlcore::artifacts {

// Closes a descriptor on destruction.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser();
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// A temporary file that is removed on destruction unless Release()d.
class TempFile {
 public:
  // Creates a file from a mkstemp(3) template ("dir/name-XXXXXX"), mode 0600.
  static Result<TempFile> Create(std::string path_template);
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Sets the mode, fsyncs (when `sync`) and closes the file (it is still removed unless
  // Release()d).
  Status Finish(int mode, bool sync = true);
  // Keeps the file; returns its path.
  std::string Release();

 private:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Reads up to `size` bytes, retrying short reads and EINTR; returns fewer only at EOF.
Result<size_t> ReadFull(int fd, char* data, size_t size, std::string_view what);
// Writes all of `bytes`, retrying short writes and EINTR.
Status WriteAll(int fd, std::string_view bytes, std::string_view what);
// fsyncs a directory (after creating or renaming entries in it).
Status SyncDir(const std::string& dir);
// Names in a directory, without "." and "..". Errors: NOT_FOUND, ...
Result<std::vector<std::string>> ListDir(const std::string& dir);
// Removes a file or a directory tree; a missing path is OK.
Status RemoveTree(const std::string& path);
// A fresh unused name `prefix` + random suffix (the file is not created).
Result<std::string> UniqueTmpName(const std::string& prefix);

}  // namespace mlcore::artifacts
