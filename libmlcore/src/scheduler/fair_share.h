// Queue order of a pass: priority (highest first), then dominant-resource fair share between
// projects (the project whose usage above its guarantee is the smallest share of the cluster
// goes first, so projects within their guarantee lead), then age (oldest submit first).
//
// Deadlines: within a priority, jobs at risk (latest start = deadline - expected duration within
// Tunables::deadline_horizon_ms of now) go first, earliest latest start first. With
// Tunables::deadline_escalation they go ahead of every priority instead.
//
// Shares change as the pass starts jobs, so the order is produced one job at a time.
#pragma once

#include <queue>
#include <vector>

#include "scheduler/model.h"

namespace mlcore::sched {

class Pass;

class FairQueue {
 public:
  explicit FairQueue(const Model& model);
  // The next pending job index in queue order, or -1 when every job was returned. `pass`
  // supplies the current shares (Pass::Share).
  int Next(const Pass& pass);

 private:
  struct Entry {
    double share;
    int64_t head_submit;
    int project;
    bool operator<(const Entry& o) const {  // std::priority_queue pops the largest
      if (share != o.share) return share > o.share;
      if (head_submit != o.head_submit) return head_submit > o.head_submit;
      return project > o.project;
    }
  };
  void StartLevel(const Pass& pass);
  bool AtRisk(const JobInfo& job) const;
  // Sorts at-risk jobs by latest start, then submit, then index.
  void SortUrgent(std::vector<int>* jobs) const;

  const Model& m_;
  std::vector<int> levels_;  // distinct priorities, highest first
  size_t level_ = 0;
  // queues_[project]: jobs of the current level, oldest first; pos_[project] is the next one.
  std::vector<std::vector<int>> by_level_project_;            // flattened per level: built lazily
  std::vector<std::vector<std::pair<int64_t, int>>> queues_;  // (submit_ms, job), oldest first
  std::vector<size_t> pos_;
  std::priority_queue<Entry> heap_;
  bool started_ = false;
  // At-risk jobs of the current level (of the whole queue under escalation), by latest start.
  std::vector<int> urgent_;
  size_t urgent_pos_ = 0;
  bool escalated_ = false;  // urgent_ holds the escalated jobs, ahead of every level
};

}  // namespace mlcore::sched
