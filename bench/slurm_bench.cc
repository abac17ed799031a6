// Jobs on Slurm (issue 10), side by side on the same dev cluster (scripts/slurm-dev-cluster.sh):
// N trivial jobs (`true`, 1 CPU, 64 MiB) submitted by
//   - mlcore's slurm+http:// backend: one Client, 8 submitting threads, kept-alive connections;
//   - `sbatch` run in a loop (one process per job, as a shell script would);
//   - `curl` run per job (one process per job, POST job/submit).
// Two measurements per method: submit throughput (jobs/s until the last submit returned) and
// submit->RUNNING (ms from the first submit until Slurm reports every job started), polled through
// one GET /jobs every 50 ms, the same for all three. Runs are interleaved (ours, sbatch, curl, ...)
// and the median is reported; one warm-up run of ours is discarded.
//
//   slurm_bench --uri slurm+http://127.0.0.1:6820?user=root [--jobs 200] [--runs 3] [--tiny]
// Needs SLURM_JWT and SLURM_CONF in the environment (`slurm-dev-cluster.sh env`).
#include <fcntl.h>
#include <spawn.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sys/wait.h>
#include <thread>

#include "bench_util.h"
#include "mlcore/client.h"
#include "mlcore/uri.h"
#include "slurm/slurm_rest.h"

extern char** environ;

namespace mlcore::bench {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

int Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Waits until every Slurm job whose name starts with `prefix` has started; ms since `t0`.
double WaitAllStarted(slurm::RestClient& rest, const std::string& prefix, int n,
                      Clock::time_point t0) {
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  while (Clock::now() < deadline) {
    auto jobs = rest.Get("/jobs", "list jobs");
    if (jobs.ok()) {
      int started = 0;
      for (const auto& j : (*jobs)["jobs"]) {
        if (!j.contains("name") || !j["name"].is_string()) continue;
        if (j["name"].get<std::string>().rfind(prefix, 0) != 0) continue;
        if (j.contains("start_time") && j["start_time"].is_number() &&
            j["start_time"].get<int64_t>() > 0 && j["job_state"] != "PENDING") {
          ++started;
        }
      }
      if (started >= n) return MsSince(t0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "slurm_bench: jobs " << prefix << "* did not all start within 10 minutes\n";
  std::exit(1);
}

struct Result2 {
  double submit_per_s = 0;
  double to_running_ms = 0;
};

Result2 RunOurs(const std::string& uri, const std::string& state, const std::string& prefix, int n,
                slurm::RestClient& rest) {
  auto client = Client::Open(uri + "&state=" + state);
  if (!client.ok()) {
    std::cerr << "slurm_bench: " << client.status().ToString() << "\n";
    std::exit(1);
  }
  v1::Project p;
  p.set_name("bench");
  (void)(*client)->CreateProject(p);
  const int threads = 8;
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        v1::JobSpec spec;
        spec.set_project("bench");
        spec.set_name(prefix + std::to_string(i));
        spec.add_command("true");
        spec.set_working_dir("/tmp");
        spec.mutable_resources()->set_cpu_millis(1000);
        spec.mutable_resources()->set_memory_bytes(64LL << 20);
        auto job = (*client)->SubmitJob(spec);
        if (!job.ok()) {
          if (failed++ == 0) std::cerr << "slurm_bench: " << job.status().ToString() << "\n";
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failed > 0) std::exit(1);
  Result2 r;
  r.submit_per_s = n / (MsSince(t0) / 1000.0);
  r.to_running_ms = WaitAllStarted(rest, prefix, n, t0);
  return r;
}

Result2 RunSbatch(const std::string& prefix, int n, slurm::RestClient& rest) {
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (Spawn({"sbatch", "--parsable", "-J", prefix + std::to_string(i), "-o", "/dev/null", "-c",
               "1", "--mem=64", "-D", "/tmp", "--wrap=true"}) != 0) {
      std::cerr << "slurm_bench: sbatch failed\n";
      std::exit(1);
    }
  }
  Result2 r;
  r.submit_per_s = n / (MsSince(t0) / 1000.0);
  r.to_running_ms = WaitAllStarted(rest, prefix, n, t0);
  return r;
}

Result2 RunCurl(const std::string& base, const std::string& prefix, int n,
                slurm::RestClient& rest) {
  const std::string user = rest.user();
  const std::string token = std::getenv("SLURM_JWT") ? std::getenv("SLURM_JWT") : "";
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::string body =
        R"({"script":"#!/bin/sh\ntrue\n","job":{"name":")" + prefix + std::to_string(i) +
        R"(","environment":{"PATH":"/usr/bin:/bin"},"current_working_directory":"/tmp",)"
        R"("standard_output":"/dev/null","cpus_per_task":1,"memory_per_node":64}})";
    if (Spawn({"curl", "-sf", "-X", "POST", "-H", "X-SLURM-USER-NAME: " + user, "-H",
               "X-SLURM-USER-TOKEN: " + token, "-H", "Content-Type: application/json", "-d", body,
               base + "/slurm/v0.0.38/job/submit"}) != 0) {
      std::cerr << "slurm_bench: curl failed\n";
      std::exit(1);
    }
  }
  Result2 r;
  r.submit_per_s = n / (MsSince(t0) / 1000.0);
  r.to_running_ms = WaitAllStarted(rest, prefix, n, t0);
  return r;
}

// Cancels everything left (between runs, so each run starts on an empty cluster).
void Drain(slurm::RestClient& rest) {
  auto jobs = rest.Get("/jobs", "list jobs");
  if (!jobs.ok()) return;
  for (const auto& j : (*jobs)["jobs"]) {
    std::string state = j.value("job_state", "");
    if (state == "PENDING" || state == "RUNNING") {
      (void)rest.Delete("/job/" + std::to_string(j.value("job_id", 0)), "cancel");
    }
  }
}

}  // namespace
}  // namespace mlcore::bench

