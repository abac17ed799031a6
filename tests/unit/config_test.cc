#include "mlcore/config.h"

#include <fstream>
#include <iterator>

#include <doctest/doctest.h>

#include "unit/test_support.h"

namespace mlcore {
namespace {

using testing::IsolatedEnv;
using testing::ScopedEnv;
using testing::TempDir;
using testing::WriteFile;

constexpr const char* kTwoContexts = R"(current-context: dev
contexts:
  dev:
    backend: local:///srv/dev
    project: ml-research
  prod:
    backend: grpc://mlcore.internal:7070
)";

TEST_CASE("defaults apply when nothing is configured") {
  TempDir dir;
  IsolatedEnv env(dir);
  auto resolved = ResolveConfig({});
  MLC_REQUIRE_OK(resolved);
  CHECK(resolved->backend == "local://" + dir.path() + "/data/mlcore");
  CHECK(resolved->backend_source == "default");
  CHECK(resolved->project.empty());
  CHECK(resolved->project_source == "unset");
  CHECK_FALSE(resolved->config_exists);
  CHECK(resolved->config_path == dir / "config.yaml");
}

TEST_CASE("resolution order: argument, environment, context, default") {
  TempDir dir;
  IsolatedEnv env(dir);
  WriteFile(dir / "config.yaml", kTwoContexts);

  auto from_context = ResolveConfig({});
  MLC_REQUIRE_OK(from_context);
  CHECK(from_context->context == "dev");
  CHECK(from_context->backend == "local:///srv/dev");
  CHECK(from_context->backend_source == "context dev");
  CHECK(from_context->project == "ml-research");

  {
    ScopedEnv over(testing::EnvMap{{"MLC_BACKEND", "local:///env"}, {"MLC_PROJECT", "from-env"}});
    auto from_env = ResolveConfig({});
    MLC_REQUIRE_OK(from_env);
    CHECK(from_env->backend == "local:///env");
    CHECK(from_env->backend_source == "env MLC_BACKEND");
    CHECK(from_env->project == "from-env");

    ClientOptions explicit_options;
    explicit_options.backend = "local:///arg";
    explicit_options.project = "from-arg";
    auto from_arg = ResolveConfig(explicit_options);
    MLC_REQUIRE_OK(from_arg);
    CHECK(from_arg->backend == "local:///arg");
    CHECK(from_arg->backend_source == "argument");
    CHECK(from_arg->project == "from-arg");
  }

  ClientOptions pick_prod;
  pick_prod.context = "prod";
  auto prod = ResolveConfig(pick_prod);
  MLC_REQUIRE_OK(prod);
  CHECK(prod->backend == "grpc://mlcore.internal:7070");
  CHECK(prod->project.empty());

  ScopedEnv ctx(testing::EnvMap{{"MLC_CONTEXT", "prod"}});
  CHECK(ResolveConfig({})->backend == "grpc://mlcore.internal:7070");
}

TEST_CASE("unknown contexts list the known ones") {
  TempDir dir;
  IsolatedEnv env(dir);
  WriteFile(dir / "config.yaml", kTwoContexts);
  ClientOptions options;
  options.context = "staging";
  auto resolved = ResolveConfig(options);
  REQUIRE_FALSE(resolved.ok());
  CHECK(resolved.status().code() == StatusCode::kNotFound);
  CHECK(resolved.status().message().find("known contexts: dev, prod") != std::string::npos);
}

TEST_CASE("malformed config files are reported with file, line and column") {
  TempDir dir;
  IsolatedEnv env(dir);
  std::string path = dir / "config.yaml";

  WriteFile(path, "current-context: dev\ncontexts:\n  dev: [1, 2\n");
  auto syntax = ResolveConfig({});
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.status().code() == StatusCode::kInvalidArgument);
  CHECK(syntax.status().message().find(path + ":4:1") != std::string::npos);

  WriteFile(path, "contexts:\n  dev:\n    backend: local:///x\n    projet: typo\n");
  auto unknown_key = ResolveConfig({});
  REQUIRE_FALSE(unknown_key.ok());
  CHECK(unknown_key.status().message().find(path + ":4:5") != std::string::npos);
  CHECK(unknown_key.status().message().find("unknown key \"projet\"") != std::string::npos);

  WriteFile(path, "contexts: [a, b]\n");
  auto wrong_type = ResolveConfig({});
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.status().message().find(path + ":1:11") != std::string::npos);

  WriteFile(path, "- just\n- a list\n");
  CHECK(ResolveConfig({}).status().code() == StatusCode::kInvalidArgument);

  WriteFile(path, "current-context: dev\ncontexts:\n  dev:\n    project: Bad_Name\n");
  auto bad_project = ResolveConfig({});
  REQUIRE_FALSE(bad_project.ok());
  CHECK(bad_project.status().message().find("context dev") != std::string::npos);
}

TEST_CASE("contexts are created, switched and deleted, keeping unknown keys") {
  TempDir dir;
  IsolatedEnv env(dir);
  std::string path = dir / "nested/dir/config.yaml";
  WriteFile(dir / "placeholder", "");
  MLC_REQUIRE_OK(SetConfigContext(path, {"dev", "local:///srv/dev", "ml-research"}));
  auto file = LoadConfigFile(path);
  MLC_REQUIRE_OK(file);
  CHECK(file->current_context == "dev");  // the first context becomes current
  REQUIRE(file->contexts.size() == 1);

  MLC_REQUIRE_OK(SetConfigContext(path, {"prod", "grpc://h:1", ""}));
  MLC_REQUIRE_OK(SetConfigContext(path, {"dev", "", "recsys"}));  // partial update
  file = LoadConfigFile(path);
  MLC_REQUIRE_OK(file);
  CHECK(file->current_context == "dev");
  REQUIRE(file->Find("dev") != nullptr);
  CHECK(file->Find("dev")->backend == "local:///srv/dev");
  CHECK(file->Find("dev")->project == "recsys");

  MLC_REQUIRE_OK(UseConfigContext(path, "prod"));
  CHECK(LoadConfigFile(path)->current_context == "prod");
  CHECK(UseConfigContext(path, "nope").code() == StatusCode::kNotFound);

  MLC_REQUIRE_OK(DeleteConfigContext(path, "prod"));
  file = LoadConfigFile(path);
  CHECK(file->current_context.empty());
  CHECK(file->Find("prod") == nullptr);
  CHECK(DeleteConfigContext(path, "prod").code() == StatusCode::kNotFound);

  CHECK(SetConfigContext(path, {"bad name", "", ""}).code() == StatusCode::kInvalidArgument);
  CHECK(SetConfigContext(path, {"x", "not a uri", ""}).code() == StatusCode::kInvalidArgument);

  // Keys this version does not know survive edits.
  WriteFile(path, "future-setting: 42\ncontexts:\n  a:\n    backend: local:///a\n");
  MLC_REQUIRE_OK(UseConfigContext(path, "a"));
  auto text = LoadConfigFile(path);
  MLC_REQUIRE_OK(text);
  std::ifstream in(path);
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(contents.find("future-setting: 42") != std::string::npos);
}

}  // namespace
}  // namespace mlcore
