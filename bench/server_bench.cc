// `mlc server` benchmarks (issue 8): unary rpc rate over loopback from concurrent clients, side by
// side with the same calls made in process on local:// (the engine's own ceiling: ratio = the
// share of it the server delivers; the target is absolute, >= 20,000 calls/s on 2 cores).
//   server.unary.resolve   ResolveModelUri("models:/m@champion"), calls/s over --clients
//                          concurrent clients, each with its own channel (gRPC's subchannel pool
//                          puts a process's channels to one target on one connection).
//   server.unary.get_job   GetJob(id) of a finished job, calls/s, the same way.
//                          Each unary line also gives the CPU per call (median over the runs) of
//                          the whole process and of the client threads alone: on a machine shared
//                          with other work the rate follows the CPU share the process gets.
//   server.unary.*_auth    the same two on a server checking tokens and roles (a viewer's token),
//                          side by side with the same server without auth.
//   server.unary.*_split_cores
//                          resolve and get_job again with the server process pinned to one core
//                          and this process (the clients) to the others (with --mlc, on 2+
//                          cores): what the two sides competing for the same cores costs.
//                          Reported, no target.
//                          With --mlc PATH the unary lines call `mlc server` processes of that
//                          binary (what users run) and also give the server's CPU per call.
//   server.http.list_jobs  ListJobs of a project's 20 jobs (basic view) as HTTP/JSON
//                          (`GET /api/v1/projects/bench/jobs`, a keep-alive connection per
//                          client, the JSON parsed and counted) vs the same call over gRPC
//                          (grpc://, Client::ListJobs), calls/s from --clients clients.
//   server.ingest.stream   metric points/s durable through the tracking buffer (RunLogger, the
//                          run ended: Close returned) over the grpc:// backend's IngestMetrics
//                          stream, --keys x --steps points logged with LogSeries in chunks of
//                          10,000 per key; peer: the same on local:// in process. The points are
//                          counted on the server after each run.
//   server.artifact.upload_1g / download_1g
//                          LogArtifact / DownloadArtifact of one --artifact-mib file (1 GiB) over
//                          grpc:// (blobs streamed, digest verified on both ends) vs the same on
//                          local:// in process; MiB/s. Uploads go to a fresh store each run (a
//                          fresh server for grpc://), so nothing is deduplicated, and the grpc://
//                          client gets a fresh digest cache, so it reads the file as new content;
//                          downloads go to a fresh directory each run.
//   server.artifact.upload_1g_cached
//                          the same upload to a fresh server by a client whose digest cache knows
//                          the file (uploaded before): no hashing pass, the server verifies.
//   server.tracking_server MLflow's tracking server over HTTP (`mlflow server`, sqlite store,
//                          MlflowClient.log_batch of 1,000 metrics per call; bench/
//                          server_bench_mlflow.py as a child, --peer PYTHON --peer-script PATH)
//                          vs `mlc server` over gRPC (RunLogger), the same --peer-keys x
//                          --peer-steps workload, points/s durable.
// Every answer is checked (the alias's version, the job's id, the points' count, the bytes'
// digest). The server is an `mlc server` process for the unary lines with --mlc, otherwise
// mlcore::server::Server in this process, on 127.0.0.1:0: client and server share the machine's
// 2 cores as they would on one host.
//
// Runs: one discarded warm-up round, then --runs rounds (--artifact-runs for the 1 GiB transfers),
// alternating server and peer (A B A B ...); the median round is reported with min and max.
//
// Usage: server_bench [--tiny] [--only unary,http,ingest,artifact,tracking_server] [--clients N]
//                     [--seconds S] [--runs N] [--keys K] [--steps S] [--artifact-mib N]
//                     [--artifact-runs N] [--peer PYTHON --peer-script PATH] [--peer-keys K]
//                     [--peer-steps S] [--tmp DIR] [--mlc PATH]
#include <httplib.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "mlcore/client.h"
#include "mlcore/server.h"
#include "mlcore/tracking.h"
#include "peer_process.h"
#include "server_process.h"

