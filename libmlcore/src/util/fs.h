// Small filesystem and process-environment helpers shared by the core and the backends.
#pragma once

#include <string>
#include <string_view>

#include "mlcore/status.h"

namespace mlcore::util {

// Translates an errno value into a Status naming `what` (e.g. "cannot create state directory
// /x"); the code follows the errno (EACCES -> PERMISSION_DENIED, ENOENT -> NOT_FOUND,
// ENOSPC -> RESOURCE_EXHAUSTED, ...).
Status FromErrno(int err, std::string_view what);

// The value of environment variable `name`, or `fallback` when unset or empty.
std::string GetEnv(const char* name, std::string fallback = {});

// $HOME, else the passwd entry's home directory, else "/".
std::string HomeDir();

// The login name of the calling user: the one a ScopedCurrentUser set on this thread (a server
// acting for a caller), else $USER, else passwd, else "uid:N".
std::string CurrentUser();

// Makes CurrentUser() return `user` on this thread until destroyed (scopes nest).
class ScopedCurrentUser {
 public:
  explicit ScopedCurrentUser(std::string user);
  ~ScopedCurrentUser();
  ScopedCurrentUser(const ScopedCurrentUser&) = delete;
  ScopedCurrentUser& operator=(const ScopedCurrentUser&) = delete;

 private:
  std::string previous_;
};

// Expands a leading "~/" to HomeDir() and makes relative paths absolute against the current
// directory. Lexical only: symlinks are not resolved.
std::string AbsolutePath(std::string_view path);

// Creates `path` and its missing parents (mode 0700 for new directories) and checks that the
// result is a directory the process can read, write and search. Errors name the path and say what
// to do: PERMISSION_DENIED, FAILED_PRECONDITION (exists but not a directory), RESOURCE_EXHAUSTED.
Status EnsureDirectory(const std::string& path, std::string_view purpose);

// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync (unless
// `sync` is false: still atomic, but may be lost in a power cut), rename. `mode` applies to the
// new file.
Status AtomicWriteFile(const std::string& path, std::string_view contents, int mode = 0644,
                       bool sync = true);

// Reads a whole file. Errors: NOT_FOUND, PERMISSION_DENIED, ...
Result<std::string> ReadFile(const std::string& path);

}  // namespace mlcore::util
