// Benchmarks of jobs on the local backend (issue 4):
//   jobs.submit.cpp      submits/s into the local queue from C++ (N jobs that cannot start yet),
//                        durable when SubmitJob returns; context peer: Slurm's published 500/s.
//   jobs.submit.cli      the same through `mlc job submit` processes.
//   jobs.latency.cpp     submit -> RUNNING of `true` on an idle node, p50 and p99 (from the job's
//                        own events, so polling adds nothing).
//   jobs.latency.cli     the same for `mlc job submit`.
//   jobs.supervision     wall time of a command run directly vs the same command as a job
//                        (submit to SUCCEEDED); ratio = direct / under mlcore.
// Usage: jobs_bench [--tiny] [--only submit,latency,supervision] [--jobs N] [--runs N]
//                   [--mlc PATH]
// Each measurement prints one JSON line (see /work/shared/BENCHMARKS.md).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "bench_util.h"
#include "mlcore/client.h"
#include "mlcore/jobs.h"

using google::protobuf::util::TimeUtil;
using mlcore::bench::Emit;
using mlcore::bench::Line;
using mlcore::bench::Summarize;

namespace {

constexpr double kSlurmPublishedJobsPerSecond = 500;  // Slurm's High Throughput Computing guide

struct Options {
  int jobs = 10000;
  int latency_jobs = 100;
  int runs = 5;
  bool tiny = false;
  std::string mlc;
  std::set<std::string> only;
  bool Want(const std::string& name) const { return only.empty() || only.count(name) > 0; }
};

void Die(const mlcore::Status& s, const char* what) {
  std::cerr << "jobs_bench: " << what << ": " << s.ToString() << "\n";
  std::exit(1);
}

template <typename T>
T Must(mlcore::Result<T> r, const char* what) {
  if (!r.ok()) Die(r.status(), what);
  return std::move(r).value();
}

// A fresh state directory with project "bench" and a node of 4 CPUs.
struct Instance {
  std::string dir;
  std::unique_ptr<mlcore::Client> client;

  explicit Instance(const std::string& root) {
    static int counter = 0;
    dir = root + "/state-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    client = Must(mlcore::Client::Open("local://" + dir), "open");
    mlcore::v1::Project p;
    p.set_name("bench");
    p.mutable_limit()->set_cpu_millis(1000);
    Must(client->CreateProject(p), "create project");
  }
  ~Instance() {
    // Stop whatever still runs there (a holder job, pass loops) before deleting.
    std::string cmd = "pkill -KILL -f -- '--state " + dir + "' >/dev/null 2>&1";
    int ignored = std::system(cmd.c_str());
    (void)ignored;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

mlcore::v1::JobSpec Spec(const std::vector<std::string>& argv, int64_t cpu_millis = 1000) {
  mlcore::v1::JobSpec spec;
  spec.set_project("bench");
  spec.add_command(argv[0]);
  for (size_t i = 1; i < argv.size(); ++i) spec.add_args(argv[i]);
  spec.mutable_resources()->set_cpu_millis(cpu_millis);
  spec.mutable_resources()->set_memory_bytes(64 << 20);
  // Not a git repository: this measures the queue, not `git diff` (submits from a repository
  // also record its commit and dirty diff, which costs a few git processes per submit).
  spec.set_working_dir(std::filesystem::temp_directory_path().string());
  return spec;
}

double EventGapMs(const mlcore::v1::Job& job, mlcore::v1::JobState to) {
  for (const auto& e : job.events()) {
    if (e.to_state() == to) {
      return static_cast<double>(TimeUtil::DurationToMicroseconds(e.time() - job.create_time())) /
             1000.0;
    }
  }
  return -1;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t index = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(index, v.size() - 1)];
}

// Runs `mlc ARGS...` with the instance's backend; returns its stdout.
std::string RunMlc(const Options& o, const Instance& in, const std::vector<std::string>& args) {
  std::string cmd = "MLC_BACKEND=local://" + in.dir + " MLC_PROJECT=bench '" + o.mlc + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) Die(mlcore::InternalError("popen failed"), "mlc");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  if (pclose(pipe) != 0) Die(mlcore::InternalError("mlc failed: " + cmd), "mlc");
  return out;
}

void BenchSubmit(const Options& o, const std::string& root) {
  std::vector<double> cpp, cli;
  const int cli_jobs = std::max(10, o.jobs / 50);
  for (int run = 0; run < o.runs; ++run) {
    {  // C++: a holder job keeps the project at its limit, so every submit queues.
      Instance in(root);
      Must(in.client->SubmitJob(Spec({"sleep", "3600"})), "holder");
      auto spec = Spec({"true"});
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < o.jobs; ++i) Must(in.client->SubmitJob(spec), "submit");
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      cpp.push_back(o.jobs / s);
    }
    if (!o.mlc.empty()) {  // CLI: one process per submit, as a shell loop would do.
      Instance in(root);
      Must(in.client->SubmitJob(Spec({"sleep", "3600"})), "holder");
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < cli_jobs; ++i)
        RunMlc(o, in, {"job", "submit", "--resources", "cpu=1", "--", "true"});
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      cli.push_back(cli_jobs / s);
    }
  }
  auto emit = [&](const std::string& name, const std::vector<double>& values, int n,
                  const std::string& target, bool has_target) {
    auto st = Summarize(values);
    Line line;
    line.bench = name;
    line.unit = "jobs/s";
    line.value = st.median;
    line.peer = "slurm.published";
    line.peer_value = kSlurmPublishedJobsPerSecond;
    line.ratio = st.median / kSlurmPublishedJobsPerSecond;
    line.target = target;
    line.met = !has_target || st.median >= 2000;
    line.runs = st.runs;
    line.min = st.min;
    line.max = st.max;
    line.params = {{"jobs", std::to_string(n)}, {"queued", "true"}};
    Emit(line);
  };
  emit("jobs.submit.cpp", cpp, o.jobs, ">=2000 jobs/s", true);
  if (!cli.empty())
    emit("jobs.submit.cli", cli, cli_jobs, "report (one process per submit)", false);
}

