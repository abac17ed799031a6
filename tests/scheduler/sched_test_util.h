// Builders for scheduling states and lookups over decisions, shared by the scheduler tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mlcore/v1/scheduling.pb.h"
#include "scheduler/scheduler.h"

namespace mlcore::sched_test {

inline constexpr int64_t kGi = int64_t{1} << 30;

// cpus in cores, memory in GiB.
v1::Resources Res(double cpus, int64_t gib, int gpus = 0, const std::string& model = "");

struct JobSpec {
  std::string id;
  std::string project;
  v1::Resources resources;
  int replicas = 1;
  int priority = 0;
  bool preemptible = false;
  int64_t submit_s = 0;
  int64_t start_s = 0;             // running jobs
  int64_t expected_s = 0;          // 0 = unknown
  int64_t deadline_s = 0;          // absolute; 0 = none
  std::vector<std::string> nodes;  // running jobs
  std::vector<std::string> datasets;
  std::string image;
  std::map<std::string, std::string> selector;
};

class World {
 public:
  explicit World(int64_t now_s = 100000);
  World& Node(const std::string& name, const v1::Resources& capacity,
              const std::map<std::string, std::string>& labels = {},
              const std::vector<std::string>& datasets = {},
              const std::vector<std::string>& images = {}, bool schedulable = true);
  World& Project(const std::string& name, const v1::Resources& guaranteed,
                 const v1::Resources& limit, const std::string& parent = "");
  World& Running(const JobSpec& job);
  World& Pending(const JobSpec& job);

  // Runs Schedule() and keeps the decisions; fails the test on error.
  const std::vector<v1::SchedulingDecision>& Run();

  // Lookups over the last Run().
  const v1::SchedulingDecision* Find(const std::string& job_id) const;
  bool Started(const std::string& job_id) const;
  std::vector<std::string> NodesOf(const std::string& job_id) const;
  bool Preempted(const std::string& job_id) const;
  std::vector<std::string> PreemptedIds() const;
  v1::WaitReason WaitCode(const std::string& job_id) const;
  std::string WaitText(const std::string& job_id) const;

  // Applies the last decisions: preempted jobs leave, started jobs run from now.
  void Apply();

  v1::SchedulingState state;
  v1::SchedulerConfig config;
  std::vector<v1::SchedulingDecision> decisions;
};

}  // namespace mlcore::sched_test
