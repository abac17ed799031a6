// Property tests over random states (seeded, so failures reproduce): whatever the state, no
// decision exceeds a node's capacity or a project's limit, victims are only preemptible jobs of
// projects over their guarantee, and a job within its guarantee gets its resources back from
// other projects' preemptible jobs in a bounded number of passes.
#include <map>
#include <random>
#include <set>

#include "sched_test_util.h"
#include "unit/test_support.h"

namespace mlcore::sched_test {
namespace {

struct Usage {
  int64_t cpu = 0, mem = 0, gpu = 0;
  void Add(const v1::Resources& r, int k) {
    cpu += r.cpu_millis() * k;
    mem += r.memory_bytes() * k;
    gpu += r.gpu() * k;
  }
  bool Within(const v1::Resources& cap, bool zero_is_unlimited) const {
    auto ok = [&](int64_t used, int64_t limit) {
      return (zero_is_unlimited && limit == 0) || used <= limit;
    };
    return ok(cpu, cap.cpu_millis()) && ok(mem, cap.memory_bytes()) && ok(gpu, cap.gpu());
  }
  bool Over(const v1::Resources& g) const {
    return cpu > g.cpu_millis() || mem > g.memory_bytes() || gpu > g.gpu();
  }
};

const std::vector<v1::Resources>& Shapes() {
  static const std::vector<v1::Resources> shapes = {
      Res(2, 8),       Res(4, 16),      Res(8, 32),      Res(16, 64),
      Res(12, 128, 1), Res(24, 256, 2), Res(48, 512, 4), Res(96, 1024, 8)};
  return shapes;
}

// A random, valid state: running jobs fit their nodes and their projects' limits.
World RandomWorld(std::mt19937& rng) {
  std::uniform_int_distribution<int> coin(0, 1), nn(1, 8), np(1, 4), shape(0, 7), pri(-1, 2);
  World w(1000000);
  const int nodes = nn(rng);
  std::vector<v1::Resources> cap;
  for (int n = 0; n < nodes; ++n) {
    cap.push_back(coin(rng) ? Res(96, 1024, 8) : Res(64, 256));
    w.Node("n" + std::to_string(n), cap.back(), {}, {}, {}, rng() % 10 != 0);
  }
  const int projects = np(rng);
  std::vector<std::string> names;
  for (int p = 0; p < projects; ++p) {
    names.push_back("p" + std::to_string(p));
    int g = static_cast<int>(rng() % 3);
    int l = static_cast<int>(rng() % 4);
    v1::Resources guaranteed = g == 0 ? Res(0, 0) : Res(16.0 * g, 256 * g, 2 * g);
    v1::Resources limit = l == 0 ? Res(0, 0) : Res(64.0 * l, 1024 * l, 4 * l);
    if (l != 0 && g != 0) guaranteed = Res(16, 256, 2);
    const bool sub = p > 0 && rng() % 4 == 0;
    w.Project(names.back(), guaranteed, limit, sub ? "p0" : "");
  }
  std::vector<Usage> node_used(nodes);
  std::map<std::string, Usage> project_used;
  int id = 0;
  const int running = static_cast<int>(rng() % 25);
  for (int i = 0; i < running; ++i) {
    JobSpec j;
    j.id = "r" + std::to_string(id++);
    j.project = names[rng() % names.size()];
    j.resources = Shapes()[shape(rng)];
    j.preemptible = coin(rng);
    j.priority = pri(rng);
    j.start_s = 1000000 - static_cast<int64_t>(rng() % 5000);
    j.expected_s = static_cast<int64_t>(rng() % 3) * 3600;
    const int n = static_cast<int>(rng() % nodes);
    Usage after = node_used[n];
    after.Add(j.resources, 1);
    if (!after.Within(cap[n], false)) continue;
    // Respect limits along the project chain.
    bool fits = true;
    for (const auto& p : w.state.projects()) {
      bool on_chain = p.name() == j.project;
      for (const auto& q : w.state.projects()) {
        if (q.name() == j.project && q.parent() == p.name()) on_chain = true;
      }
      if (!on_chain) continue;
      Usage u = project_used[p.name()];
      u.Add(j.resources, 1);
      fits &= u.Within(p.limit(), true);
    }
    if (!fits) continue;
    node_used[n] = after;
    for (const auto& p : w.state.projects()) {
      bool on_chain = p.name() == j.project;
      for (const auto& q : w.state.projects()) {
        if (q.name() == j.project && q.parent() == p.name()) on_chain = true;
      }
      if (on_chain) project_used[p.name()].Add(j.resources, 1);
    }
    j.nodes = {"n" + std::to_string(n)};
    w.Running(j);
  }
  const int pending = static_cast<int>(rng() % 30);
  for (int i = 0; i < pending; ++i) {
    JobSpec j;
    j.id = "q" + std::to_string(id++);
    j.project = names[rng() % names.size()];
    j.resources = Shapes()[shape(rng)];
    j.replicas = rng() % 6 == 0 ? 2 : 1;
    j.preemptible = coin(rng);
    j.priority = pri(rng);
    j.submit_s = 990000 + static_cast<int64_t>(rng() % 10000);
    j.expected_s = static_cast<int64_t>(rng() % 3) * 1800;
    w.Pending(j);
  }
  w.config.set_disable_backfill(rng() % 5 == 0);
  return w;
}

// Usage per node and per project (descendants included) of the running jobs of `state`.
void Account(const v1::SchedulingState& state, std::map<std::string, Usage>& nodes,
             std::map<std::string, Usage>& projects) {
  std::map<std::string, std::string> parent;
  for (const auto& p : state.projects()) parent[p.name()] = p.parent();
  for (const auto& j : state.running()) {
    for (const auto& n : j.nodes()) nodes[n].Add(j.resources(), 1);
    for (std::string p = j.project(); !p.empty(); p = parent[p]) {
      projects[p].Add(j.resources(), j.replicas());
    }
  }
}

TEST_CASE("property: decisions never exceed node capacity or a project limit") {
  std::mt19937 rng(20240601);
  for (int iteration = 0; iteration < 300; ++iteration) {
    CAPTURE(iteration);
    World w = RandomWorld(rng);
    std::map<std::string, Usage> node_before, project_before;
    Account(w.state, node_before, project_before);
    w.Run();

    // Exactly one start/wait per pending job; preemptions only of running preemptible jobs of
    // projects over their guarantee (judged on the state before the pass).
    std::map<std::string, v1::Project> projects;
    for (const auto& p : w.state.projects()) projects[p.name()] = p;
    std::set<std::string> pending_ids, running_ids, decided;
    std::map<std::string, const v1::SchedulableJob*> running;
    for (const auto& j : w.state.pending()) pending_ids.insert(j.id());
    for (const auto& j : w.state.running()) running[j.id()] = &j;
    // A project may go over its guarantee during the pass by starting jobs: judge victims against
    // the usage before the pass plus everything the pass started.
    std::map<std::string, Usage> project_peak = project_before;
    for (const auto& d : w.decisions) {
      if (!d.has_start()) continue;
      for (const auto& j : w.state.pending()) {
        if (j.id() != d.job_id()) continue;
        for (const v1::Project* p = &projects[j.project()]; p != nullptr;
             p = p->parent().empty() ? nullptr : &projects[p->parent()]) {
          project_peak[p->name()].Add(j.resources(), j.replicas());
        }
      }
    }
    for (const auto& d : w.decisions) {
      if (d.has_preempt()) {
        REQUIRE(running.count(d.job_id()));
        const auto* victim = running[d.job_id()];
        CHECK(victim->preemptible());
        CHECK(project_peak[victim->project()].Over(projects[victim->project()].guaranteed()));
        const auto* beneficiary = w.Find(d.preempt().for_job_id());
        REQUIRE(beneficiary != nullptr);
        CHECK(beneficiary->wait().code() == v1::WAIT_REASON_PREEMPTING);
      } else {
        CHECK(pending_ids.count(d.job_id()));
        CHECK(decided.insert(d.job_id()).second);
        if (d.has_wait()) CHECK_FALSE(d.wait().reason().empty());
      }
    }
    CHECK(decided.size() == pending_ids.size());

    // Apply and re-account independently: nodes within capacity, projects within limits for every
    // project that gained a job (a lowered limit may leave older usage above it).
    std::set<std::string> gained;
    for (const auto& d : w.decisions) {
      if (!d.has_start()) continue;
      for (const auto& j : w.state.pending()) {
        if (j.id() != d.job_id()) continue;
        CHECK(d.start().nodes_size() == j.replicas());
        for (const v1::Project* p = &projects[j.project()]; p != nullptr;
             p = p->parent().empty() ? nullptr : &projects[p->parent()]) {
          gained.insert(p->name());
        }
      }
    }
    w.Apply();
    std::map<std::string, Usage> node_after, project_after;
    Account(w.state, node_after, project_after);
    for (const auto& n : w.state.nodes()) {
      CHECK(node_after[n.name()].Within(n.capacity(), false));
    }
    for (const auto& name : gained) {
      CHECK(project_after[name].Within(projects[name].limit(), true));
    }
  }
}

TEST_CASE("property: a job within its guarantee gets room from other projects' preemptible jobs") {
  std::mt19937 rng(7);
  for (int iteration = 0; iteration < 200; ++iteration) {
    CAPTURE(iteration);
    std::uniform_int_distribution<int> nn(1, 6), units(1, 8), others(1, 3);
    World w(500000);
    const int nodes = nn(rng);
    for (int n = 0; n < nodes; ++n) w.Node("n" + std::to_string(n), Res(96, 1024, 8));
    // The owner is guaranteed `need` GPUs (whole-unit shapes, so fragmentation cannot hide room).
    const int need = units(rng);
    w.Project("owner", Res(12.0 * need, 128 * need, need), Res(0, 0));
    const int n_others = others(rng);
    for (int p = 0; p < n_others; ++p) w.Project("o" + std::to_string(p), Res(0, 0), Res(0, 0));
    // Fill every GPU with preemptible 1-GPU jobs of the other projects.
    int id = 0;
    for (int n = 0; n < nodes; ++n) {
      for (int g = 0; g < 8; ++g) {
        JobSpec j;
        j.id = "o" + std::to_string(id++);
        j.project = "o" + std::to_string(static_cast<int>(rng() % n_others));
        j.resources = Res(12, 128, 1);
        j.preemptible = true;
        j.priority = static_cast<int>(rng() % 3);
        j.nodes = {"n" + std::to_string(n)};
        j.start_s = 400000 + static_cast<int64_t>(rng() % 1000);
        w.Running(j);
      }
    }
    JobSpec mine;
    mine.id = "mine";
    mine.project = "owner";
    mine.resources = Res(12.0 * need, 128 * need, need);
    if (need > 8) continue;
    w.Pending(mine);
    bool started = false;
    size_t preempted = 0;
    for (int pass = 0; pass < 3 && !started; ++pass) {
      w.Run();
      started = w.Started("mine");
      preempted += w.PreemptedIds().size();
      w.Apply();
    }
    CHECK(started);
    CHECK(preempted == static_cast<size_t>(need));  // exactly enough, never more
  }
}

}  // namespace
}  // namespace mlcore::sched_test
