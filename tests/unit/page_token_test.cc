#include "core/page_token.h"

#include <doctest/doctest.h>

namespace mlcore {
namespace {

TEST_CASE("page tokens round-trip and are bound to their listing") {
  for (const char* key : {"", "a", "ab", "abc", "ml-research", "\xff\x01 odd bytes"}) {
    std::string token = EncodePageToken(key, "projects");
    INFO(token);
    auto decoded = DecodePageToken(token, "projects");
    REQUIRE(decoded.ok());
    CHECK(*decoded == key);
    CHECK_FALSE(DecodePageToken(token, "jobs").ok());
  }
  CHECK(DecodePageToken("", "projects").value().empty());
  auto bad = DecodePageToken("!!!", "projects");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("next_page_token") != std::string::npos);
}

}  // namespace
}  // namespace mlcore