namespace mlcore::bench {
namespace {

using json = nlohmann::json;

struct Options {
  int clients = 8;
  double seconds = 3;
  int runs = 5;
  std::string tmp;
  bool tiny = false;
  std::string only = "unary,http,ingest,artifact,tracking_server";
  int keys = 10;
  int steps = 200000;
  int artifact_mib = 1024;
  int artifact_runs = 3;
  std::string peer_python, peer_script;
  int peer_keys = 10;
  int peer_steps = 2000;
  std::string mlc;  // the `mlc` binary serving the unary benches; empty: the server in process
  bool Wants(const std::string& name) const {
    return ("," + only + ",").find("," + name + ",") != std::string::npos;
  }
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

// CPU seconds used so far by the whole process / by the calling thread.
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// One round of calls: the rate, and where the CPU went per call.
struct RateRound {
  double calls_per_s = 0;
  double cpu_us_per_call = 0;         // the whole process: clients, server, gRPC's threads
  double client_cpu_us_per_call = 0;  // the client threads alone (the call, as the caller pays)
  double server_cpu_us_per_call = 0;  // the `mlc server` process, when the server is one
};

// Calls `call` from `clients` threads, each on its own connection made by `open`, for `seconds`.
template <typename Connection>
RateRound RateOf(int clients, double seconds,
                 const std::function<std::unique_ptr<Connection>()>& open,
                 const std::function<bool(Connection&)>& call,
                 const std::function<double()>& server_cpu = {}) {
  std::vector<std::unique_ptr<Connection>> opened;
  opened.reserve(static_cast<size_t>(clients));
  for (int i = 0; i < clients; ++i) opened.push_back(open());
  for (auto& c : opened) {
    if (!call(*c)) Die("first call", InternalError("wrong answer"));  // connects each channel
  }
  std::atomic<bool> stop{false};
  std::atomic<long> calls{0};
  std::atomic<bool> wrong{false};
  std::mutex mu;
  double client_cpu = 0;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(clients));
  const double cpu_start = ProcessCpuSeconds();
  const double server_cpu_start = server_cpu ? server_cpu() : 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      const double thread_start = ThreadCpuSeconds();
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!call(*opened[i])) wrong = true;
        ++n;
      }
      calls += n;
      std::lock_guard lock(mu);
      client_cpu += ThreadCpuSeconds() - thread_start;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double server_cpu_used = server_cpu ? server_cpu() - server_cpu_start : 0.0;
  const double cpu = ProcessCpuSeconds() - cpu_start + server_cpu_used;
  if (wrong) Die("benchmark", InternalError("a call returned a wrong answer"));
  RateRound round;
  round.calls_per_s = static_cast<double>(calls) / elapsed;
  round.cpu_us_per_call = calls > 0 ? cpu * 1e6 / static_cast<double>(calls) : 0;
  round.client_cpu_us_per_call = calls > 0 ? client_cpu * 1e6 / static_cast<double>(calls) : 0;
  round.server_cpu_us_per_call = calls > 0 ? server_cpu_used * 1e6 / static_cast<double>(calls) : 0;
  return round;
}

// Calls `call` from `clients` threads, each on its own Client of `uri`, for `seconds`.
RateRound Rate(const std::string& uri, int clients, double seconds,
               const std::function<bool(Client&)>& call,
               const std::function<double()>& server_cpu = {}) {
  return RateOf<Client>(
      clients, seconds, [&] { return Must(Client::Open(uri), "open " + uri); }, call, server_cpu);
}

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Logs keys x steps points to a new run of project "bench" through a RunLogger on `client` and
// ends the run (durable when Close returns); points/s. The count is checked on the backend.
double IngestRate(Client& client, int keys, int steps) {
  v1::CreateRunRequest create;
  create.mutable_run()->set_project("bench");
  create.mutable_run()->set_name("ingest");
  const v1::Run run = Must(client.CreateRun(create), "create run");
  constexpr int kChunk = 10000;
  std::vector<int64_t> step_column(static_cast<size_t>(steps));
  std::vector<double> values(static_cast<size_t>(steps));
  for (int i = 0; i < steps; ++i) {
    step_column[static_cast<size_t>(i)] = i;
    values[static_cast<size_t>(i)] = 1.0 / (1 + i);
  }
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(keys));
  for (int k = 0; k < keys; ++k) names.push_back("m" + std::to_string(k));
  const auto start = Clock::now();
  auto logger = Must(RunLogger::Attach(client, run.id()), "attach");
  for (int at = 0; at < steps; at += kChunk) {
    const size_t n = static_cast<size_t>(std::min(kChunk, steps - at));
    for (const std::string& key : names) {
      Status s = logger->LogSeries(key, step_column.data() + at, values.data() + at, n);
      if (!s.ok()) Die("log", s);
    }
  }
  Status closed = logger->Close(v1::RUN_STATUS_FINISHED);
  const double seconds = Since(start);
  if (!closed.ok()) Die("close", closed);
  const uint64_t points = static_cast<uint64_t>(keys) * static_cast<uint64_t>(steps);
  if (logger->stats().points_written != points) {
    Die("ingest", InternalError(std::to_string(logger->stats().points_written) + " of " +
                                std::to_string(points) + " points acknowledged"));
  }
  v1::GetMetricHistoryRequest history;
  history.set_run_id(run.id());
  history.set_key(names.back());
  history.set_page_size(steps);
  auto series = Must(client.GetMetricHistory(history), "read back");
  if (series.series().steps_size() != steps) Die("read back", InternalError("points missing"));
  return static_cast<double>(points) / seconds;
}

