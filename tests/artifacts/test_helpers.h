// Helpers shared by the artifact store tests.
#pragma once

#include <string>
#include <sys/stat.h>

#include "mlcore/status.h"
#include "util/fs.h"

namespace mlcore::artifacts::testing {

inline std::string Slurp(const std::string& path) {
  Result<std::string> r = util::ReadFile(path);
  return r.ok() ? *r : std::string("<error: ") + r.status().ToString() + ">";
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// A deterministic pseudo-random payload of `size` bytes.
inline std::string Payload(size_t size, unsigned seed = 1) {
  std::string s(size, '\0');
  unsigned x = seed * 2654435761U + 1;
  for (char& c : s) {
    x = x * 1664525U + 1013904223U;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

}  // namespace mlcore::artifacts::testing
