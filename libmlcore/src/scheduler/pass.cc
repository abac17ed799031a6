// The loop of a scheduling pass, quota accounting, and reservations for the head of the queue.
#include "scheduler/pass.h"

#include <algorithm>

#include "scheduler/fair_share.h"

namespace mlcore::sched {

ShapeKey KeyOf(const JobInfo& job, int flags) {
  return {job.request[kCpu],
          job.request[kMemory],
          job.request[kGpu],
          job.gpu_model,
          job.selector,
          job.replicas,
          flags};
}

Pass::Pass(const Model& model) : m_(model) {
  const size_t nn = m_.nodes.size(), np = m_.projects.size();
  free_.resize(nn);
  on_node_.resize(nn);
  for (size_t n = 0; n < nn; ++n) {
    free_[n] = m_.nodes[n].capacity;
    if (m_.nodes[n].schedulable) total_capacity_ += m_.nodes[n].capacity;
  }
  used_.resize(np);
  used_np_.resize(np);
  children_.resize(np);
  top_.resize(np);
  for (size_t p = 0; p < np; ++p) {
    int t = static_cast<int>(p);
    while (m_.projects[t].parent >= 0) t = m_.projects[t].parent;
    top_[p] = t;
    if (m_.projects[p].parent >= 0) children_[m_.projects[p].parent].push_back(static_cast<int>(p));
  }
  for (size_t p = 0; p < np; ++p) {
    if (m_.projects[p].parent < 0) committed_ += m_.projects[p].guaranteed;
  }
  preempted_.assign(m_.running.size(), 0);
  for (size_t j = 0; j < m_.running.size(); ++j) {
    const JobInfo& job = m_.running[j];
    for (int n : job.nodes) {
      free_[n] -= job.request;
      on_node_[n].push_back({static_cast<int>(j), job.ExpectedEnd()});
    }
    Charge(job.project, job.Total(), job.preemptible, +1);
  }
  reservation_.reserved.assign(nn, 0);
  reservation_.time.assign(nn, kNever);
  reservation_.holder.assign(nn, -1);
  reservation_.slack.assign(nn, Res{});
  for (size_t n = 0; n < nn; ++n) {
    (m_.nodes[n].capacity[kGpu] > 0 ? gpu_nodes_ : cpu_nodes_).push_back(static_cast<int>(n));
  }
  std::unordered_map<ShapeKey, int, ShapeHash> ids;
  shape_of_.resize(m_.pending.size());
  for (size_t j = 0; j < m_.pending.size(); ++j) {
    shape_of_[j] =
        ids.try_emplace(KeyOf(m_.pending[j], 0), static_cast<int>(ids.size())).first->second;
  }
  shapes_ = static_cast<int>(ids.size());
  no_fit_.assign(shapes_, {-1, kNever});
  unsat_done_.assign(shapes_, 0);
  unsat_.resize(shapes_);
  estimate_done_.assign(shapes_, 0);
  estimates_.resize(shapes_);
  fits_anywhere_.assign(shapes_, {-1, 0});
}

// --- quotas ---------------------------------------------------------------------------------

void Pass::Charge(int project, const Res& amount, bool preemptible, int sign) {
  for (int p = project; p >= 0; p = m_.projects[p].parent) {
    if (!preemptible && m_.projects[p].parent < 0) {
      const Res& g = m_.projects[p].guaranteed;
      for (int r = 0; r < kNumResources; ++r) {
        int64_t after = used_np_[p][r] + (sign > 0 ? amount[r] : -amount[r]);
        committed_[r] += std::max(g[r], after) - std::max(g[r], used_np_[p][r]);
      }
    }
    if (sign > 0) {
      used_[p] += amount;
      if (!preemptible) used_np_[p] += amount;
    } else {
      used_[p] -= amount;
      if (!preemptible) used_np_[p] -= amount;
    }
  }
}

int Pass::LimitBlocker(const JobInfo& job, int* resource) const {
  const Res total = job.Total();
  for (int p = job.project; p >= 0; p = m_.projects[p].parent) {
    for (int r = 0; r < kNumResources; ++r) {
      if (total[r] > 0 && used_[p][r] + total[r] > m_.projects[p].limit[r]) {
        *resource = r;
        return p;
      }
    }
  }
  return -1;
}

bool Pass::WithinGuarantee(const JobInfo& job) const {
  const Res total = job.Total();
  int child = -1;
  for (int p = job.project; p >= 0; child = p, p = m_.projects[p].parent) {
    const ProjectInfo& info = m_.projects[p];
    // A sub-project without a guarantee of its own draws on its parent's uncarved guarantee.
    if (info.parent >= 0 && info.guaranteed == Res{}) continue;
    // Sub-projects' guarantees are carved out of this one: their unused parts stay reserved.
    Res reserve;
    for (int c : children_[p]) {
      if (c == child) continue;
      for (int r = 0; r < kNumResources; ++r) {
        reserve[r] += std::max<int64_t>(0, m_.projects[c].guaranteed[r] - used_[c][r]);
      }
    }
    for (int r = 0; r < kNumResources; ++r) {
      if (total[r] > 0 && used_[p][r] + total[r] + reserve[r] > info.guaranteed[r]) return false;
    }
  }
  return true;
}

bool Pass::GuaranteesAllow(const JobInfo& job, int* resource, int64_t* need, int64_t* room) const {
  // Capacity every top-level project may claim: its guarantee, or its non-preemptible usage when
  // that is larger. What is left is the capacity no guarantee needs.
  const Res total = job.Total();
  const int t = top_[job.project];
  for (int r : {kGpu, kCpu, kMemory}) {  // the scarcest first, for the message
    if (total[r] == 0) continue;
    const int64_t committed = committed_[r];
    const int64_t g = m_.projects[t].guaranteed[r];
    const int64_t extra = std::max(g, used_np_[t][r] + total[r]) - std::max(g, used_np_[t][r]);
    const int64_t left = total_capacity_[r] - committed;
    if (extra > left) {
      *resource = r;
      *need = extra;
      *room = std::max<int64_t>(0, left);
      return false;
    }
  }
  return true;
}

bool Pass::OverGuarantee(int project) const {
  for (int r = 0; r < kNumResources; ++r) {
    if (used_[project][r] > m_.projects[project].guaranteed[r]) return true;
  }
  return false;
}

double Pass::Share(int project) const {
  double share = -1e300;
  for (int r = 0; r < kNumResources; ++r) {
    if (total_capacity_[r] <= 0) continue;
    double s = static_cast<double>(used_[project][r] - m_.projects[project].guaranteed[r]) /
               static_cast<double>(total_capacity_[r]);
    share = std::max(share, s);
  }
  return share == -1e300 ? 0.0 : share;
}

// --- estimates and the head's reservation -----------------------------------------------------

void Pass::SortNodeEnds() {
  if (ends_sorted_) return;
  ends_sorted_ = true;
  for (auto& slots : on_node_) {
    std::sort(slots.begin(), slots.end(),
              [](const Slot& a, const Slot& b) { return a.end_ms < b.end_ms; });
  }
}

int64_t Pass::EarliestFit(int node, const Res& request, int* blocker) const {
  Res f = free_[node];
  *blocker = -1;
  if (request.FitsIn(f)) return m_.now_ms;
  for (const Slot& s : on_node_[node]) {
    if (preempted_[s.job]) continue;
    if (s.end_ms == kNever) break;
    f += m_.running[s.job].request;
    if (request.FitsIn(f)) {
      *blocker = s.job;
      return std::max(s.end_ms, m_.now_ms);
    }
  }
  return kNever;
}

namespace {

Res FreeAt(const Pass& pass, int node, int64_t t) {
  Res f = pass.free_[node];
  for (const Pass::Slot& s : pass.on_node_[node]) {
    if (s.end_ms > t) break;
    if (!pass.preempted_[s.job]) f += pass.m_.running[s.job].request;
  }
  return f;
}

int64_t ReplicasFitting(const Res& free, const Res& request) {
  int64_t k = kUnlimited;
  for (int r = 0; r < kNumResources; ++r) {
    if (request[r] > 0) k = std::min(k, std::max<int64_t>(0, free[r]) / request[r]);
  }
  return k;
}

}  // namespace

void Pass::Reserve(int head, int64_t* estimate, int* blocker) {
  SortNodeEnds();
  const JobInfo& job = m_.pending[head];
  struct Candidate {
    int64_t t;
    int node;
    int blocker;
  };
  std::vector<Candidate> cands;
  for (int n = 0; n < static_cast<int>(m_.nodes.size()); ++n) {
    if (reservation_.reserved[n] || !Compatible(n, job)) continue;
    int b = -1;
    int64_t t = EarliestFit(n, job.request, &b);
    if (t != kNever) cands.push_back({t, n, b});
  }
  std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    return a.t != b.t ? a.t < b.t : a.node < b.node;
  });
  int64_t placed = 0;
  size_t used = 0;
  for (; used < cands.size() && placed < job.replicas; ++used) {
    placed += std::max<int64_t>(
        1, ReplicasFitting(FreeAt(*this, cands[used].node, cands[used].t), job.request));
  }
  *estimate = -1;
  *blocker = -1;
  if (placed < job.replicas) return;  // no estimate possible: reserve nothing
  const Candidate& last = cands[used - 1];
  if (!reservation_.active) reservation_.head = head;
  reservation_.active = true;
  ++reservation_.count;
  int64_t left = job.replicas;
  for (size_t i = 0; i < used; ++i) {
    int n = cands[i].node;
    Res at = FreeAt(*this, n, last.t);
    int64_t k = std::min(left, std::max<int64_t>(1, ReplicasFitting(at, job.request)));
    left -= k;
    reservation_.reserved[n] = 1;
    reservation_.time[n] = last.t;
    reservation_.holder[n] = head;
    reservation_.slack[n] = at - job.request.Times(k);
  }
  *estimate = last.t;
  *blocker = last.blocker;
}