void BenchLatency(const Options& o, const std::string& root) {
  std::vector<double> cpp, cli;
  for (int run = 0; run < std::max(1, o.runs / 5); ++run) {
    Instance in(root);
    // Warm-up: the first job pays for node detection and cold caches; discarded.
    Must(in.client->WaitJob(Must(in.client->SubmitJob(Spec({"true"})), "submit").id()), "wait");
    for (int i = 0; i < o.latency_jobs; ++i) {
      auto job = Must(in.client->SubmitJob(Spec({"true"})), "submit");
      auto done = Must(in.client->WaitJob(job.id(), std::chrono::milliseconds(60000)), "wait");
      cpp.push_back(EventGapMs(done, mlcore::v1::JOB_STATE_RUNNING));
    }
    if (!o.mlc.empty()) {
      for (int i = 0; i < std::max(5, o.latency_jobs / 5); ++i) {
        std::string out =
            RunMlc(o, in, {"-o", "json", "job", "submit", "--resources", "cpu=1", "--", "true"});
        auto id_pos = out.find("\"id\": \"");
        if (id_pos == std::string::npos) Die(mlcore::InternalError(out), "parse");
        std::string id = out.substr(id_pos + 7, out.find('"', id_pos + 7) - id_pos - 7);
        auto done = Must(in.client->WaitJob(id, std::chrono::milliseconds(60000)), "wait");
        cli.push_back(EventGapMs(done, mlcore::v1::JOB_STATE_RUNNING));
      }
    }
  }
  auto emit = [&](const std::string& name, const std::vector<double>& v, double p, bool target) {
    Line line;
    line.bench = name;
    line.unit = "ms";
    line.value = Percentile(v, p);
    line.target = target ? "p50 < 20 ms" : "report";
    line.met = !target || line.value < 20;
    line.runs = static_cast<int>(v.size());
    line.stat = p == 0.5 ? "p50" : "p99";
    line.min = *std::min_element(v.begin(), v.end());
    line.max = *std::max_element(v.begin(), v.end());
    line.params = {{"command", "true"}, {"warmup_discarded", "1"}};
    Emit(line);
  };
  emit("jobs.latency.cpp.p50", cpp, 0.5, true);
  emit("jobs.latency.cpp.p99", cpp, 0.99, false);
  if (!cli.empty()) {
    emit("jobs.latency.cli.p50", cli, 0.5, false);
    emit("jobs.latency.cli.p99", cli, 0.99, false);
  }
}

void BenchSupervision(const Options& o, const std::string& root) {
  const std::vector<std::string> cmd = {"sh", "-c",
                                        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"};
  std::vector<double> direct, supervised;
  Instance in(root);
  for (int run = 0; run < o.runs + 1; ++run) {  // run 0 is a discarded warm-up
    auto start = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      execlp("sh", "sh", "-c", cmd[2].c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    double d =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    auto job = Must(in.client->SubmitJob(Spec(cmd)), "submit");
    auto done = Must(in.client->WaitJob(job.id(), std::chrono::milliseconds(120000)), "wait");
    // Submit to the recorded end, from the job's own timestamps (WaitJob's polling adds nothing).
    double s = static_cast<double>(
                   TimeUtil::DurationToMicroseconds(done.end_time() - done.create_time())) /
               1000.0;
    if (done.state() != mlcore::v1::JOB_STATE_SUCCEEDED)
      Die(mlcore::InternalError(done.message()), "job");
    if (run == 0) continue;
    direct.push_back(d);
    supervised.push_back(s);
  }
  auto d = Summarize(direct);
  auto s = Summarize(supervised);
  Line line;
  line.bench = "jobs.supervision.wall";
  line.unit = "ms";
  line.value = s.median;
  line.peer = "direct.fork_exec";
  line.peer_value = d.median;
  line.ratio = d.median / s.median;
  line.target = "report: overhead = value - peer_value";
  line.met = true;
  line.runs = s.runs;
  line.min = s.min;
  line.max = s.max;
  line.params = {{"command", "sh busy loop (20000 iterations)"}, {"warmup_discarded", "1"}};
  line.extra = {{"overhead_ms", s.median - d.median}};
  Emit(line);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "jobs_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--tiny") {
      o.tiny = true;
      o.jobs = 40;
      o.latency_jobs = 5;
      o.runs = 1;
    } else if (a == "--jobs") {
      o.jobs = std::stoi(next());
    } else if (a == "--runs") {
      o.runs = std::stoi(next());
    } else if (a == "--mlc") {
      o.mlc = next();
    } else if (a == "--only") {
      std::stringstream names(next());
      for (std::string n; std::getline(names, n, ',');) o.only.insert(n);
    } else {
      std::cerr << "usage: jobs_bench [--tiny] [--only submit,latency,supervision] [--jobs N] "
                   "[--runs N] [--mlc PATH]\n";
      return 2;
    }
  }
  std::string root = std::filesystem::temp_directory_path().string() + "/mlcore-jobs-bench";
  std::filesystem::create_directories(root);
  setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0", 1);
  setenv("MLC_CONFIG", (root + "/config.yaml").c_str(), 1);
  unsetenv("MLC_BACKEND");
  unsetenv("MLC_PROJECT");
  if (o.Want("submit")) BenchSubmit(o, root);
  if (o.Want("latency")) BenchLatency(o, root);
  if (o.Want("supervision")) BenchSupervision(o, root);
  return 0;
}
