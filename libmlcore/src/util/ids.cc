#include "util/ids.h"

#include <cctype>
#include <chrono>
#include <cstdint>
#include <random>

namespace mlcore::util {
namespace {

uint64_t NextRandom() {
  static thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  return rng();
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string RandomHexId(std::string_view prefix, int hex_digits) {
  std::string id(prefix);
  uint64_t bits = 0;
  for (int i = 0; i < hex_digits; ++i) {
    if (i % 16 == 0) bits = NextRandom();
    id += kHex[bits & 15];
    bits >>= 4;
  }
  return id;
}

bool LooksLikeHexId(std::string_view s, std::string_view prefix, int hex_digits) {
  if (s.size() != prefix.size() + static_cast<size_t>(hex_digits) ||
      s.substr(0, prefix.size()) != prefix) {
    return false;
  }
  for (size_t i = prefix.size(); i < s.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::string RandomUuid() {
  std::string hex = RandomHexId("", 32);
  hex[12] = '4';
  hex[16] = kHex[8 + (NextRandom() & 3)];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace mlcore::util