// --- the loop ---------------------------------------------------------------------------------

std::vector<Decision> Pass::Run() {
  std::vector<Decision> out;
  out.reserve(m_.pending.size() + 16);
  FairQueue queue(m_);
  int considered = 0;
  constexpr int kMaxReservations = 16;
  int reservations_tried = 0;

  auto wait = [&](int j, WaitInfo info) {
    Decision d;
    d.kind = Decision::kWait;
    d.job = j;
    d.wait = std::move(info);
    out.push_back(std::move(d));
  };

  for (int j = queue.Next(*this); j >= 0; j = queue.Next(*this)) {
    const JobInfo& job = m_.pending[j];
    const int shape = shape_of_[j];
    if (m_.tunables.max_jobs_per_pass > 0 && considered >= m_.tunables.max_jobs_per_pass) {
      WaitInfo w;
      w.code = WaitCode::kQueueOrder;
      w.not_considered = m_.tunables.max_jobs_per_pass;
      wait(j, std::move(w));
      continue;
    }
    ++considered;

    if (const std::string& why = Unsatisfiable(job, shape); !why.empty()) {
      WaitInfo w;
      w.code = WaitCode::kUnsatisfiable;
      w.detail = why;
      wait(j, std::move(w));
      continue;
    }
    int resource = -1;
    if (int p = LimitBlocker(job, &resource); p >= 0) {
      WaitInfo w;
      w.code = WaitCode::kProjectLimit;
      w.project = p;
      w.resource = resource;
      w.used = used_[p][resource];
      w.limit = m_.projects[p].limit[resource];
      w.need = job.Total()[resource];
      wait(j, std::move(w));
      continue;
    }
    const bool within = WithinGuarantee(job);
    bool no_room_for_firm_work = false;
    if (!job.preemptible && !within) {
      int64_t need = 0, room = 0;
      if (!GuaranteesAllow(job, &resource, &need, &room)) {
        // Guarantees are the cause only when the job would fit beside the non-preemptible work
        // were they not reserved; otherwise the cluster is simply full and it queues for room.
        int64_t firm = 0;
        for (size_t q = 0; q < m_.projects.size(); ++q) {
          if (m_.projects[q].parent < 0) firm += used_np_[q][resource];
        }
        no_room_for_firm_work = need > total_capacity_[resource] - firm;
      }
      if (!no_room_for_firm_work && !GuaranteesAllow(job, &resource, &need, &room)) {
        WaitInfo w;
        w.code = WaitCode::kReservedForGuarantees;
        w.project = job.project;
        w.resource = resource;
        w.need = need;
        w.limit = room;
        wait(j, std::move(w));
        continue;
      }
    }

    // Start it on free capacity, unless that would delay the head's reservation.
    const bool order_blocks = reservation_.active && !m_.tunables.backfill;
    if (!order_blocks && !no_room_for_firm_work) {
      const int64_t duration = job.expected_ms > 0 ? job.expected_ms : kNever;
      auto& failed = no_fit_[shape];
      if (failed.first != epoch_ || duration < failed.second) {
        if (auto placement = FindPlacement(job, /*respect_reservation=*/true)) {
          Charge(job.project, job.Total(), job.preemptible, +1);
          ++change_epoch_;
          Decision d;
          d.kind = Decision::kStart;
          d.job = j;
          d.nodes = std::move(placement->nodes);
          out.push_back(std::move(d));
          continue;
        }
        if (failed.first != epoch_) failed = {epoch_, duration};
        failed.second = std::min(failed.second, duration);
      }
    }

    // Within its guarantee: make room by preempting.
    if (within) {
      ShapeKey key = KeyOf(job, 1000 + job.project);
      auto it = no_preempt_.find(key);
      if (it == no_preempt_.end() || it->second != change_epoch_) {
        if (auto plan = PlanPreemption(job)) {
          for (int v : plan->victims) {
            Decision d;
            d.kind = Decision::kPreempt;
            d.job = v;
            d.for_job = j;
            out.push_back(std::move(d));
          }
          Charge(job.project, job.Total(), job.preemptible, +1);
          ++epoch_;
          ++change_epoch_;
          WaitInfo w;
          w.code = WaitCode::kPreempting;
          w.victims = static_cast<int>(plan->victims.size());
          w.estimated_start_ms = m_.now_ms;
          wait(j, std::move(w));
          continue;
        }
        no_preempt_[key] = change_epoch_;
      }
    }

    // Would it fit if no job held a reservation? Then the queue order is what holds it back.
    bool fits_without_reservation = false;
    if (reservation_.active) {
      auto& cached = fits_anywhere_[shape];
      if (cached.first == change_epoch_) {
        fits_without_reservation = cached.second != 0;
      } else {
        int64_t slots = 0;
        for (int n = 0; n < static_cast<int>(m_.nodes.size()) && slots < job.replicas; ++n) {
          if (job.request.FitsIn(free_[n]) && Compatible(n, job)) {
            slots += ReplicasFitting(free_[n], job.request);
          }
        }
        fits_without_reservation = slots >= job.replicas;
        cached = {change_epoch_, fits_without_reservation ? 1 : 0};
      }
    }
    // The first jobs that cannot start even ignoring reservations reserve the earliest room (only
    // the very first when backfill is off; none under first fit).
    if (!fits_without_reservation && !m_.tunables.first_fit &&
        reservations_tried < (m_.tunables.backfill ? kMaxReservations : 1)) {
      ++reservations_tried;
      WaitInfo w;
      w.code = WaitCode::kNoCapacity;
      Reserve(j, &w.estimated_start_ms, &w.blocker);
      wait(j, std::move(w));
      continue;
    }

    WaitInfo w;
    if (fits_without_reservation) {
      w.code = WaitCode::kQueueOrder;
      w.head = reservation_.head;
      w.estimated_start_ms = -1;
    } else {
      w.code = WaitCode::kNoCapacity;
      if (!estimate_done_[shape]) {
        estimate_done_[shape] = 1;
        SortNodeEnds();
        std::vector<std::pair<int64_t, int>> times;
        for (int n = 0; n < static_cast<int>(m_.nodes.size()); ++n) {
          if (!Compatible(n, job)) continue;
          int b = -1;
          int64_t t = EarliestFit(n, job.request, &b);
          if (t != kNever) times.emplace_back(t, b);
        }
        std::pair<int64_t, int> est{-1, -1};
        if (static_cast<int>(times.size()) >= job.replicas) {
          std::nth_element(times.begin(), times.begin() + (job.replicas - 1), times.end());
          est = times[job.replicas - 1];
        }
        estimates_[shape] = est;
      }
      w.estimated_start_ms = estimates_[shape].first;
      w.blocker = estimates_[shape].second;
    }
    wait(j, std::move(w));
  }
  return out;
}

std::vector<Decision> RunPass(const Model& model) { return Pass(model).Run(); }

}  // namespace mlcore::sched
