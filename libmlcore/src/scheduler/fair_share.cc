#include "scheduler/fair_share.h"

#include <algorithm>
#include <tuple>

#include "scheduler/pass.h"

namespace mlcore::sched {
namespace {
constexpr size_t kPrefetchAhead = 4;

// The latest start that still meets the job's deadline.
int64_t LatestStartMs(const JobInfo& job) {
  return job.deadline_ms - std::max<int64_t>(0, job.expected_ms);
}
}  // namespace

FairQueue::FairQueue(const Model& model) : m_(model) {
  escalated_ = m_.tunables.deadline_escalation && m_.tunables.deadline_horizon_ms > 0;
  levels_.reserve(8);
  for (const auto& j : m_.pending) levels_.push_back(j.priority);
  std::sort(levels_.begin(), levels_.end(), std::greater<>());
  levels_.erase(std::unique(levels_.begin(), levels_.end()), levels_.end());
  // Bucket jobs by level once: by_level_project_[level] holds job indexes of that level.
  by_level_project_.resize(levels_.size());
  if (levels_.size() == 1 && !escalated_) {
    by_level_project_[0].resize(m_.pending.size());
    for (size_t i = 0; i < m_.pending.size(); ++i) by_level_project_[0][i] = static_cast<int>(i);
  } else {
    for (size_t i = 0; i < m_.pending.size(); ++i) {
      if (escalated_ && AtRisk(m_.pending[i])) {
        urgent_.push_back(static_cast<int>(i));
        continue;
      }
      auto it = std::lower_bound(levels_.begin(), levels_.end(), m_.pending[i].priority,
                                 std::greater<>());
      by_level_project_[it - levels_.begin()].push_back(static_cast<int>(i));
    }
    SortUrgent(&urgent_);
  }
  queues_.resize(m_.projects.size());
  pos_.resize(m_.projects.size());
}

bool FairQueue::AtRisk(const JobInfo& job) const {
  if (job.deadline_ms <= 0 || m_.tunables.deadline_horizon_ms <= 0) return false;
  return LatestStartMs(job) - m_.now_ms <= m_.tunables.deadline_horizon_ms;
}

void FairQueue::SortUrgent(std::vector<int>* jobs) const {
  auto key = [&](int j) {
    const JobInfo& job = m_.pending[j];
    return std::make_tuple(LatestStartMs(job), job.submit_ms, j);
  };
  std::sort(jobs->begin(), jobs->end(), [&](int a, int b) { return key(a) < key(b); });
}

void FairQueue::StartLevel(const Pass& pass) {
  for (auto& q : queues_) q.clear();
  std::fill(pos_.begin(), pos_.end(), 0);
  heap_ = {};
  if (!escalated_) {
    urgent_.clear();
    urgent_pos_ = 0;
  }
  for (int j : by_level_project_[level_]) {
    const JobInfo& job = m_.pending[j];
    if (!escalated_ && AtRisk(job)) {
      urgent_.push_back(j);
      continue;
    }
    queues_[job.project].emplace_back(job.submit_ms, j);
  }
  if (!escalated_) SortUrgent(&urgent_);
  for (size_t p = 0; p < queues_.size(); ++p) {
    auto& q = queues_[p];
    if (q.empty()) continue;
    std::sort(q.begin(), q.end());  // by submit time, then index
    heap_.push({pass.Share(static_cast<int>(p)), q[0].first, static_cast<int>(p)});
  }
}

int FairQueue::Next(const Pass& pass) {
  if (!started_) {
    started_ = true;
    // Escalated at-risk jobs come before every level.
    if (urgent_pos_ < urgent_.size()) return urgent_[urgent_pos_++];
    if (levels_.empty()) return -1;
    StartLevel(pass);
  }
  while (true) {
    if (urgent_pos_ < urgent_.size()) return urgent_[urgent_pos_++];
    if (heap_.empty()) {
      if (++level_ >= levels_.size()) return -1;
      StartLevel(pass);
      continue;
    }
    Entry top = heap_.top();
    heap_.pop();
    double now_share = pass.Share(top.project);
    if (now_share > top.share + 1e-12) {  // started jobs since it was queued: requeue lazily
      top.share = now_share;
      heap_.push(top);
      continue;
    }
    auto& q = queues_[top.project];
    int job = q[pos_[top.project]++].second;
    // Jobs come in queue order, scattered over the pending array: fetch the records of this
    // project's next jobs ahead of time (the pass is otherwise bound by memory latency).
    if (size_t ahead = pos_[top.project] + kPrefetchAhead; ahead < q.size()) {
      const char* p = reinterpret_cast<const char*>(&m_.pending[q[ahead].second]);
      __builtin_prefetch(p);
      __builtin_prefetch(p + 64);
      __builtin_prefetch(p + sizeof(JobInfo) - 1);
    }
    if (pos_[top.project] < q.size())
      heap_.push({now_share, q[pos_[top.project]].first, top.project});
    return job;
  }
}

}  // namespace mlcore::sched
