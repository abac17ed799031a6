#include "synthetic.h"

#include <cmath>
#include <random>

#include "scheduler/flavors.h"

namespace mlcore::bench {
namespace {

constexpr int64_t kGi = int64_t{1} << 30;

struct FlavorShare {
  const char* flavor;
  double weight;
  int replicas;
};

// Mixed CPU/GPU demand; weights are fractions of jobs.
const FlavorShare kMix[] = {
    {"cpu-2-8", 0.25, 1},       {"cpu-4-16", 0.20, 1},     {"cpu-8-32", 0.12, 1},
    {"cpu-16-64", 0.06, 1},     {"mem-8-128", 0.04, 1},    {"gpu-1-12-128", 0.18, 1},
    {"gpu-2-24-256", 0.07, 1},  {"gpu-4-48-512", 0.04, 1}, {"gpu-8-96-1024", 0.03, 1},
    {"gpu-8-96-1024", 0.01, 3},
};

std::string Hex64(std::mt19937_64& rng) {
  static const char* digits = "0123456789abcdef";
  std::string s(64, '0');
  for (char& c : s) c = digits[rng() % 16];
  return s;
}

}  // namespace

v1::Resources BenchNodeCapacity() {
  v1::Resources r;
  r.set_cpu_millis(128000);
  r.set_memory_bytes(1536 * kGi);
  r.set_gpu(8);
  return r;
}

std::vector<v1::TraceRecord> GenerateTrace(const TraceParams& p) {
  std::mt19937_64 rng(p.seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::lognormal_distribution<double> cpu_minutes(std::log(15.0), 1.0);
  std::lognormal_distribution<double> gpu_minutes(std::log(30.0), 1.0);
  std::vector<std::string> datasets;
  for (int i = 0; i < 500; ++i) datasets.push_back(Hex64(rng));
  double total_weight = 0;
  for (const auto& f : kMix) total_weight += f.weight;

  // Diurnal arrivals: thinning of a Poisson process with rate peaking in the afternoon.
  const double day = 86400.0;
  const double peak_rate = 1.6 * p.jobs / day;
  std::vector<v1::TraceRecord> out;
  out.reserve(p.jobs);
  double t = 0;
  std::exponential_distribution<double> gap(peak_rate);
  while (static_cast<int>(out.size()) < p.jobs) {
    t += gap(rng);
    if (t >= day) t -= day;  // wrap: keeps exactly `jobs` jobs within the day
    const double rate = 1.0 + 0.6 * std::sin(2 * M_PI * (t - 6 * 3600) / day);
    if (uni(rng) * 1.6 > rate) continue;
    v1::TraceRecord r;
    r.set_id("job-" + std::to_string(out.size() + 1));
    r.mutable_submit_offset()->set_seconds(static_cast<int64_t>(t));
    // Zipf-like: a few users (and projects) submit most jobs.
    const int user = static_cast<int>(std::pow(uni(rng), 2.0) * p.users);
    r.set_user("user-" + std::to_string(user));
    r.set_project("project-" + std::to_string(user % p.projects));
    double pick = uni(rng) * total_weight;
    const FlavorShare* f = &kMix[0];
    for (const auto& candidate : kMix) {
      f = &candidate;
      if ((pick -= candidate.weight) <= 0) break;
    }
    r.set_flavor(f->flavor);
    r.set_replicas(f->replicas);
    const bool gpu = f->flavor[0] == 'g';
    double minutes = gpu ? gpu_minutes(rng) : cpu_minutes(rng);
    minutes = std::clamp(minutes, 1.0, gpu ? 24 * 60.0 : 12 * 60.0);
    r.mutable_duration()->set_seconds(static_cast<int64_t>(minutes * 60));
    const double pr = uni(rng);
    r.set_priority_class(pr < 0.20   ? "low"
                         : pr < 0.85 ? "normal"
                         : pr < 0.97 ? "high"
                                     : "critical");
    r.set_preemptible(pr < 0.20 || uni(rng) < 0.25);
    const int n_datasets = static_cast<int>(uni(rng) * 3);
    for (int d = 0; d < n_datasets; ++d) {
      r.add_dataset_digests(datasets[static_cast<size_t>(std::pow(uni(rng), 3.0) * 500)]);
    }
    r.set_image("registry.local/train:" + std::to_string(static_cast<int>(uni(rng) * 30)));
    if (uni(rng) < 0.9) {
      r.mutable_deadline()->set_seconds(r.duration().seconds() +
                                        static_cast<int64_t>((6 + 18 * uni(rng)) * 3600));
    }
    out.push_back(std::move(r));
  }
  return out;
}

v1::SchedulingState GeneratePassState(const PassParams& p) {
  std::mt19937_64 rng(p.seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const v1::FlavorCatalog catalog = DefaultFlavorCatalog("bench");
  v1::SchedulingState state;
  state.mutable_time()->set_seconds(1700000000);
  const int gpu_nodes = std::max(1, p.nodes / 8);
  std::vector<std::string> datasets;
  for (int i = 0; i < 200; ++i) datasets.push_back("ds-" + std::to_string(i));
  for (int n = 0; n < p.nodes; ++n) {
    auto* node = state.add_nodes();
    const bool gpu = n < gpu_nodes;
    node->set_name((gpu ? "gpu-" : "cpu-") + std::to_string(n));
    node->set_schedulable(true);
    auto* cap = node->mutable_capacity();
    cap->set_cpu_millis(gpu ? 96000 : 64000);
    cap->set_memory_bytes((gpu ? 1024 : 256) * kGi);
    cap->set_gpu(gpu ? 8 : 0);
    for (int d = 0; d < 5; ++d) node->add_cached_dataset_digests(datasets[rng() % datasets.size()]);
  }
  for (int i = 0; i < p.projects; ++i) {
    auto* proj = state.add_projects();
    proj->set_name("project-" + std::to_string(i));
    if (i % 5 == 0) {
      proj->mutable_guaranteed()->set_cpu_millis(200000);
      proj->mutable_guaranteed()->set_memory_bytes(1600 * kGi);
      proj->mutable_guaranteed()->set_gpu(8);
    }
    if (i % 3 == 0) {
      proj->mutable_limit()->set_cpu_millis(4000000);
      proj->mutable_limit()->set_memory_bytes(32000 * kGi);
      proj->mutable_limit()->set_gpu(200);
    }
  }
  const char* kFlavors[] = {"cpu-2-8",      "cpu-4-16",     "cpu-8-32",     "cpu-16-64",
                            "gpu-1-12-128", "gpu-2-24-256", "gpu-4-48-512", "gpu-8-96-1024"};
  auto fill = [&](v1::SchedulableJob* j, int id, bool running) {
    j->set_id((running ? "run-" : "job-") + std::to_string(id));
    j->set_project("project-" +
                   std::to_string(static_cast<int>(std::pow(uni(rng), 1.5) * p.projects)));
    j->set_user("user-" + std::to_string(rng() % 1000));
    const char* flavor = kFlavors[rng() % 8];
    *j->mutable_resources() = *ResolveFlavor(catalog, flavor);
    j->set_replicas(flavor[0] == 'g' && uni(rng) < 0.02 ? 2 : 1);
    j->set_priority(static_cast<int>(rng() % 4) * 10 - 10);
    j->set_preemptible(uni(rng) < 0.33);
    j->mutable_submit_time()->set_seconds(1700000000 - static_cast<int64_t>(rng() % 86400));
    j->mutable_expected_duration()->set_seconds(600 + static_cast<int64_t>(rng() % 20000));
    if (uni(rng) < 0.5) j->add_dataset_digests(datasets[rng() % datasets.size()]);
  };
  // Running jobs: fill nodes to about 60% with whole placements.
  int id = 0;
  for (int n = 0; n < p.nodes; ++n) {
    const auto& cap = state.nodes(n).capacity();
    int64_t cpu = 0, mem = 0, gpu = 0;
    for (int tries = 0; tries < 8; ++tries) {
      v1::SchedulableJob job;
      fill(&job, id, true);
      const auto& r = job.resources();
      if ((cap.gpu() == 0) != (r.gpu() == 0)) continue;
      if ((cpu + r.cpu_millis()) * 10 > cap.cpu_millis() * 6 ||
          (mem + r.memory_bytes()) * 10 > cap.memory_bytes() * 6 ||
          (gpu + r.gpu()) * 10 > cap.gpu() * 6) {
        continue;
      }
      cpu += r.cpu_millis(), mem += r.memory_bytes(), gpu += r.gpu();
      job.set_replicas(1);
      job.add_nodes(state.nodes(n).name());
      job.mutable_start_time()->set_seconds(1700000000 - static_cast<int64_t>(rng() % 3600));
      *state.add_running() = std::move(job);
      ++id;
    }
  }
  for (int i = 0; i < p.pending; ++i) fill(state.add_pending(), i, false);
  return state;
}

}  // namespace mlcore::bench
