// Helpers shared by the C++ tests: temporary directories and environment overrides.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "mlcore/status.h"

namespace mlcore::testing {

// A fresh directory removed (recursively) on destruction. Created under $MLC_TEST_TMP when set,
// else under the system temporary directory.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Sets (or with nullopt, unsets) environment variables for its lifetime, restoring them after.
using EnvMap = std::map<std::string, std::optional<std::string>>;

class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::optional<std::string>>& values);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// An environment with no mlcore variables and a config file path inside `dir`, so tests never
// read the developer's own configuration.
class IsolatedEnv {
 public:
  explicit IsolatedEnv(const TempDir& dir);

 private:
  ScopedEnv env_;
};

// Writes a file, failing the test on error.
void WriteFile(const std::string& path, const std::string& contents);

}  // namespace mlcore::testing

// Checks that an expression (Status or Result) is OK, printing the error otherwise.
#define MLC_CHECK_OK(expr)                                          \
  do {                                                              \
    ::mlcore::Status mlc_s_ = ::mlcore::internal::AsStatus((expr)); \
    INFO(mlc_s_.ToString());                                        \
    CHECK(mlc_s_.ok());                                             \
  } while (false)
#define MLC_REQUIRE_OK(expr)                                        \
  do {                                                              \
    ::mlcore::Status mlc_s_ = ::mlcore::internal::AsStatus((expr)); \
    INFO(mlc_s_.ToString());                                        \
    REQUIRE(mlc_s_.ok());                                           \
  } while (false)
