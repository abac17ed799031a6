#include "core/validation.h"

#include <doctest/doctest.h>

#include "mlcore/v1/projects.pb.h"

namespace mlcore {
namespace {

TEST_CASE("project names follow DNS-label rules") {
  for (const char* good : {"a", "ml-research", "team42", "a1-b2-c3"}) {
    INFO(good);
    CHECK(ValidateProjectName(good).ok());
  }
  for (const char* bad : {"", "-lead", "trail-", "Upper", "under_score", "dot.ted", "sp ace"}) {
    INFO(bad);
    Status s = ValidateProjectName(bad);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("lowercase letters") != std::string::npos);
  }
  CHECK_FALSE(ValidateProjectName(std::string(64, 'a')).ok());
  CHECK(ValidateProjectName(std::string(63, 'a')).ok());
}

TEST_CASE("new projects need consistent quotas and a distinct parent") {
  v1::Project p;
  p.set_name("ml");
  CHECK(ValidateNewProject(p).ok());
  p.set_parent("ml");
  CHECK(ValidateNewProject(p).message().find("own parent") != std::string::npos);
  p.clear_parent();
  p.mutable_guaranteed()->set_gpu(4);
  p.mutable_limit()->set_gpu(2);
  CHECK(ValidateNewProject(p).message().find("exceeds the limit") != std::string::npos);
  p.mutable_limit()->set_gpu(0);  // 0 = no limit
  CHECK(ValidateNewProject(p).ok());
  p.mutable_limit()->set_cpu_millis(-1);
  CHECK(ValidateNewProject(p).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("page sizes default and are bounded") {
  CHECK(ResolvePageSize(0).value() == kDefaultPageSize);
  CHECK(ResolvePageSize(7).value() == 7);
  CHECK_FALSE(ResolvePageSize(-1).ok());
  CHECK_FALSE(ResolvePageSize(kMaxPageSize + 1).ok());
}

}  // namespace
}  // namespace mlcore
