// SHA-256 digests (lowercase hex), streaming or one-shot.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace mlcore::util {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view bytes);
  // The digest as 64 lowercase hex characters; the object may not be updated afterwards.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Lowercase hex of `bytes` (two characters per byte).
std::string HexEncode(std::string_view bytes);

// One-shot digest of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace mlcore::util
