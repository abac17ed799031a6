#include "core/page_token.h"

#include <array>

namespace mlcore {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 63];
    i += 3;
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    if (rest == 2) out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

bool Base64UrlDecode(std::string_view in, std::string* out) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) value[static_cast<uint8_t>(kAlphabet[i])] = int(i);
  if (in.size() % 4 == 1) return false;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v = value[static_cast<uint8_t>(c)];
    if (v < 0) return false;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return true;
}

}  // namespace

std::string EncodePageToken(std::string_view last_key, std::string_view kind) {
  std::string plain(kind);
  plain += '\n';
  plain += last_key;
  return Base64UrlEncode(plain);
}

Result<std::string> DecodePageToken(std::string_view token, std::string_view kind) {
  if (token.empty()) return std::string();
  std::string plain;
  auto invalid = [&] {
    return InvalidArgumentError("invalid page token \"" + std::string(token) +
                                "\"; pass the next_page_token of the previous " +
                                std::string(kind) + " listing unchanged");
  };
  if (!Base64UrlDecode(token, &plain)) return invalid();
  auto newline = plain.find('\n');
  if (newline == std::string::npos || std::string_view(plain).substr(0, newline) != kind) {
    return invalid();
  }
  return plain.substr(newline + 1);
}

}  // namespace mlcore
