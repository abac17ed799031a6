// Preemption: only for jobs within their project's guarantee, only of preemptible jobs of
// projects over their own guarantee, cheapest first, never more than needed, gangs all or none.
#include "sched_test_util.h"
#include "unit/test_support.h"

namespace mlcore::sched_test {
namespace {

const v1::Resources kNone = Res(0, 0);
const v1::Resources kGpuNode = Res(96, 1024, 8);
const v1::Resources kGpu1 = Res(12, 128, 1);

JobSpec J(const std::string& id, const std::string& project, const v1::Resources& r) {
  JobSpec j;
  j.id = id;
  j.project = project;
  j.resources = r;
  return j;
}

// One 8-GPU server full of 1-GPU preemptible jobs of `guest`, started at t=i, priority `prio(i)`.
World FullServer(const v1::Resources& guest_guarantee, int (*prio)(int)) {
  World w;
  w.Node("g1", kGpuNode);
  w.Project("owner", Res(48, 512, 4), kNone);
  w.Project("guest", guest_guarantee, kNone);
  for (int i = 0; i < 8; ++i) {
    auto j = J("guest-" + std::to_string(i), "guest", kGpu1);
    j.nodes = {"g1"};
    j.preemptible = true;
    j.start_s = 1000 + i;
    j.priority = prio(i);
    w.Running(j);
  }
  return w;
}

TEST_CASE("preempts exactly enough, cheapest first: lowest priority, then youngest") {
  World w = FullServer(kNone, [](int i) { return i < 4 ? 0 : -5; });
  w.Pending(J("mine", "owner", Res(24, 256, 2)));
  w.Run();
  // Priority -5 jobs (4..7) go first; among them the youngest (7, 6).
  CHECK(w.PreemptedIds() == std::vector<std::string>{"guest-6", "guest-7"});
  CHECK(w.WaitCode("mine") == v1::WAIT_REASON_PREEMPTING);
  CHECK(w.WaitText("mine") ==
        "waiting: preempting 2 jobs to make room within project owner's guarantee");
  for (const auto& d : w.decisions) {
    if (d.has_preempt()) {
      CHECK(d.preempt().for_job_id() == "mine");
      CHECK(d.preempt().reason() ==
            "preempted for job mine of project owner (within its guarantee)");
    }
  }
  // Next pass (victims gone): the job starts.
  w.Apply();
  w.Run();
  CHECK(w.Started("mine"));
  CHECK(w.PreemptedIds().empty());
}

TEST_CASE("never preempts a job of a project within its own guarantee") {
  World w = FullServer(Res(96, 1024, 8), [](int) { return 0; });
  w.Pending(J("mine", "owner", kGpu1));
  w.Run();
  CHECK(w.PreemptedIds().empty());
  CHECK_FALSE(w.Started("mine"));
  CHECK(w.WaitCode("mine") == v1::WAIT_REASON_NO_CAPACITY);
}

TEST_CASE("stops preempting a project once it is back within its guarantee; all or nothing") {
  // guest is guaranteed 6 GPUs and holds 8: only 2 of its jobs are fair game.
  World w = FullServer(Res(72, 768, 6), [](int) { return 0; });
  w.Pending(J("two", "owner", Res(24, 256, 2)));
  w.Run();
  CHECK(w.PreemptedIds().size() == 2);
  World x = FullServer(Res(72, 768, 6), [](int) { return 0; });
  x.Pending(J("three", "owner", Res(36, 384, 3)));
  x.Run();
  CHECK(x.PreemptedIds().empty());  // 3 would push guest below its guarantee: preempt none
  CHECK_FALSE(x.Started("three"));
}

TEST_CASE("a job beyond its guarantee never preempts; non-preemptible jobs are never victims") {
  World w = FullServer(kNone, [](int) { return 0; });
  w.Pending(J("big", "owner", Res(60, 640, 5)));  // owner's guarantee is 4 GPUs
  w.Run();
  CHECK(w.PreemptedIds().empty());

  World x;
  x.Node("g1", kGpuNode);
  x.Project("owner", Res(48, 512, 4), kNone).Project("guest", kNone, kNone);
  auto firm = J("firm", "guest", kGpuNode);
  firm.nodes = {"g1"};
  x.Running(firm);
  x.Pending(J("mine", "owner", kGpu1));
  x.Run();
  CHECK(x.PreemptedIds().empty());
}

TEST_CASE("among equal priorities, the project most over its guarantee loses first") {
  World w;
  w.Node("g1", kGpuNode);
  w.Project("owner", Res(24, 256, 2), kNone);
  w.Project("a", Res(12, 128, 1), kNone);  // holds 4, guaranteed 1: 3 over
  w.Project("b", Res(36, 384, 3), kNone);  // holds 4, guaranteed 3: 1 over
  for (int i = 0; i < 8; ++i) {
    auto j = J((i < 4 ? "a-" : "b-") + std::to_string(i), i < 4 ? "a" : "b", kGpu1);
    j.nodes = {"g1"};
    j.preemptible = true;
    j.start_s = 100 - i;  // b's jobs are younger: age alone would pick b
    w.Running(j);
  }
  w.Pending(J("mine", "owner", kGpu1));
  w.Run();
  REQUIRE(w.PreemptedIds().size() == 1);
  CHECK(w.PreemptedIds()[0].rfind("a-", 0) == 0);
}

TEST_CASE("a gang within its guarantee preempts on enough nodes for all replicas or none") {
  World w;
  w.Node("g1", kGpuNode).Node("g2", kGpuNode);
  w.Project("owner", Res(192, 2048, 16), kNone).Project("guest", kNone, kNone);
  for (int n = 1; n <= 2; ++n) {
    auto j = J("guest-" + std::to_string(n), "guest", kGpuNode);
    j.nodes = {"g" + std::to_string(n)};
    j.preemptible = true;
    w.Running(j);
  }
  auto gang = J("gang", "owner", kGpuNode);
  gang.replicas = 2;
  w.Pending(gang);
  w.Run();
  CHECK(w.PreemptedIds() == std::vector<std::string>{"guest-1", "guest-2"});
  w.Apply();
  w.Run();
  CHECK(w.Started("gang"));

  // Only one victim available (the other server is held by a non-preemptible job): none taken.
  World x;
  x.Node("g1", kGpuNode).Node("g2", kGpuNode);
  x.Project("owner", Res(192, 2048, 16), kNone).Project("guest", kNone, kNone);
  auto soft = J("soft", "guest", kGpuNode);
  soft.nodes = {"g1"};
  soft.preemptible = true;
  auto hard = J("hard", "guest", kGpuNode);
  hard.nodes = {"g2"};
  x.Running(soft).Running(hard);
  x.Pending(gang);
  x.Run();
  CHECK(x.PreemptedIds().empty());
}

TEST_CASE("lowering a guarantee while jobs run makes the excess preemptible") {
  World w = FullServer(Res(96, 1024, 8), [](int) { return 0; });
  w.Pending(J("mine", "owner", kGpu1));
  w.Run();
  CHECK(w.PreemptedIds().empty());
  w.state.mutable_projects(1)->mutable_guaranteed()->set_gpu(4);  // guest: 8 -> 4 GPUs
  w.Run();
  CHECK(w.PreemptedIds() == std::vector<std::string>{"guest-7"});
}

}  // namespace
}  // namespace mlcore::sched_test