int main(int argc, char** argv) {
  using namespace mlcore::bench;
  std::string uri;
  int n = 200, runs = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--uri" && i + 1 < argc) uri = argv[++i];
    if (a == "--jobs" && i + 1 < argc) n = std::atoi(argv[++i]);
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    if (a == "--tiny") n = 5, runs = 1;
  }
  if (uri.empty()) {
    std::cerr
        << "usage: slurm_bench --uri slurm+http://HOST:PORT?user=USER [--jobs N] [--runs R]\n";
    return 2;
  }
  auto parsed = mlcore::Uri::Parse(uri);
  auto rest = mlcore::slurm::RestClient::Create(*parsed);
  if (!rest.ok()) {
    std::cerr << "slurm_bench: " << rest.status().ToString() << "\n";
    return 1;
  }
  const std::string base = "http://" + parsed->authority;
  char tmpl[] = "/tmp/mlc-slurm-bench-XXXXXX";
  std::string state = mkdtemp(tmpl);
  RunOurs(uri, state, "warm-", std::min(n, 20), **rest);  // warm-up: discarded
  Drain(**rest);
  std::vector<double> ours_s, ours_r, sb_s, sb_r, cu_s, cu_r;
  for (int run = 0; run < runs; ++run) {
    const std::string tag = std::to_string(run) + "-";
    auto o = RunOurs(uri, state, "mlc-" + tag, n, **rest);
    Drain(**rest);
    auto s = RunSbatch("sb-" + tag, n, **rest);
    Drain(**rest);
    auto c = RunCurl(base, "curl-" + tag, n, **rest);
    Drain(**rest);
    ours_s.push_back(o.submit_per_s), ours_r.push_back(o.to_running_ms);
    sb_s.push_back(s.submit_per_s), sb_r.push_back(s.to_running_ms);
    cu_s.push_back(c.submit_per_s), cu_r.push_back(c.to_running_ms);
  }
  auto emit = [&](const std::string& bench, const std::string& unit,
                  const std::vector<double>& ours, const std::string& peer,
                  const std::vector<double>& theirs, bool higher_better, const std::string& target,
                  double need) {
    Stats a = Summarize(ours), b = Summarize(theirs);
    Line line;
    line.bench = bench;
    line.unit = unit;
    line.value = a.median;
    line.min = a.min;
    line.max = a.max;
    line.runs = a.runs;
    line.peer = peer;
    line.peer_value = b.median;
    line.ratio = higher_better ? a.median / b.median : b.median / a.median;
    line.target = target;
    line.met = need <= 0 || line.ratio >= need;
    line.params = {{"jobs", std::to_string(n)}, {"threads", "8"}, {"warmup_runs", "1"}};
    Emit(line);
  };
  emit("slurm.submit", "jobs/s", ours_s, "sbatch.loop", sb_s, true, ">=2x sbatch", 2.0);
  emit("slurm.submit.vs_curl", "jobs/s", ours_s, "curl.per_job", cu_s, true, "context", 0);
  emit("slurm.to_running", "ms", ours_r, "sbatch.loop", sb_r, false, "context", 0);
  emit("slurm.to_running.vs_curl", "ms", ours_r, "curl.per_job", cu_r, false, "context", 0);
  return 0;
}
