#include "mlcore/invoke.h"

#include <algorithm>

#include <doctest/doctest.h>
#include <google/protobuf/descriptor.h>

#include "mlcore/client.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using testing::IsolatedEnv;
using testing::TempDir;

TEST_CASE("every method of the schema is reachable by name; served ones answer") {
  TempDir dir;
  IsolatedEnv env(dir);
  auto client = Client::Open("local://" + dir.path() + "/state");
  MLC_REQUIRE_OK(client);

  auto created = InvokeJson(**client, "ProjectService/CreateProject",
                            R"({"project":{"name":"ml-research","description":"d"}})");
  MLC_REQUIRE_OK(created);
  CHECK(created->find("\"name\":\"ml-research\"") != std::string::npos);

  auto listed = InvokeJson(**client, "mlcore.v1.ProjectService/ListProjects", "");
  MLC_REQUIRE_OK(listed);
  CHECK(listed->find("ml-research") != std::string::npos);

  auto info = InvokeJson(**client, "SystemService/GetBackendInfo", "{}");
  MLC_REQUIRE_OK(info);
  CHECK(info->find("CAPABILITY_PROJECTS") != std::string::npos);

  // Served, and checked like every call: a run without a pipeline is refused.
  auto submit = InvokeJson(**client, "PipelineService/RunPipeline", "{}");
  CHECK(submit.status().code() == StatusCode::kInvalidArgument);
  CHECK(submit.status().message().find("no pipeline given") != std::string::npos);
  auto runs = InvokeJson(**client, "PipelineService/ListPipelineRuns", "{}");
  MLC_REQUIRE_OK(runs);

  auto no_method = InvokeJson(**client, "ProjectService/Frobnicate", "{}");
  CHECK(no_method.status().code() == StatusCode::kNotFound);
  CHECK(no_method.status().message().find("CreateProject, GetProject") != std::string::npos);

  auto no_service = InvokeJson(**client, "NopeService/X", "{}");
  CHECK(no_service.status().code() == StatusCode::kNotFound);
  CHECK(no_service.status().message().find("mlcore.v1.ProjectService") != std::string::npos);

  CHECK(InvokeJson(**client, "no-slash", "{}").status().code() == StatusCode::kInvalidArgument);
  CHECK(InvokeJson(**client, "ProjectService/GetProject", "{oops").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(InvokeJson(**client, "ProjectService/GetProject", R"({"name":"absent"})").status().code() ==
        StatusCode::kNotFound);
}

TEST_CASE("the whole schema is linked into the descriptor pool") {
  for (const char* service :
       {"mlcore.v1.JobService", "mlcore.v1.TrackingService", "mlcore.v1.ArtifactService",
        "mlcore.v1.DataService", "mlcore.v1.RegistryService", "mlcore.v1.SchedulingService",
        "mlcore.v1.PipelineService", "mlcore.v1.AuthService"}) {
    INFO(service);
    auto method = FindMethod(std::string(service) + "/Anything");
    REQUIRE_FALSE(method.ok());
    // The service is known: the error lists its methods rather than the services.
    CHECK(method.status().message().find("its methods:") != std::string::npos);
  }
  auto methods = InvokableMethods();
  CHECK(std::is_sorted(methods.begin(), methods.end()));
  CHECK(std::find(methods.begin(), methods.end(), "mlcore.v1.ProjectService/ListProjects") !=
        methods.end());
}

}  // namespace
}  // namespace mlcore
