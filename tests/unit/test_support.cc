#include "unit/test_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mlcore::testing {

TempDir::TempDir() {
  const char* base = std::getenv("MLC_TEST_TMP");
  std::string root =
      (base != nullptr && *base != '\0') ? base : std::filesystem::temp_directory_path().string();
  std::filesystem::create_directories(root);
  std::string pattern = root + "/mlc-test-XXXXXX";
  char* made = mkdtemp(pattern.data());
  REQUIRE(made != nullptr);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Restore permissions that a test may have removed, then delete.
  for (auto it = std::filesystem::recursive_directory_iterator(
           path_, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
  }
  std::filesystem::remove_all(path_, ec);
}

ScopedEnv::ScopedEnv(const std::map<std::string, std::optional<std::string>>& values) {
  for (const auto& [name, value] : values) {
    const char* old = std::getenv(name.c_str());
    saved_[name] = old == nullptr ? std::nullopt : std::optional<std::string>(old);
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
}

ScopedEnv::~ScopedEnv() {
  for (const auto& [name, value] : saved_) {
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
}

IsolatedEnv::IsolatedEnv(const TempDir& dir)
    : env_({{"MLC_BACKEND", std::nullopt},
            {"MLC_PROJECT", std::nullopt},
            {"MLC_CONTEXT", std::nullopt},
            {"MLC_CONFIG", dir / "config.yaml"},
            {"XDG_DATA_HOME", dir / "data"},
            {"XDG_CONFIG_HOME", dir / "xdg-config"},
            {"XDG_CACHE_HOME", dir / "xdg-cache"},
            {"MLC_DIGEST_CACHE", std::nullopt}}) {}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.good());
  out << contents;
  REQUIRE(out.good());
}

}  // namespace mlcore::testing
