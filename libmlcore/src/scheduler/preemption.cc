// Preemption: making room for a job within its project's guarantee.
//
// Victims are running preemptible jobs of projects over their own guarantee (never of a project
// within it), taken cheapest first: lowest priority, then the project most over its guarantee,
// then the youngest. On each candidate node the cheapest victims are taken until the replica fits,
// then any victim whose release turns out unnecessary is given back (most expensive first), so
// never more is preempted than needed. Gang jobs plan every replica or none.
#include <algorithm>
#include <tuple>

#include "scheduler/pass.h"

namespace mlcore::sched {
namespace {

struct Candidate {
  int job;
  int priority;
  double overage;
  int64_t start_ms;
  // Cheaper first: lower priority, more over guarantee, younger.
  bool operator<(const Candidate& o) const {
    return std::tie(priority, o.overage, o.start_ms, job) <
           std::tie(o.priority, overage, start_ms, o.job);
  }
};

}  // namespace

std::optional<Pass::PreemptionPlan> Pass::PlanPreemption(const JobInfo& job) {
  // Tentative state: undone unless a full plan is found.
  std::vector<std::pair<int, Res>> free_undo;  // node, previous free
  std::vector<std::pair<int, Res>> used_undo;  // project, previous used
  std::vector<int> taken;                      // victims chosen so far (running indexes)
  auto take = [&](int v) {
    taken.push_back(v);
    preempted_[v] = 1;
    const JobInfo& victim = m_.running[v];
    for (int n : victim.nodes) {
      free_undo.emplace_back(n, free_[n]);
      free_[n] += victim.request;
    }
    for (int p = victim.project; p >= 0; p = m_.projects[p].parent) {
      used_undo.emplace_back(p, used_[p]);
      used_[p] -= victim.Total();
    }
  };
  auto undo_all = [&]() {
    for (auto it = free_undo.rbegin(); it != free_undo.rend(); ++it) free_[it->first] = it->second;
    for (auto it = used_undo.rbegin(); it != used_undo.rend(); ++it) used_[it->first] = it->second;
    for (int v : taken) preempted_[v] = 0;
  };

  PreemptionPlan plan;
  const Res& req = job.request;
  for (int replica = 0; replica < job.replicas; ++replica) {
    // Best node: fewest/cheapest victims. Cost = (has victims, max priority, count, overage).
    int best_node = -1;
    std::vector<int> best_victims;
    std::tuple<int, int, size_t> best_cost{2, 0, 0};
    for (int n = 0; n < static_cast<int>(m_.nodes.size()); ++n) {
      if (!Compatible(n, job)) continue;
      Res deficit = req - free_[n];
      bool short_any = false;
      for (int r = 0; r < kNumResources; ++r) short_any |= deficit[r] > 0;
      if (!short_any) {
        best_node = n;
        best_victims.clear();
        best_cost = {0, 0, 0};
        break;
      }
      // Could the preemptible jobs of over-guarantee projects here cover the deficit at all?
      std::vector<Candidate> cands;
      for (const Slot& s : on_node_[n]) {
        const JobInfo& v = m_.running[s.job];
        if (preempted_[s.job] || !v.preemptible || v.project == job.project) continue;
        if (!OverGuarantee(v.project)) continue;
        cands.push_back({s.job, v.priority, Share(v.project), v.start_ms});
      }
      if (cands.empty()) continue;
      std::sort(cands.begin(), cands.end());
      // Greedy, cheapest first, re-checking that the victim's project is still over guarantee.
      std::vector<int> chosen;
      std::vector<Res> project_delta;  // tentative per chosen victim
      Res need = deficit;
      std::vector<std::pair<int, Res>> local_used;  // project -> used after tentative victims
      auto used_of = [&](int p) {
        for (auto& [q, u] : local_used)
          if (q == p) return u;
        return used_[p];
      };
      auto set_used = [&](int p, const Res& u) {
        for (auto& [q, uu] : local_used)
          if (q == p) {
            uu = u;
            return;
          }
        local_used.emplace_back(p, u);
      };
      for (const Candidate& c : cands) {
        bool needed = false;
        const JobInfo& v = m_.running[c.job];
        for (int r = 0; r < kNumResources; ++r) needed |= need[r] > 0 && v.request[r] > 0;
        if (!needed) continue;
        Res u = used_of(v.project);
        const Res& g = m_.projects[v.project].guaranteed;
        bool over = false;
        for (int r = 0; r < kNumResources; ++r) over |= u[r] > g[r];
        if (!over) continue;
        set_used(v.project, u - v.Total());
        chosen.push_back(c.job);
        need -= v.request;
        bool done = true;
        for (int r = 0; r < kNumResources; ++r) done &= need[r] <= 0;
        if (done) break;
      }
      bool done = true;
      for (int r = 0; r < kNumResources; ++r) done &= need[r] <= 0;
      if (!done) continue;
      // Give back victims that are not needed after all, most expensive first.
      for (int i = static_cast<int>(chosen.size()) - 1; i >= 0; --i) {
        Res without = need + m_.running[chosen[i]].request;
        bool still = true;
        for (int r = 0; r < kNumResources; ++r) still &= without[r] <= 0;
        if (still) {
          need = without;
          chosen.erase(chosen.begin() + i);
        }
      }
      int max_priority = -2147483647;
      for (int v : chosen) max_priority = std::max(max_priority, m_.running[v].priority);
      std::tuple<int, int, size_t> cost{1, max_priority, chosen.size()};
      if (best_node < 0 || cost < best_cost) {
        best_node = n;
        best_cost = cost;
        best_victims = chosen;
      }
    }
    if (best_node < 0) {
      undo_all();
      return std::nullopt;
    }
    for (int v : best_victims) take(v);
    free_undo.emplace_back(best_node, free_[best_node]);
    free_[best_node] -= req;
    plan.nodes.push_back(best_node);
  }
  if (taken.empty()) {
    // Fits without victims (room appeared during planning): not a preemption.
    undo_all();
    return std::nullopt;
  }
  plan.victims = taken;
  // Keep the tentative state: victims are gone and the job's room is claimed. The caller charges
  // the job to its project.
  return plan;
}

}  // namespace mlcore::sched