// A file of `mib` MiB of pseudo-random bytes (incompressible, so no layer gets it for free).
void WritePayload(const std::string& path, int mib, uint64_t seed) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<uint64_t> block((size_t{1} << 20) / sizeof(uint64_t));
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (int m = 0; m < mib; ++m) {
    for (auto& w : block) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    out.write(reinterpret_cast<const char*>(block.data()),
              static_cast<std::streamsize>(block.size() * sizeof(uint64_t)));
  }
  if (!out) Die("write " + path, InternalError("short write"));
}

// A project "bench" and a run in it on `client`; the run as an artifact owner.
v1::ObjectRef BenchRun(Client& client) {
  auto project = client.GetProject("bench");
  if (!project.ok()) {
    v1::Project p;
    p.set_name("bench");
    Must(client.CreateProject(p), "create project");
  }
  v1::CreateRunRequest create;
  create.mutable_run()->set_project("bench");
  create.mutable_run()->set_name("artifacts");
  v1::ObjectRef owner;
  owner.set_kind(v1::OBJECT_KIND_RUN);
  owner.set_id(Must(client.CreateRun(create), "create run").id());
  return owner;
}

std::unique_ptr<server::Server> StartServer(const std::string& state_dir) {
  server::ServerOptions so;
  so.state_dir = state_dir;
  so.insecure_local = true;
  so.listen = {"127.0.0.1:0"};
  return Must(server::Server::Start(so), "start server on " + state_dir);
}

Line Compare(const char* bench, const char* unit, const std::vector<double>& ours,
             const std::vector<double>& peer, const std::string& peer_name) {
  Stats s = Summarize(ours);
  Stats p = Summarize(peer);
  Line line;
  line.bench = bench;
  line.unit = unit;
  line.value = s.median;
  line.min = s.min;
  line.max = s.max;
  line.runs = s.runs;
  line.peer = peer_name;
  line.peer_value = p.median;
  line.ratio = p.median > 0 ? s.median / p.median : 0;
  line.extra["peer_min"] = p.min;
  line.extra["peer_max"] = p.max;
  return line;
}

