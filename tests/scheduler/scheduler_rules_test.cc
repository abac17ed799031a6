// The rules of the scheduling core, one case per rule (quotas, queue order, backfill, placement,
// affinity, gangs, wait reasons). Preemption has its own file.
#include <set>

#include "sched_test_util.h"
#include "scheduler/model.h"
#include "scheduler/pass.h"
#include "unit/test_support.h"

namespace mlcore::sched_test {
namespace {

const v1::Resources kNone = Res(0, 0);
const v1::Resources kGpuNode = Res(96, 1024, 8);
const v1::Resources kCpuNode = Res(64, 256);
const v1::Resources kGpu1 = Res(12, 128, 1);
const v1::Resources kGpu8 = Res(96, 1024, 8);
const v1::Resources kCpu4 = Res(4, 16);

JobSpec J(const std::string& id, const std::string& project, const v1::Resources& r) {
  JobSpec j;
  j.id = id;
  j.project = project;
  j.resources = r;
  return j;
}

TEST_CASE("a job never starts above its project's limit, and says so") {
  World w;
  w.Node("g1", kGpuNode).Node("g2", kGpuNode);
  w.Project("ml-research", kNone, Res(0, 0, 8));
  for (int i = 0; i < 8; ++i) {
    auto j = J("run" + std::to_string(i), "ml-research", kGpu1);
    j.nodes = {"g1"};
    w.Running(j);
  }
  w.Pending(J("next", "ml-research", kGpu1));
  w.Run();
  CHECK_FALSE(w.Started("next"));
  CHECK(w.WaitCode("next") == v1::WAIT_REASON_PROJECT_LIMIT);
  CHECK(w.WaitText("next") == "waiting: project ml-research at GPU limit 8/8");
}

TEST_CASE("a sub-project is bound by its parent's limit, and the message names the parent") {
  World w;
  w.Node("g1", kGpuNode);
  w.Project("org", kNone, Res(0, 0, 2));
  w.Project("team", kNone, kNone, "org");
  auto running = J("r", "org", kGpu1);
  running.nodes = {"g1"};
  w.Running(running);
  w.Pending(J("a", "team", Res(12, 128, 2)));
  w.Pending(J("b", "team", kGpu1));
  w.Run();
  CHECK(w.WaitCode("a") == v1::WAIT_REASON_PROJECT_LIMIT);
  CHECK(w.WaitText("a").find("project org GPU limit 2 would be exceeded (1 used + 2") !=
        std::string::npos);
  CHECK(w.Started("b"));
}

TEST_CASE("a non-preemptible job beyond its guarantee only uses capacity no guarantee needs") {
  World w;
  w.Node("g1", kGpuNode).Node("g2", kGpuNode);
  w.Project("owner", Res(96, 1024, 8), kNone);  // reserves one server's worth, idle now
  w.Project("guest", kNone, kNone);
  w.Pending(J("guest-1", "guest", kGpu8));
  auto second = J("guest-2", "guest", kGpu8);
  second.submit_s = 10;
  w.Pending(second);
  auto third = J("guest-3", "guest", kGpu8);
  third.submit_s = 20;
  third.preemptible = true;
  w.Pending(third);
  w.Run();
  CHECK(w.Started("guest-1"));  // 16 GPUs, 8 guaranteed to owner: 8 free of guarantees
  CHECK(w.WaitCode("guest-2") == v1::WAIT_REASON_RESERVED_FOR_GUARANTEES);
  CHECK(w.WaitText("guest-2").find("guest's guarantee needs 8 GPUs") != std::string::npos);
  CHECK(w.Started("guest-3"));  // preemptible: may borrow the owner's idle guarantee
}

TEST_CASE("queue order: within a priority, a job at risk of its deadline goes first") {
  // One 8-GPU server, two whole-server jobs of the same priority. "old" is older and its project
  // uses nothing; "risky" must start within 30 minutes to meet its deadline (inside the default
  // 2 h horizon), so it goes ahead of fair share and age.
  auto world = [](int64_t risky_deadline_s) {
    World w;
    w.Node("g1", kGpuNode);
    w.Project("light", kNone, kNone).Project("heavy", kNone, kNone).Project("x", kNone, kNone);
    auto busy = J("busy", "heavy", Res(4, 16));
    busy.nodes = {"c1"};
    w.Node("c1", kCpuNode).Running(busy);  // heavy is over its (zero) guarantee, light is not
    auto old = J("old", "light", kGpu8);
    old.submit_s = 10;
    old.expected_s = 3600;
    auto risky = J("risky", "heavy", kGpu8);
    risky.submit_s = 50;
    risky.expected_s = 1800;
    risky.deadline_s = risky_deadline_s;
    w.Pending(old).Pending(risky);
    w.Run();
    return w;
  };
  const int64_t now = World().state.time().seconds();
  World at_risk = world(now + 1800 + 1800);  // latest start in 30 min
  CHECK(at_risk.Started("risky"));
  CHECK_FALSE(at_risk.Started("old"));
  // A deadline beyond the horizon (latest start in 5 h) leaves the usual order alone.
  World relaxed = world(now + 5 * 3600 + 1800);
  CHECK(relaxed.Started("old"));
  CHECK_FALSE(relaxed.Started("risky"));
  // Among several jobs at risk, the earliest latest start goes first.
  World two;
  two.Node("g1", kGpuNode);
  two.Project("a", kNone, kNone);
  auto later = J("later", "a", kGpu8);
  later.submit_s = 1;
  later.expected_s = 600;
  later.deadline_s = now + 3600;
  auto sooner = J("sooner", "a", kGpu8);
  sooner.submit_s = 2;
  sooner.expected_s = 600;
  sooner.deadline_s = now + 1800;
  two.Pending(later).Pending(sooner);
  two.Run();
  CHECK(two.Started("sooner"));
  CHECK_FALSE(two.Started("later"));
}

TEST_CASE("queue order: a deadline never outranks priority unless escalation is on") {
  World w;
  w.Node("g1", kGpuNode);
  w.Project("a", kNone, kNone);
  auto high = J("high", "a", kGpu8);
  high.priority = 10;
  high.submit_s = 100;
  high.expected_s = 3600;
  auto risky = J("risky-low", "a", kGpu8);
  risky.priority = 0;
  risky.submit_s = 1;
  risky.expected_s = 600;
  risky.deadline_s = w.state.time().seconds() + 1200;
  w.Pending(high).Pending(risky);
  w.Run();
  CHECK(w.Started("high"));
  CHECK_FALSE(w.Started("risky-low"));

  // Escalation (a C++-only tunable) puts the at-risk job ahead of every priority.
  auto model = sched::BuildModel(w.state);
  REQUIRE(model.ok());
  model->tunables.deadline_escalation = true;
  auto decisions = sched::RunPass(*model);
  std::set<std::string> started;
  for (const auto& d : decisions) {
    if (d.kind == sched::Decision::kStart) started.insert(std::string(model->pending[d.job].id));
  }
  CHECK(started == std::set<std::string>{"risky-low"});
  // With the horizon at 0 deadlines play no part, escalation or not.
  model->tunables.deadline_horizon_ms = 0;
  started.clear();
  for (const auto& d : sched::RunPass(*model)) {
    if (d.kind == sched::Decision::kStart) started.insert(std::string(model->pending[d.job].id));
  }
  CHECK(started == std::set<std::string>{"high"});
}

TEST_CASE("queue order: priority first, then fair share between projects, then age") {
  World w;
  w.Node("c1", Res(8, 32));
  w.Project("a", kNone, kNone).Project("b", kNone, kNone);
  // One slot of 4 CPUs left after the running job.
  auto run = J("run", "a", kCpu4);
  run.nodes = {"c1"};
  w.Running(run);
  auto low_old = J("low-old", "b", kCpu4);
  low_old.priority = 0;
  low_old.submit_s = 1;
  auto high_new = J("high-new", "a", kCpu4);
  high_new.priority = 10;
  high_new.submit_s = 500;
  w.Pending(low_old).Pending(high_new);
  w.Run();
  CHECK(w.Started("high-new"));
  CHECK_FALSE(w.Started("low-old"));

  // Same priority: project b (using nothing) goes before project a (using 4 CPUs), even though
  // a's job is older.
  World f;
  f.Node("c1", Res(8, 32));
  f.Project("a", kNone, kNone).Project("b", kNone, kNone);
  f.Running(run);
  auto a_old = J("a-old", "a", kCpu4);
  a_old.submit_s = 1;
  auto b_new = J("b-new", "b", kCpu4);
  b_new.submit_s = 900;
  f.Pending(a_old).Pending(b_new);
  f.Run();
  CHECK(f.Started("b-new"));
  CHECK_FALSE(f.Started("a-old"));

  // Same project and priority: the oldest first.
  World g;
  g.Node("c1", Res(4, 16));
  g.Project("a", kNone, kNone);
  auto young = J("young", "a", kCpu4);
  young.submit_s = 50;
  auto old = J("old", "a", kCpu4);
  old.submit_s = 40;
  g.Pending(young).Pending(old);
  g.Run();
  CHECK(g.Started("old"));
  CHECK_FALSE(g.Started("young"));
}

TEST_CASE("backfill never delays the head job's reservation") {
  World w(1000);
  w.Node("g1", kGpuNode).Node("g2", kGpuNode);
  w.Project("p", kNone, kNone);
  // g1: 6 GPUs busy until t=1000+3600; g2: 8 GPUs busy for a long time.
  auto busy1 = J("busy1", "p", Res(72, 768, 6));
  busy1.nodes = {"g1"};
  busy1.start_s = 1000;
  busy1.expected_s = 3600;
  auto busy2 = J("busy2", "p", kGpu8);
  busy2.nodes = {"g2"};
  busy2.start_s = 1000;
  busy2.expected_s = 20000;
  w.Running(busy1).Running(busy2);
  auto head = J("head", "p", kGpu8);
  head.priority = 10;
  auto short_job = J("short", "p", Res(12, 128, 2));
  short_job.expected_s = 1800;  // ends before the head's reservation
  short_job.submit_s = 5;
  auto long_job = J("long", "p", Res(12, 128, 2));
  long_job.expected_s = 7200;  // would still hold g1 when the head should start
  long_job.submit_s = 1;
  w.Pending(head).Pending(short_job).Pending(long_job);
  w.Run();
  CHECK(w.WaitCode("head") == v1::WAIT_REASON_NO_CAPACITY);
  CHECK(w.WaitText("head") ==
        "waiting: no node with 8 free GPUs; next free estimated when job busy1 ends (in 1h00m)");
  CHECK(w.Find("head")->wait().estimated_start_time().seconds() == 1000 + 3600);
  CHECK(w.Started("short"));
  CHECK_FALSE(w.Started("long"));
  CHECK(w.WaitCode("long") == v1::WAIT_REASON_QUEUE_ORDER);
  CHECK(w.WaitText("long").find("would delay job head") != std::string::npos);

  // With backfill disabled nothing passes the head.
  w.config.set_disable_backfill(true);
  w.Run();
  CHECK_FALSE(w.Started("short"));
  CHECK(w.WaitCode("short") == v1::WAIT_REASON_QUEUE_ORDER);
}

TEST_CASE("backfill may use a reserved node's room the head does not need") {
  World w(0);
  w.Node("c1", Res(32, 128));
  w.Project("p", kNone, kNone);
  auto busy = J("busy", "p", Res(16, 64));
  busy.nodes = {"c1"};
  busy.expected_s = 600;
  w.Running(busy);
  auto head = J("head", "p", Res(24, 96));  // needs 24 of 32 once busy ends
  head.priority = 1;
  auto small = J("small", "p", Res(8, 32));  // no duration known, but fits beside the head
  auto big = J("big", "p", Res(12, 48));     // would not fit beside the head
  w.Pending(head).Pending(small).Pending(big);
  w.Run();
  CHECK_FALSE(w.Started("head"));
  CHECK(w.Started("small"));
  CHECK_FALSE(w.Started("big"));
}

TEST_CASE("placement: best fit on the dominant resource, GPU servers kept for GPU jobs") {
  World w;
  w.Node("g-full-free", kGpuNode).Node("g-partial", kGpuNode).Node("c1", kCpuNode);
  w.Project("p", kNone, kNone);
  auto used = J("used", "p", Res(60, 640, 5));
  used.nodes = {"g-partial"};
  w.Running(used);
  w.Pending(J("gpu-job", "p", Res(12, 128, 2))).Pending(J("cpu-job", "p", kCpu4));
  w.Pending(J("whole", "p", kGpu8));
  w.Run();
  CHECK(w.NodesOf("gpu-job") == std::vector<std::string>{"g-partial"});  // keeps g-full-free whole
  CHECK(w.NodesOf("cpu-job") == std::vector<std::string>{"c1"});
  CHECK(w.NodesOf("whole") == std::vector<std::string>{"g-full-free"});

  // Among CPU nodes the tightest fit wins.
  World c;
  c.Node("roomy", Res(64, 256)).Node("tight", Res(64, 256));
  c.Project("p", kNone, kNone);
  auto fill = J("fill", "p", Res(58, 232));
  fill.nodes = {"tight"};
  c.Running(fill);
  c.Pending(J("j", "p", Res(6, 24)));
  c.Run();
  CHECK(c.NodesOf("j") == std::vector<std::string>{"tight"});
}

TEST_CASE("data and image affinity prefer nodes holding the job's datasets and image") {
  const std::string ds(64, 'a');
  World w;
  w.Node("n1", kCpuNode).Node("n2", kCpuNode, {}, {ds}).Node("n3", kCpuNode, {}, {}, {"img:1"});
  w.Project("p", kNone, kNone);
  auto data_job = J("data", "p", kCpu4);
  data_job.datasets = {ds};
  auto image_job = J("image", "p", kCpu4);
  image_job.image = "img:1";
  w.Pending(data_job).Pending(image_job);
  w.Run();
  CHECK(w.NodesOf("data") == std::vector<std::string>{"n2"});
  CHECK(w.NodesOf("image") == std::vector<std::string>{"n3"});

  // Negative weights disable affinity: packing alone decides (ties go to the first node).
  w.config.set_data_affinity_weight(-1);
  w.config.set_image_affinity_weight(-1);
  w.Run();
  CHECK(w.NodesOf("data") == std::vector<std::string>{"n1"});
}

TEST_CASE("gang jobs place every replica or none") {
  World w;
  w.Node("g1", kGpuNode).Node("g2", kGpuNode).Node("g3", kGpuNode).Node("g4", kGpuNode);
  w.Project("p", kNone, kNone);
  auto busy = J("busy", "p", kGpu1);
  busy.nodes = {"g4"};
  busy.expected_s = 100;
  w.Running(busy);
  auto gang = J("gang", "p", kGpu8);
  gang.replicas = 4;
  w.Pending(gang);
  w.Run();
  CHECK_FALSE(w.Started("gang"));
  CHECK(w.WaitText("gang").rfind("waiting: not enough nodes for 4 replicas with 8 free GPUs each",
                                 0) == 0);
  // A 3-replica gang fits: every replica on its own server.
  World x;
  x.Node("g1", kGpuNode).Node("g2", kGpuNode).Node("g3", kGpuNode);
  x.Project("p", kNone, kNone);
  gang.replicas = 3;
  x.Pending(gang);
  x.Run();
  auto nodes = x.NodesOf("gang");
  CHECK(std::set<std::string>(nodes.begin(), nodes.end()).size() == 3);
}

TEST_CASE("a job no node can hold waits as unsatisfiable with the reason") {
  World w;
  w.Node("g1", kGpuNode).Node("cordoned", Res(96, 1024, 16), {}, {}, {}, false);
  w.Project("p", kNone, kNone);
  w.Pending(J("huge", "p", Res(12, 128, 16)));
  w.Pending(J("h100", "p", Res(12, 128, 1, "h100")));
  auto sel = J("sel", "p", kCpu4);
  sel.selector = {{"zone", "b"}};
  w.Pending(sel);
  w.Run();
  CHECK(w.WaitCode("huge") == v1::WAIT_REASON_UNSATISFIABLE);
  CHECK(w.WaitText("huge") ==
        "waiting: no node can ever hold it: needs 16 GPUs per replica; the "
        "largest node offers 8");
  CHECK(w.WaitText("h100").find("no schedulable node has h100 GPUs") != std::string::npos);
  CHECK(w.WaitText("sel").find("node selector") != std::string::npos);
}

TEST_CASE("node selectors and cordoned nodes are respected") {
  World w;
  w.Node("a", kCpuNode, {{"zone", "a"}}).Node("b", kCpuNode, {{"zone", "b"}});
  w.Node("off", kCpuNode, {{"zone", "b"}}, {}, {}, false);
  w.Project("p", kNone, kNone);
  auto sel = J("sel", "p", kCpu4);
  sel.selector = {{"zone", "b"}};
  w.Pending(sel);
  w.Run();
  CHECK(w.NodesOf("sel") == std::vector<std::string>{"b"});
}

TEST_CASE("every pending job gets exactly one decision, every wait a sentence") {
  World w;
  w.Node("g1", kGpuNode);
  w.Project("p", kNone, Res(0, 0, 4));
  for (int i = 0; i < 20; ++i) {
    auto j = J("j" + std::to_string(i), "p", i % 2 ? kGpu1 : kCpu4);
    j.submit_s = i;
    w.Pending(j);
  }
  w.Run();
  std::set<std::string> seen;
  for (const auto& d : w.decisions) {
    CHECK(seen.insert(d.job_id()).second);
    if (d.has_wait()) {
      CHECK(d.wait().code() != v1::WAIT_REASON_UNSPECIFIED);
      CHECK(d.wait().reason().rfind("waiting: ", 0) == 0);
    }
  }
  CHECK(seen.size() == 20);
}

TEST_CASE("quota changes while jobs run: lower limits stop new starts, never running jobs") {
  World w;
  w.Node("g1", kGpuNode);
  w.Project("p", kNone, Res(0, 0, 8));
  for (int i = 0; i < 6; ++i) {
    auto j = J("r" + std::to_string(i), "p", kGpu1);
    j.nodes = {"g1"};
    w.Running(j);
  }
  w.Pending(J("new", "p", kGpu1));
  w.Run();
  CHECK(w.Started("new"));
  // The limit drops to 4 while 6 GPUs are in use.
  w.state.mutable_projects(0)->mutable_limit()->set_gpu(4);
  w.Run();
  CHECK_FALSE(w.Started("new"));
  CHECK(w.WaitText("new") == "waiting: project p at GPU limit 6/4");
  CHECK(w.PreemptedIds().empty());
}

TEST_CASE("max_jobs_per_pass bounds the work of a pass") {
  World w;
  w.Node("c", kCpuNode);
  w.Project("p", kNone, kNone);
  for (int i = 0; i < 5; ++i) {
    auto j = J("j" + std::to_string(i), "p", kCpu4);
    j.submit_s = i;
    w.Pending(j);
  }
  w.config.set_max_jobs_per_pass(2);
  w.Run();
  CHECK(w.Started("j0"));
  CHECK(w.Started("j1"));
  CHECK(w.WaitCode("j2") == v1::WAIT_REASON_QUEUE_ORDER);
}

TEST_CASE("an inconsistent state is an error naming the problem") {
  World w;
  w.Node("c", kCpuNode);
  w.Project("p", kNone, kNone);
  w.Pending(J("j", "nope", kCpu4));
  auto r = Schedule(w.state, w.config);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("unknown project \"nope\"") != std::string::npos);

  World d;
  d.Node("c", kCpuNode).Node("c", kCpuNode);
  CHECK(Schedule(d.state, d.config).status().message().find("duplicate node") != std::string::npos);
}

TEST_CASE("the same state always gives the same decisions") {
  World w;
  for (int n = 0; n < 5; ++n) w.Node("n" + std::to_string(n), n < 2 ? kGpuNode : kCpuNode);
  w.Project("a", Res(8, 32), kNone).Project("b", kNone, kNone);
  for (int i = 0; i < 40; ++i) {
    auto j = J("j" + std::to_string(i), i % 3 ? "a" : "b", i % 4 ? kCpu4 : kGpu1);
    j.submit_s = i % 7;
    j.priority = i % 2;
    w.Pending(j);
  }
  auto first = w.Run();
  auto second = w.Run();
  REQUIRE(first.size() == second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    CHECK(first[i].SerializeAsString() == second[i].SerializeAsString());
  }
}

}  // namespace
}  // namespace mlcore::sched_test
