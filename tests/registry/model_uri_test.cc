// Model and alias name rules, `models:/` URIs and "MODEL/VERSION" references.
#include "registry/model_uri.h"

#include <doctest/doctest.h>

namespace mlcore::registry {
namespace {

TEST_CASE("model names: letters, digits, _ - . starting with a letter, at most 128") {
  for (const char* ok : {"resnet50", "ranker.v2", "R", "a_b-c.d", "Churn"}) {
    INFO(ok);
    CHECK(ValidateModelName(ok).ok());
  }
  for (const char* bad : {"", "1model", "_x", "a/b", "a@b", "a b", "-x", ".x"}) {
    INFO(bad);
    Status s = ValidateModelName(bad);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("starting with a letter") != std::string::npos);
  }
  CHECK(ValidateModelName(std::string(128, 'a')).ok());
  CHECK(ValidateModelName(std::string(129, 'a')).message().find("129 characters") !=
        std::string::npos);
}

TEST_CASE("alias names: lowercase letters, digits, _ and -, starting with a letter, at most 63") {
  for (const char* ok : {"champion", "challenger-2", "a_b", "latest", "production"}) {
    INFO(ok);
    CHECK(ValidateAliasName(ok).ok());
  }
  for (const char* bad : {"", "Champion", "3", "1st", "a.b", "a b", "-a"}) {
    INFO(bad);
    CHECK(ValidateAliasName(bad).code() == StatusCode::kInvalidArgument);
  }
  CHECK(ValidateAliasName(std::string(63, 'a')).ok());
  CHECK_FALSE(ValidateAliasName(std::string(64, 'a')).ok());
}

TEST_CASE("every URI form parses and prints back") {
  struct Case {
    const char* uri;
    const char* project;
    const char* model;
    int64_t version;
    const char* alias;
  };
  for (const Case& c : {Case{"models:/resnet50/3", "", "resnet50", 3, ""},
                        Case{"models:/resnet50@champion", "", "resnet50", 0, "champion"},
                        Case{"models:/ml/ranker.v2/12", "ml", "ranker.v2", 12, ""},
                        Case{"models:/ml/ranker.v2@latest", "ml", "ranker.v2", 0, "latest"}}) {
    INFO(c.uri);
    auto uri = ParseModelUri(c.uri);
    REQUIRE(uri.ok());
    CHECK(uri->project == c.project);
    CHECK(uri->model == c.model);
    CHECK(uri->version == c.version);
    CHECK(uri->alias == c.alias);
    CHECK(uri->ToString() == c.uri);
  }
}

TEST_CASE("malformed URIs are INVALID_ARGUMENT showing the accepted forms") {
  for (const char* bad :
       {"resnet50/3", "artifact://x", "models:resnet50/3", "models://resnet50/3",
        "models:/resnet50", "models:/resnet50/0", "models:/resnet50/03", "models:/resnet50/x",
        "models:/a/b/c/1", "models:/a/b/c@x", "models:/resnet50@", "models:/resnet50@Champion",
        "models:/resnet50@a@b", "models:/Bad_Project/m/1", "models:/a@x/1", "models:/1m/1"}) {
    INFO(bad);
    auto uri = ParseModelUri(bad);
    REQUIRE_FALSE(uri.ok());
    CHECK(uri.status().code() == StatusCode::kInvalidArgument);
    CHECK(uri.status().message().find("models:/NAME@ALIAS") != std::string::npos);
  }
  CHECK(IsModelUri("models:/x/1"));
  CHECK_FALSE(IsModelUri("artifact://x"));
}

TEST_CASE("version references are MODEL/VERSION") {
  std::string model;
  int64_t version = 0;
  CHECK(ParseVersionRefId("resnet50/3", &model, &version).ok());
  CHECK(model == "resnet50");
  CHECK(version == 3);
  CHECK(VersionRefId("ranker.v2", 10) == "ranker.v2/10");
  for (const char* bad : {"resnet50", "resnet50/0", "/3", "1x/3", "a/b/3x"}) {
    INFO(bad);
    CHECK(ParseVersionRefId(bad, &model, &version).code() == StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace mlcore::registry