// HTTP/JSON vs gRPC for the same job listing (server.http.list_jobs).
void HttpBench(const Options& o, const std::string& http_url, const std::string& grpc_uri,
               int jobs) {
  const std::string path = "/api/v1/projects/bench/jobs?view=JOB_VIEW_BASIC&pageSize=100";
  auto open_http = [&] {
    auto c = std::make_unique<httplib::Client>(http_url);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    return c;
  };
  std::function<bool(httplib::Client&)> http_call = [&](httplib::Client& c) {
    auto res = c.Get(path);
    if (!res || res->status != 200) return false;
    const json body = json::parse(res->body, nullptr, false);
    return body.is_object() && body["jobs"].size() == static_cast<size_t>(jobs);
  };
  std::function<bool(Client&)> grpc_call = [&](Client& c) {
    v1::ListJobsRequest r;
    r.set_project("bench");
    r.set_view(v1::JOB_VIEW_BASIC);
    r.set_page_size(100);
    auto listed = c.ListJobs(r);
    return listed.ok() && listed->jobs_size() == jobs;
  };
  std::function<std::unique_ptr<httplib::Client>()> open = open_http;
  RateOf<httplib::Client>(o.clients, o.seconds / 3, open, http_call);  // warm-up, discarded
  std::vector<double> ours, peer, cpu, peer_cpu;
  for (int r = 0; r < o.runs; ++r) {
    RateRound a = RateOf<httplib::Client>(o.clients, o.seconds, open, http_call);
    RateRound b = Rate(grpc_uri, o.clients, o.seconds, grpc_call);
    ours.push_back(a.calls_per_s);
    cpu.push_back(a.cpu_us_per_call);
    peer.push_back(b.calls_per_s);
    peer_cpu.push_back(b.cpu_us_per_call);
  }
  Line line = Compare("server.http.list_jobs", "calls/s", ours, peer, "the same call over gRPC");
  line.extra["cpu_us_per_call"] = Summarize(cpu).median;
  line.extra["peer_cpu_us_per_call"] = Summarize(peer_cpu).median;
  line.params = {{"clients", std::to_string(o.clients)},
                 {"jobs_listed", std::to_string(jobs)},
                 {"seconds_per_run", std::to_string(o.seconds)},
                 {"transport", "tcp 127.0.0.1, HTTP/1.1 keep-alive per client vs gRPC"}};
  Emit(line);
}

void IngestBench(const Options& o, const std::string& grpc_uri, const std::string& local_uri) {
  auto remote = Must(Client::Open(grpc_uri), "open " + grpc_uri);
  auto local = Must(Client::Open(local_uri), "open " + local_uri);
  IngestRate(*remote, o.keys, std::max(1, o.steps / 4));  // warm-up, discarded
  IngestRate(*local, o.keys, std::max(1, o.steps / 4));
  std::vector<double> ours, peer;
  for (int r = 0; r < o.runs; ++r) {
    ours.push_back(IngestRate(*remote, o.keys, o.steps));
    peer.push_back(IngestRate(*local, o.keys, o.steps));
  }
  Line line = Compare("server.ingest.stream", "points/s", ours, peer, "in-process local://");
  line.target = ">=1000000 points/s";
  line.met = line.value >= 1e6;
  line.params = {{"keys", std::to_string(o.keys)},
                 {"steps", std::to_string(o.steps)},
                 {"ours", "RunLogger over grpc:// (IngestMetrics stream), LogSeries, to Close"},
                 {"transport", "tcp 127.0.0.1"}};
  Emit(line);
}

