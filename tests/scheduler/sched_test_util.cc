#include "sched_test_util.h"

#include <algorithm>
#include <cmath>

#include "unit/test_support.h"

namespace mlcore::sched_test {
namespace {

void FillJob(const JobSpec& spec, int64_t now_s, v1::SchedulableJob* job) {
  job->set_id(spec.id);
  job->set_project(spec.project);
  job->set_user("u");
  *job->mutable_resources() = spec.resources;
  job->set_replicas(spec.replicas);
  job->set_priority(spec.priority);
  job->set_preemptible(spec.preemptible);
  for (const auto& d : spec.datasets) job->add_dataset_digests(d);
  job->set_image(spec.image);
  for (const auto& [k, v] : spec.selector) (*job->mutable_node_selector())[k] = v;
  job->mutable_submit_time()->set_seconds(spec.submit_s);
  if (!spec.nodes.empty()) job->mutable_start_time()->set_seconds(spec.start_s);
  for (const auto& n : spec.nodes) job->add_nodes(n);
  job->mutable_expected_duration()->set_seconds(spec.expected_s);
  if (spec.deadline_s > 0) job->mutable_deadline_time()->set_seconds(spec.deadline_s);
  (void)now_s;
}

}  // namespace

v1::Resources Res(double cpus, int64_t gib, int gpus, const std::string& model) {
  v1::Resources r;
  r.set_cpu_millis(static_cast<int64_t>(std::llround(cpus * 1000)));
  r.set_memory_bytes(gib * kGi);
  r.set_gpu(gpus);
  r.set_gpu_model(model);
  return r;
}

World::World(int64_t now_s) { state.mutable_time()->set_seconds(now_s); }

World& World::Node(const std::string& name, const v1::Resources& capacity,
                   const std::map<std::string, std::string>& labels,
                   const std::vector<std::string>& datasets, const std::vector<std::string>& images,
                   bool schedulable) {
  auto* n = state.add_nodes();
  n->set_name(name);
  *n->mutable_capacity() = capacity;
  for (const auto& [k, v] : labels) (*n->mutable_labels())[k] = v;
  for (const auto& d : datasets) n->add_cached_dataset_digests(d);
  for (const auto& i : images) n->add_cached_images(i);
  n->set_schedulable(schedulable);
  return *this;
}

World& World::Project(const std::string& name, const v1::Resources& guaranteed,
                      const v1::Resources& limit, const std::string& parent) {
  auto* p = state.add_projects();
  p->set_name(name);
  p->set_parent(parent);
  *p->mutable_guaranteed() = guaranteed;
  *p->mutable_limit() = limit;
  return *this;
}

World& World::Running(const JobSpec& job) {
  FillJob(job, state.time().seconds(), state.add_running());
  return *this;
}

World& World::Pending(const JobSpec& job) {
  FillJob(job, state.time().seconds(), state.add_pending());
  return *this;
}

const std::vector<v1::SchedulingDecision>& World::Run() {
  auto result = Schedule(state, config);
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  decisions = std::move(result).value();
  return decisions;
}

const v1::SchedulingDecision* World::Find(const std::string& job_id) const {
  for (const auto& d : decisions) {
    if (d.job_id() == job_id && !d.has_preempt()) return &d;
  }
  return nullptr;
}

bool World::Started(const std::string& job_id) const {
  const auto* d = Find(job_id);
  return d != nullptr && d->has_start();
}

std::vector<std::string> World::NodesOf(const std::string& job_id) const {
  const auto* d = Find(job_id);
  if (d == nullptr || !d->has_start()) return {};
  return {d->start().nodes().begin(), d->start().nodes().end()};
}

bool World::Preempted(const std::string& job_id) const {
  for (const auto& d : decisions) {
    if (d.job_id() == job_id && d.has_preempt()) return true;
  }
  return false;
}

std::vector<std::string> World::PreemptedIds() const {
  std::vector<std::string> out;
  for (const auto& d : decisions) {
    if (d.has_preempt()) out.push_back(d.job_id());
  }
  std::sort(out.begin(), out.end());
  return out;
}

v1::WaitReason World::WaitCode(const std::string& job_id) const {
  const auto* d = Find(job_id);
  return d != nullptr && d->has_wait() ? d->wait().code() : v1::WAIT_REASON_UNSPECIFIED;
}

std::string World::WaitText(const std::string& job_id) const {
  const auto* d = Find(job_id);
  return d != nullptr && d->has_wait() ? d->wait().reason() : "";
}

void World::Apply() {
  v1::SchedulingState next = state;
  next.clear_running();
  next.clear_pending();
  for (const auto& r : state.running()) {
    if (!Preempted(r.id())) *next.add_running() = r;
  }
  for (const auto& p : state.pending()) {
    const auto* d = Find(p.id());
    if (d != nullptr && d->has_start()) {
      auto* r = next.add_running();
      *r = p;
      *r->mutable_start_time() = state.time();
      for (const auto& n : d->start().nodes()) r->add_nodes(n);
    } else {
      *next.add_pending() = p;
    }
  }
  state = std::move(next);
}

}  // namespace mlcore::sched_test
