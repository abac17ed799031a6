#include "mlcore/uri.h"

#include <doctest/doctest.h>

namespace mlcore {
namespace {

TEST_CASE("local URIs carry a path, absolute or relative") {
  auto abs = Uri::Parse("local:///var/lib/mlcore");
  REQUIRE(abs.ok());
  CHECK(abs->scheme == "local");
  CHECK(abs->authority.empty());
  CHECK(abs->path == "/var/lib/mlcore");
  auto rel = Uri::Parse("LOCAL://state/dir");
  REQUIRE(rel.ok());
  CHECK(rel->scheme == "local");
  CHECK(rel->path == "state/dir");
  auto spaced = Uri::Parse("local:///tmp/with%20space");
  REQUIRE(spaced.ok());
  CHECK(spaced->path == "/tmp/with space");
}

TEST_CASE("network URIs split authority, path and query") {
  auto uri = Uri::Parse("slurm+http://127.0.0.1:6820/api?user=ci&token=s3cret");
  REQUIRE(uri.ok());
  CHECK(uri->scheme == "slurm+http");
  CHECK(uri->authority == "127.0.0.1:6820");
  CHECK(uri->path == "/api");
  CHECK(uri->query.at("user") == "ci");
  CHECK(uri->Redacted() == "slurm+http://127.0.0.1:6820/api?token=***&user=ci");
  auto unix_uri = Uri::Parse("grpc+unix:///run/mlc.sock");
  REQUIRE(unix_uri.ok());
  CHECK(unix_uri->path == "/run/mlc.sock");
}

TEST_CASE("malformed URIs are rejected with a hint") {
  for (const char* bad : {"", "/just/a/path", "://x", "lo cal://x", "local:///bad%zz"}) {
    auto uri = Uri::Parse(bad);
    INFO(bad);
    REQUIRE_FALSE(uri.ok());
    CHECK(uri.status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(Uri::Parse("/just/a/path").status().message().find("local:///path") != std::string::npos);
}

}  // namespace
}  // namespace mlcore