void ArtifactBench(const Options& o, const std::string& root) {
  const std::string payload = root + "/payload/weights.bin";
  std::filesystem::create_directories(root + "/payload");
  WritePayload(payload, o.artifact_mib, 1);
  // Written "earlier": out of the digest cache's racy window, so a cached digest is trusted.
  const auto written = std::filesystem::last_write_time(payload);
  std::filesystem::last_write_time(payload, written - std::chrono::hours(1));
  const double mib = o.artifact_mib;
  int fresh = 0;
  // Upload: a fresh store (and for grpc://, a fresh server) per run; the client's digest cache is
  // fresh too unless `cached` (then it is one shared cache, warmed by the first upload).
  auto upload_grpc = [&](bool cached) {
    const std::string state = root + "/up-grpc-" + std::to_string(++fresh);
    setenv("MLC_DIGEST_CACHE", (cached ? root + "/digests-warm.db" : state + "-digests.db").c_str(),
           1);
    auto srv = StartServer(state);
    auto c = Must(Client::Open(srv->uris().at(0)), "open");
    const v1::ObjectRef owner = BenchRun(*c);
    if (!o.tiny) SyncFs(root);  // no run pays for the previous one's writeback
    const auto start = Clock::now();
    auto a = Must(c->LogArtifact(owner, payload, "weights"), "upload over grpc");
    const double seconds = Since(start);
    if (a.size_bytes() != static_cast<int64_t>(o.artifact_mib) << 20) {
      Die("upload", InternalError("artifact has the wrong size"));
    }
    c.reset();
    srv->Shutdown(std::chrono::seconds(1));
    std::filesystem::remove_all(state);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(state + "-digests.db" + suffix);
    }
    return mib / seconds;
  };
  auto upload_local = [&] {
    const std::string state = root + "/up-local-" + std::to_string(++fresh);
    auto c = Must(Client::Open("local://" + state), "open");
    const v1::ObjectRef owner = BenchRun(*c);
    if (!o.tiny) SyncFs(root);  // no run pays for the previous one's writeback
    const auto start = Clock::now();
    auto a = Must(c->LogArtifact(owner, payload, "weights"), "upload locally");
    const double seconds = Since(start);
    if (a.size_bytes() != static_cast<int64_t>(o.artifact_mib) << 20) {
      Die("upload", InternalError("artifact has the wrong size"));
    }
    c.reset();
    std::filesystem::remove_all(state);
    return mib / seconds;
  };
  std::vector<double> ours, ours_cached, peer;
  const bool uploads = o.Wants("artifact") || o.Wants("artifact_upload");
  if (uploads) {
    upload_grpc(false);  // warm-up, discarded
    upload_grpc(true);   // also warms the shared digest cache
    upload_local();
  }
  for (int r = 0; r < o.artifact_runs && uploads; ++r) {
    ours.push_back(upload_grpc(false));
    peer.push_back(upload_local());
    ours_cached.push_back(upload_grpc(true));
  }
  setenv("MLC_DIGEST_CACHE", "off", 1);  // the download side's uploads: leave no cache behind
  if (!ours.empty()) {
    Line up = Compare("server.artifact.upload_1g", "MiB/s", ours, peer, "LogArtifact on local://");
    up.target = ">=0.7x local";
    up.met = up.ratio >= 0.7;
    up.params = {{"mib", std::to_string(o.artifact_mib)},
                 {"ours",
                  "LogArtifact over grpc:// (new content: UploadBlob while hashing, server's "
                  "digest checked, manifest)"},
                 {"stores", "fresh per run, digest cache too"}};
    Emit(up);
    Line cached = Compare("server.artifact.upload_1g_cached", "MiB/s", ours_cached, peer,
                          "LogArtifact on local://");
    cached.target = "report";
    cached.params = {{"mib", std::to_string(o.artifact_mib)},
                     {"ours",
                      "LogArtifact over grpc:// (digest from the client's cache, "
                      "FindMissingBlobs, UploadBlob verified by the server, manifest)"},
                     {"stores", "fresh server per run, digest cache warm"}};
    Emit(cached);
  }
  if (!o.Wants("artifact") && !o.Wants("artifact_download")) {
    std::filesystem::remove_all(root + "/payload");
    return;
  }

  // Download: one stored copy on each side, a fresh destination per run.
  const std::string grpc_state = root + "/down-grpc";
  const std::string local_state = root + "/down-local";
  auto srv = StartServer(grpc_state);
  auto remote = Must(Client::Open(srv->uris().at(0)), "open");
  auto local = Must(Client::Open("local://" + local_state), "open");
  const std::string remote_id =
      Must(remote->LogArtifact(BenchRun(*remote), payload, "weights"), "upload").id();
  const std::string local_id =
      Must(local->LogArtifact(BenchRun(*local), payload, "weights"), "upload").id();
  auto download = [&](Client& c, const std::string& id) {
    const std::string dest = root + "/dest-" + std::to_string(++fresh);
    const auto start = Clock::now();
    auto m = Must(c.DownloadArtifact(id, dest), "download");
    const double seconds = Since(start);
    if (m.entries_size() != 1 || std::filesystem::file_size(dest + "/" + m.entries(0).path()) !=
                                     static_cast<uintmax_t>(o.artifact_mib) << 20) {
      Die("download", InternalError("downloaded tree is wrong"));
    }
    std::filesystem::remove_all(dest);
    return mib / seconds;
  };
  download(*remote, remote_id);  // warm-up, discarded
  download(*local, local_id);
  ours.clear();
  peer.clear();
  for (int r = 0; r < o.artifact_runs; ++r) {
    ours.push_back(download(*remote, remote_id));
    peer.push_back(download(*local, local_id));
  }
  Line down =
      Compare("server.artifact.download_1g", "MiB/s", ours, peer, "DownloadArtifact on local://");
  down.target = ">=0.7x local";
  down.met = down.ratio >= 0.7;
  down.params = {{"mib", std::to_string(o.artifact_mib)},
                 {"ours", "DownloadArtifact over grpc:// (DownloadBlob, verified, renamed)"}};
  Emit(down);
  remote.reset();
  srv->Shutdown(std::chrono::seconds(1));
  std::filesystem::remove_all(grpc_state);
  std::filesystem::remove_all(local_state);
  std::filesystem::remove_all(root + "/payload");
}

