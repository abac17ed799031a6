#include "mlcore/uri.h"

#include <algorithm>
#include <cctype>

namespace mlcore {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view in, std::string_view whole) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) {
      return InvalidArgumentError("malformed URI \"" + std::string(whole) +
                                  "\": '%' must be followed by two hex digits");
    }
    int hi = HexValue(in[i + 1]);
    int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return InvalidArgumentError("malformed URI \"" + std::string(whole) +
                                  "\": '%' must be followed by two hex digits");
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool LooksSecret(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (std::string_view word : {"token", "password", "secret", "key", "jwt"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Result<Uri> Uri::Parse(std::string_view text) {
  Uri uri;
  uri.original = std::string(text);
  auto sep = text.find("://");
  if (text.empty()) {
    return InvalidArgumentError(
        "empty backend URI; expected e.g. local:///path/to/state or "
        "grpc://host:port");
  }
  if (sep == std::string_view::npos || sep == 0) {
    return InvalidArgumentError("malformed backend URI \"" + std::string(text) +
                                "\": expected SCHEME://..., e.g. local:///path/to/state or "
                                "grpc://host:port");
  }
  std::string_view scheme = text.substr(0, sep);
  for (char c : scheme) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    if (!ok) {
      return InvalidArgumentError("malformed backend URI \"" + std::string(text) +
                                  "\": the scheme may only hold letters, digits, '+', '-', '.'");
    }
  }
  uri.scheme.resize(scheme.size());
  std::transform(scheme.begin(), scheme.end(), uri.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });

  std::string_view rest = text.substr(sep + 3);
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path = rest;
  // Path-style schemes carry no authority: everything after "://" is the path.
  const bool path_style = uri.scheme == "local" || uri.scheme.ends_with("+unix") ||
                          uri.scheme == "file" || uri.scheme == "unix";
  if (!path_style) {
    auto slash = rest.find('/');
    uri.authority = std::string(rest.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  MLC_ASSIGN_OR_RETURN(uri.path, PercentDecode(path, text));

  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    MLC_ASSIGN_OR_RETURN(std::string key, PercentDecode(pair.substr(0, eq), text));
    std::string value;
    if (eq != std::string_view::npos) {
      MLC_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1), text));
    }
    uri.query[key] = value;
  }
  return uri;
}

std::string Uri::Redacted() const {
  auto q = original.find('?');
  if (q == std::string::npos) return original;
  std::string out = original.substr(0, q);
  char sep = '?';
  for (const auto& [key, value] : query) {
    out += sep;
    out += key;
    out += '=';
    out += LooksSecret(key) ? "***" : value;
    sep = '&';
  }
  return out;
}

}  // namespace mlcore
