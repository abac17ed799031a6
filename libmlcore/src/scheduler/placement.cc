// Placement: which node each replica goes to.
//
// Best fit on the job's dominant resource (the resource it needs the largest share of the cluster
// of): among the nodes with room, the one left with the least of that resource wins, so big holes
// stay whole. GPU servers are kept for GPU jobs (CPU-only jobs land there only when no CPU node
// has room) and whole free GPU servers are kept for whole-server jobs. Data and image affinity add
// their configured weights for nodes whose caches hold the job's datasets and image. Gang jobs
// place every replica or none.
#include <algorithm>

#include "scheduler/pass.h"

namespace mlcore::sched {
namespace {

constexpr double kCpuJobOnGpuServerPenalty = 4.0;
constexpr double kBreakWholeGpuServerPenalty = 1.0;

bool Contains(const std::vector<int>& sorted, int x) {
  return std::binary_search(sorted.begin(), sorted.end(), x);
}

}  // namespace

bool Pass::Compatible(int node, const JobInfo& job) const {
  const NodeInfo& n = m_.nodes[node];
  if (!n.schedulable) return false;
  if (job.gpu_model != 0 && job.request[kGpu] > 0 && n.gpu_model != job.gpu_model) return false;
  if (!job.request.FitsIn(n.capacity)) return false;
  if (job.selector != 0) {
    const auto& sel = m_.selectors[job.selector];
    if (!std::includes(n.labels.begin(), n.labels.end(), sel.begin(), sel.end())) return false;
  }
  return true;
}

const std::string& Pass::Unsatisfiable(const JobInfo& job, int shape) {
  if (unsat_done_[shape]) return unsat_[shape];
  unsat_done_[shape] = 1;
  int64_t slots = 0;
  bool any_schedulable = false, model_match = false, selector_match = false;
  Res largest;
  for (size_t n = 0; n < m_.nodes.size() && slots < job.replicas; ++n) {
    const NodeInfo& node = m_.nodes[n];
    if (!node.schedulable) continue;
    any_schedulable = true;
    if (job.gpu_model != 0 && job.request[kGpu] > 0 && node.gpu_model != job.gpu_model) continue;
    model_match = true;
    if (job.selector != 0) {
      const auto& sel = m_.selectors[job.selector];
      if (!std::includes(node.labels.begin(), node.labels.end(), sel.begin(), sel.end())) continue;
    }
    selector_match = true;
    for (int r = 0; r < kNumResources; ++r) largest[r] = std::max(largest[r], node.capacity[r]);
    if (!job.request.FitsIn(node.capacity)) continue;
    int64_t fit = kUnlimited;
    for (int r = 0; r < kNumResources; ++r) {
      if (job.request[r] > 0) fit = std::min(fit, node.capacity[r] / job.request[r]);
    }
    slots += fit;
  }
  std::string why;
  if (slots < job.replicas) {
    if (!any_schedulable) {
      why = "no schedulable node";
    } else if (!model_match) {
      why = "no schedulable node has " + m_.strings.Name(job.gpu_model) + " GPUs";
    } else if (!selector_match) {
      why = "no schedulable node carries all of its node selector labels";
    } else {
      bool fits_one = false;
      for (int r = 0; r < kNumResources; ++r) {
        if (job.request[r] > largest[r]) {
          why = "needs " + FormatAmount(r, job.request[r]) + " " + std::string(ResourceName(r)) +
                (r == kGpu ? "s" : "") + " per replica; the largest node offers " +
                FormatAmount(r, largest[r]);
          break;
        }
        fits_one = true;
      }
      if (why.empty() && fits_one) {
        why = "all nodes together hold only " + std::to_string(slots) + " of its " +
              std::to_string(job.replicas) + " replicas";
      }
    }
  }
  unsat_[shape] = std::move(why);
  return unsat_[shape];
}

std::optional<Pass::Placement> Pass::FindPlacement(const JobInfo& job, bool respect_reservation) {
  const bool use_reservation = respect_reservation && reservation_.active;
  const int64_t expected_end = job.expected_ms > 0 ? m_.now_ms + job.expected_ms : kNever;
  // Dominant resource: the largest share of the cluster this job asks for.
  int dom = kCpu;
  double dom_share = -1;
  for (int r = 0; r < kNumResources; ++r) {
    if (total_capacity_[r] <= 0 || job.request[r] <= 0) continue;
    double s = static_cast<double>(job.request[r]) / static_cast<double>(total_capacity_[r]);
    if (s > dom_share) dom_share = s, dom = r;
  }
  const bool has_affinity = (!job.datasets.empty() && m_.tunables.data_affinity_weight > 0) ||
                            (job.image != 0 && m_.tunables.image_affinity_weight > 0);
  const Res& req = job.request;

  Placement out;
  out.nodes.reserve(job.replicas);
  out.used_slack.reserve(job.replicas);
  // GPU jobs only fit GPU servers. CPU jobs look at CPU nodes first: a GPU server scores below
  // every CPU node (its penalty exceeds the affinity weights), so it is only needed when no CPU
  // node has room. First fit keeps the plain node order.
  const double max_affinity = m_.tunables.data_affinity_weight + m_.tunables.image_affinity_weight;
  const bool by_kind = !m_.tunables.first_fit && max_affinity < kCpuJobOnGpuServerPenalty - 1.1;
  std::vector<int> all;
  const std::vector<int>* first_scan = &cpu_nodes_;
  const std::vector<int>* second_scan = &gpu_nodes_;
  if (!by_kind) {
    all.resize(m_.nodes.size());
    for (size_t n = 0; n < all.size(); ++n) all[n] = static_cast<int>(n);
    first_scan = &all;
    second_scan = nullptr;
  } else if (req[kGpu] > 0) {
    first_scan = &gpu_nodes_;
    second_scan = nullptr;
  }
  for (int replica = 0; replica < job.replicas; ++replica) {
    int best = -1;
    bool best_slack = false;
    double best_score = -1e300;
    for (int scan = 0; scan < 2; ++scan) {
      const std::vector<int>* list = scan == 0 ? first_scan : second_scan;
      if (list == nullptr || (scan == 1 && best >= 0)) break;
      for (int n : *list) {
        const Res& f = free_[n];
        if (f[dom] < req[dom] || !req.FitsIn(f) || !Compatible(n, job)) continue;
        bool slack = false;
        if (use_reservation && reservation_.reserved[n] &&
            !(expected_end != kNever && expected_end <= reservation_.time[n])) {
          if (!req.FitsIn(reservation_.slack[n])) continue;
          slack = true;
        }
        if (m_.tunables.first_fit) {
          best = n, best_slack = slack;
          break;
        }
        const NodeInfo& node = m_.nodes[n];
        double cap = static_cast<double>(std::max<int64_t>(1, node.capacity[dom]));
        double score = -static_cast<double>(f[dom] - req[dom]) / cap;
        double other = 0;
        for (int r = 0; r < kNumResources; ++r) {
          if (r == dom || node.capacity[r] <= 0) continue;
          other += static_cast<double>(f[r] - req[r]) / static_cast<double>(node.capacity[r]);
        }
        score -= 0.01 * other;
        if (req[kGpu] == 0 && node.capacity[kGpu] > 0) score -= kCpuJobOnGpuServerPenalty;
        if (req[kGpu] > 0 && f[kGpu] == node.capacity[kGpu] && req[kGpu] < node.capacity[kGpu]) {
          score -= kBreakWholeGpuServerPenalty;
        }
        if (has_affinity) {
          if (!job.datasets.empty()) {
            int cached = 0;
            for (int d : job.datasets) cached += Contains(node.datasets, d) ? 1 : 0;
            score += m_.tunables.data_affinity_weight * cached /
                     static_cast<double>(job.datasets.size());
          }
          if (job.image != 0 && Contains(node.images, job.image)) {
            score += m_.tunables.image_affinity_weight;
          }
        }
        if (score > best_score) {
          best_score = score, best = n, best_slack = slack;
          // A perfect fit with nothing else to gain cannot be beaten.
          if (!has_affinity && f[dom] == req[dom] && score > -0.02) break;
        }
      }
    }
    if (best < 0) {
      // Roll back the replicas placed so far: a gang places all or none.
      for (size_t i = 0; i < out.nodes.size(); ++i) {
        free_[out.nodes[i]] += req;
        if (out.used_slack[i]) reservation_.slack[out.nodes[i]] += req;
      }
      return std::nullopt;
    }
    free_[best] -= req;
    if (best_slack) reservation_.slack[best] -= req;
    out.nodes.push_back(best);
    out.used_slack.push_back(best_slack ? 1 : 0);
  }
  return out;
}

}  // namespace mlcore::sched
