// `mlc server` benchmarks (issue 8): unary rpc rate over loopback from concurrent clients, side by
// side with the same calls made in process on local:// (the engine's own ceiling: ratio = the
// share of it the server delivers; the target is absolute, >= 20,000 calls/s on 2 cores).
//   server.unary.resolve   ResolveModelUri("models:/m@champion"), calls/s over --clients
//                          concurrent clients, each with its own channel (its own connection).
//   server.unary.get_job   GetJob(id) of a finished job, calls/s, the same way.
// Every answer is checked (the alias's version, the job's id). The server is mlcore::server::Server
// in this process on 127.0.0.1:0, so client and server share the machine's 2 cores as they would
// on one host.
//
// Runs: one discarded warm-up round, then --runs rounds of --seconds each, alternating server and
// in-process (A B A B ...); the median round is reported with min and max.
//
// Usage: server_bench [--tiny] [--clients N] [--seconds S] [--runs N] [--tmp DIR]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "mlcore/client.h"
#include "mlcore/server.h"

namespace mlcore::bench {
namespace {

struct Options {
  int clients = 8;
  double seconds = 3;
  int runs = 5;
  std::string tmp;
  bool tiny = false;
};

[[noreturn]] void Die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "server_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

// Calls `call` from `clients` threads, each on its own Client of `uri`, for `seconds`; calls/s.
double Rate(const std::string& uri, int clients, double seconds,
            const std::function<bool(Client&)>& call) {
  std::vector<std::unique_ptr<Client>> opened;
  for (int i = 0; i < clients; ++i) opened.push_back(Must(Client::Open(uri), "open " + uri));
  for (auto& c : opened) {
    if (!call(*c)) Die("first call", InternalError("wrong answer"));  // connects each channel
  }
  std::atomic<bool> stop{false};
  std::atomic<long> calls{0};
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!call(*opened[i])) wrong = true;
        ++n;
      }
      calls += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (wrong) Die("benchmark", InternalError("a call returned a wrong answer"));
  return static_cast<double>(calls) / elapsed;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "server_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--tiny") {
      o.tiny = true;
      o.clients = 2;
      o.seconds = 0.2;
      o.runs = 1;
    } else if (a == "--clients") {
      o.clients = std::atoi(next().c_str());
    } else if (a == "--seconds") {
      o.seconds = std::atof(next().c_str());
    } else if (a == "--runs") {
      o.runs = std::atoi(next().c_str());
    } else if (a == "--tmp") {
      o.tmp = next();
    } else {
      std::fprintf(stderr,
                   "usage: server_bench [--tiny] [--clients N] [--seconds S] [--runs N] "
                   "[--tmp DIR]\n");
      return 2;
    }
  }
  if (o.tmp.empty()) {
    const char* env = std::getenv("BENCH_TMP");
    o.tmp = env != nullptr ? env : std::filesystem::temp_directory_path().string();
  }
  const std::string root = o.tmp + "/server-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(root + "/model");
  std::ofstream(root + "/model/weights.bin") << std::string(1024, 'w');
  setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0", 1);
  const std::string local_uri = "local://" + root + "/state";

  // Population: a project, a model with a version aliased champion, a finished job.
  {
    auto c = Must(Client::Open(local_uri), "open");
    v1::Project p;
    p.set_name("bench");
    Must(c->CreateProject(p), "create project");
    v1::RegisteredModel m;
    m.set_project("bench");
    m.set_name("m");
    Must(c->CreateRegisteredModel(m), "create model");
    v1::CreateModelVersionRequest version;
    version.set_project("bench");
    version.set_model("m");
    version.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_UPLOAD);
    version.mutable_source()->set_path(root + "/model");
    Must(c->RegisterModelVersion(version), "register version");
    v1::SetModelAliasRequest alias;
    alias.set_project("bench");
    alias.set_model("m");
    alias.set_alias("champion");
    alias.set_version(1);
    Must(c->SetModelAlias(alias), "set alias");
  }
  server::ServerOptions so;
  so.state_dir = root + "/state";
  so.insecure_local = true;
  so.listen = {"127.0.0.1:0"};
  auto srv = Must(server::Server::Start(so), "start server");
  const std::string grpc_uri = srv->uris().at(0);
  std::string job_id;
  {
    auto c = Must(Client::Open(grpc_uri), "open");
    v1::JobSpec spec;
    spec.set_project("bench");
    spec.add_command("true");
    spec.set_working_dir(root);
    job_id = Must(c->SubmitJob(spec), "submit").id();
    Must(c->WaitJob(job_id, std::chrono::seconds(60)), "wait");
  }

  auto resolve = [](Client& c) {
    v1::ResolveModelUriRequest r;
    r.set_project("bench");
    r.set_uri("models:/m@champion");
    auto v = c.ResolveModelUri(r);
    return v.ok() && v->version() == 1;
  };
  auto get_job = [&job_id](Client& c) {
    auto j = c.GetJob(job_id, v1::JOB_VIEW_BASIC);
    return j.ok() && j->id() == job_id;
  };
  struct Bench {
    const char* name;
    std::function<bool(Client&)> call;
  };
  for (const Bench& b :
       {Bench{"server.unary.resolve", resolve}, Bench{"server.unary.get_job", get_job}}) {
    Rate(grpc_uri, o.clients, o.seconds / 3, b.call);  // warm-up, discarded
    std::vector<double> ours, peer;
    for (int r = 0; r < o.runs; ++r) {
      ours.push_back(Rate(grpc_uri, o.clients, o.seconds, b.call));
      peer.push_back(Rate(local_uri, o.clients, o.seconds, b.call));
    }
    Stats s = Summarize(ours);
    Stats p = Summarize(peer);
    Line line;
    line.bench = b.name;
    line.unit = "calls/s";
    line.value = s.median;
    line.min = s.min;
    line.max = s.max;
    line.runs = s.runs;
    line.peer = "in-process local://";
    line.peer_value = p.median;
    line.ratio = p.median > 0 ? s.median / p.median : 0;
    line.target = ">=20000 calls/s";
    line.met = s.median >= 20000;
    line.params = {{"clients", std::to_string(o.clients)},
                   {"seconds_per_run", std::to_string(o.seconds)},
                   {"transport", "tcp 127.0.0.1, one channel per client"}};
    Emit(line);
  }
  srv->Shutdown(std::chrono::seconds(1));
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace mlcore::bench

int main(int argc, char** argv) { return mlcore::bench::Main(argc, argv); }