// Points/s of one `log` command of bench/server_bench_mlflow.py.
double PeerLog(PeerProcess& mlflow, int keys, int steps) {
  json r = mlflow.Call(json{{"op", "log"}, {"keys", keys}, {"steps", steps}}, "log");
  return r.at("points").get<double>() / r.at("seconds").get<double>();
}

void TrackingServerBench(const Options& o, const std::string& grpc_uri, PeerProcess& mlflow) {
  auto remote = Must(Client::Open(grpc_uri), "open " + grpc_uri);
  IngestRate(*remote, o.peer_keys, o.peer_steps);  // warm-up, discarded
  PeerLog(mlflow, o.peer_keys, o.peer_steps);
  std::vector<double> ours, peer;
  for (int r = 0; r < o.runs; ++r) {
    ours.push_back(IngestRate(*remote, o.peer_keys, o.peer_steps));
    peer.push_back(PeerLog(mlflow, o.peer_keys, o.peer_steps));
  }
  Line line = Compare(
      "server.tracking_server", "points/s", ours, peer,
      "mlflow server " + mlflow.ready().value("mlflow", std::string("?")) + " over HTTP, sqlite");
  line.target = ">=1x peer";
  line.met = line.ratio >= 1;
  line.params = {{"keys", std::to_string(o.peer_keys)},
                 {"steps", std::to_string(o.peer_steps)},
                 {"ours", "RunLogger over grpc:// to mlc server, to Close"},
                 {"peer_client", "MlflowClient.log_batch, 1000 metrics per call"},
                 {"peer_startup_s", mlflow.ready().value("startup_s", json(0)).dump()}};
  Emit(line);
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
      o.keys = 2;
      o.steps = 5000;
      o.artifact_mib = 8;
      o.artifact_runs = 1;
      o.peer_keys = 2;
      o.peer_steps = 100;
    } else if (a == "--only") {
      o.only = next();
    } else if (a == "--keys") {
      o.keys = std::atoi(next().c_str());
    } else if (a == "--steps") {
      o.steps = std::atoi(next().c_str());
    } else if (a == "--artifact-mib") {
      o.artifact_mib = std::atoi(next().c_str());
    } else if (a == "--artifact-runs") {
      o.artifact_runs = std::atoi(next().c_str());
    } else if (a == "--peer") {
      o.peer_python = next();
    } else if (a == "--peer-script") {
      o.peer_script = next();
    } else if (a == "--peer-keys") {
      o.peer_keys = std::atoi(next().c_str());
    } else if (a == "--peer-steps") {
      o.peer_steps = std::atoi(next().c_str());
    } else if (a == "--clients") {
      o.clients = std::atoi(next().c_str());
    } else if (a == "--seconds") {
      o.seconds = std::atof(next().c_str());
    } else if (a == "--runs") {
      o.runs = std::atoi(next().c_str());
    } else if (a == "--tmp") {
      o.tmp = next();
    } else if (a == "--mlc") {
      o.mlc = next();
    } else {
      std::fprintf(
          stderr,
          "usage: server_bench [--tiny] [--only unary,http,ingest,artifact,tracking_server]\n"
          "                    [--clients N] [--seconds S] [--runs N] [--keys K]\n"
          "                    [--steps S] [--artifact-mib N] [--artifact-runs N]\n"
          "                    [--peer PYTHON --peer-script PATH] [--peer-keys K]\n"
          "                    [--peer-steps S] [--tmp DIR] [--mlc PATH]\n");
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
  // MLflow's server first: the peer is forked before this process has any gRPC thread.
  PeerProcess mlflow([](const std::string& message) { Die("peer", InternalError(message)); });
  const bool tracking_server = o.Wants("tracking_server") && !o.peer_python.empty();
  if (o.Wants("tracking_server") && o.peer_python.empty()) {
    std::fprintf(stderr, "server_bench: server.tracking_server skipped (no --peer PYTHON)\n");
  }
  if (tracking_server) {
    mlflow.Start({o.peer_python, o.peer_script, "--store", root + "/mlflow"});
  }

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
  so.http_listen = "127.0.0.1:0";
  // With --mlc, the unary benches call an `mlc server` process (the binary a user runs), and
  // the server in this process starts after them: a client process has no server threads of
  // its own polling its sockets.
  std::unique_ptr<ServerProcess> unary_process;
  if (!o.mlc.empty() && o.Wants("unary")) {
    unary_process = Must(ServerProcess::Start(o.mlc, so.state_dir, true), "start mlc server");
  }
  std::unique_ptr<server::Server> srv;
  auto start_srv = [&] {
    if (!srv) srv = Must(server::Server::Start(so), "start server");
    return srv->uris().at(0);
  };
  std::string grpc_uri = unary_process ? unary_process->uri() : start_srv();
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
  std::vector<Bench> unary;
  if (o.Wants("unary")) {
    unary = {Bench{"server.unary.resolve", resolve}, Bench{"server.unary.get_job", get_job}};
  }
  // One unary bench: `ours` against `peer`, alternating runs after a discarded warm-up.
  auto unary_bench = [&](const std::string& name, const Bench& b, const std::string& ours_uri,
                         const std::string& peer_uri, const std::string& peer_name,
                         std::map<std::string, std::string> params,
                         const std::function<double()>& ours_cpu,
                         const std::function<double()>& peer_cpu_of, bool target = true) {
    Rate(ours_uri, o.clients, o.seconds / 3, b.call, ours_cpu);  // warm-up, discarded
    std::vector<double> ours, peer, cpu, client_cpu, server_cpu, peer_cpu;
    for (int r = 0; r < o.runs; ++r) {
      RateRound a = Rate(ours_uri, o.clients, o.seconds, b.call, ours_cpu);
      server_cpu.push_back(a.server_cpu_us_per_call);
      RateRound p = Rate(peer_uri, o.clients, o.seconds, b.call, peer_cpu_of);
      ours.push_back(a.calls_per_s);
      cpu.push_back(a.cpu_us_per_call);
      client_cpu.push_back(a.client_cpu_us_per_call);
      peer.push_back(p.calls_per_s);
      peer_cpu.push_back(p.cpu_us_per_call);
    }
    Line line = Compare(name.c_str(), "calls/s", ours, peer, peer_name);
    // CPU per call (medians over the runs): what bounds the rate on a busy or small machine.
    line.extra["cpu_us_per_call"] = Summarize(cpu).median;
    line.extra["client_thread_cpu_us_per_call"] = Summarize(client_cpu).median;
    if (ours_cpu) line.extra["server_process_cpu_us_per_call"] = Summarize(server_cpu).median;
    line.extra["peer_cpu_us_per_call"] = Summarize(peer_cpu).median;
    line.target = target ? ">=20000 calls/s" : "report";
    line.met = target && line.value >= 20000;
    params["clients"] = std::to_string(o.clients);
    params["server"] = ours_cpu ? "an `mlc server` process" : "in the benchmark's process";
    params["transport"] = "tcp 127.0.0.1, a channel per client, one shared connection";
    line.params = std::move(params);
    Emit(line);
  };
  const std::string unary_uri = grpc_uri;
  std::function<double()> unary_cpu;
  if (unary_process) unary_cpu = [&] { return unary_process->CpuSeconds(); };
  for (const Bench& b : unary) {
    unary_bench(b.name, b, unary_uri, local_uri, "in-process local://",
                {{"seconds_per_run", std::to_string(o.seconds)}}, unary_cpu, {});
  }
  // The same calls with the server process on a core of its own and the clients on the others:
  // how much of a call's CPU is the two sides competing for the same cores (wake-ups across
  // cores, preemption) rather than the work itself.
  cpu_set_t all_cpus;
  CPU_ZERO(&all_cpus);
  sched_getaffinity(0, sizeof all_cpus, &all_cpus);
  if (unary_process && CPU_COUNT(&all_cpus) >= 2) {
    int last = 0;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &all_cpus)) last = c;
    }
    cpu_set_t server_cpus, client_cpus = all_cpus;
    CPU_ZERO(&server_cpus);
    CPU_SET(last, &server_cpus);
    CPU_CLR(last, &client_cpus);
    PinThreads(unary_process->pid(), server_cpus);
    PinThreads(0, client_cpus);
    for (const Bench& b : unary) {
      unary_bench(std::string(b.name) + "_split_cores", b, unary_uri, local_uri,
                  "in-process local:// (on the clients' cores)",
                  {{"layout", "server process on core " + std::to_string(last) +
                                  ", client process on the other cores"}},
                  unary_cpu, {}, false);
    }
    PinThreads(unary_process->pid(), all_cpus);
    PinThreads(0, all_cpus);
  }
  if (!unary.empty()) {
    // The same calls on a server that checks tokens and roles (same state directory), by a user
    // holding the viewer role: the cost of authentication and authorization per call.
    server::ServerOptions auth = so;
    auth.insecure_local = false;
    v1::User admin;
    admin.set_name("bench-admin");
    admin.set_admin(true);
    Must(server::AddUser(auth.state_dir, admin), "add admin");
    v1::User viewer;
    viewer.set_name("bench-viewer");
    Must(server::AddUser(auth.state_dir, viewer), "add viewer");
    std::unique_ptr<server::Server> auth_srv;
    std::unique_ptr<ServerProcess> auth_process;
    std::function<double()> auth_cpu;
    if (unary_process) {
      auth_process = Must(ServerProcess::Start(o.mlc, auth.state_dir, false), "start mlc server");
      auth_cpu = [&] { return auth_process->CpuSeconds(); };
    } else {
      auth_srv = Must(server::Server::Start(auth), "start auth server");
    }
    const std::string auth_base = auth_process ? auth_process->uri() : auth_srv->uris().at(0);
    {
      auto secret =
          Must(server::MintToken(auth.state_dir, "bench-admin", "bench", std::chrono::seconds(0)),
               "mint")
              .secret();
      auto c = Must(Client::Open(auth_base + "?token=" + secret), "open as admin");
      v1::GrantRoleRequest g;
      g.set_project("bench");
      g.set_user("bench-viewer");
      g.set_role(v1::ROLE_VIEWER);
      Must(c->GrantRole(g), "grant viewer");
    }
    const std::string auth_uri =
        auth_base + "?token=" +
        Must(server::MintToken(auth.state_dir, "bench-viewer", "bench", std::chrono::seconds(0)),
             "mint")
            .secret();
    for (const Bench& b : unary) {
      unary_bench(std::string(b.name) + "_auth", b, auth_uri, unary_uri,
                  "the same server without auth (--insecure-local)",
                  {{"caller", "token of a user with the viewer role"}}, auth_cpu, unary_cpu);
    }
    if (auth_srv) auth_srv->Shutdown(std::chrono::seconds(1));
    auth_process.reset();
  }
  if (unary_process) {
    unary_process.reset();
    grpc_uri = start_srv();
  }
  if (o.Wants("http")) {
    constexpr int kListed = 20;
    auto c = Must(Client::Open(grpc_uri), "open");
    for (int i = 1; i < kListed; ++i) {  // the job above is the first
      v1::JobSpec spec;
      spec.set_project("bench");
      spec.add_command("true");
      spec.set_working_dir(root);
      Must(c->WaitJob(Must(c->SubmitJob(spec), "submit").id(), std::chrono::seconds(60)), "wait");
    }
    HttpBench(o, srv->http_url(), grpc_uri, kListed);
  }
  if (o.Wants("ingest")) IngestBench(o, grpc_uri, local_uri);
  if (tracking_server) {
    TrackingServerBench(o, grpc_uri, mlflow);
    mlflow.Stop();
  }
  srv->Shutdown(std::chrono::seconds(1));
  if (o.Wants("artifact") || o.Wants("artifact_upload") || o.Wants("artifact_download")) {
    ArtifactBench(o, root + "/artifacts");
  }
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace mlcore::bench

int main(int argc, char** argv) { return mlcore::bench::Main(argc, argv); }
