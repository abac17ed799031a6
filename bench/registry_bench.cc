// Model-registry latency benchmarks (issue 7), in process on the local:// backend, each side by
// side with MLflow's model registry on a sqlite store (bench/registry_bench_mlflow.py, run as a
// child process by this binary when --peer is given; ratio = how many times better than MLflow):
//   registry.resolve.p50 / .p99   Client::ResolveModelUri("models:/NAME@champion") of uniformly
//                                 random models; ms per call; p99 < 1 ms. Peer:
//                                 MlflowClient.get_model_version_by_alias.
//   registry.register.p50 / .p99  Client::CreateModelVersion (source: the one logged artifact) on
//                                 random existing models of the populated registry, durable on
//                                 return; ms per call. Peer: MlflowClient.create_model_version.
//   registry.search               Client::ListRegisteredModels with three tag filters
//                                 (tags.team, tags.task, tags.env; each query matches 1 model in
//                                 100, i.e. one page of 100 at 10,000 models, page_size 100); ms
//                                 per query. Peer: MlflowClient.search_registered_models with the
//                                 same filter and max_results=100 (MLflow issue 13633 reports
//                                 0.85 s for such a query over hundreds of models on postgres).
// Every answer is checked (resolved version = the alias's target, new version READY and numbered
// next, search result = exactly the expected models with the filtered tags).
//
// Population (not timed as a benchmark; its time goes into params): --models registered models,
// each with 4 tags and --versions versions registered from one logged artifact (the cheapest source
// that yields READY versions: no files are copied), and alias "champion" on version
// 1 + (7 * i) % versions. Every change is a durable (fsync'ed) transaction, so the population runs
// in a directory on tmpfs (/dev/shm; --populate-dir) and the state is then copied to the scratch
// directory on disk (BENCH_TMP or --tmp) where everything is measured; the peer does the same.
// The peer populates --peer-api-models models through MLflow's API (timed: its rate is in params)
// and clones the rest with SQL from those rows, so both sides measure the same population.
//
// Runs: one discarded warm-up round, then --runs rounds; each round runs ours then the peer's
// resolve, register and search (A B A B ...). Latency percentiles pool the samples of all timed
// rounds; min and max in a line are the smallest and largest per-round value of that percentile.
//
// Usage: registry_bench [--tiny] [--only resolve,register,search] [--models N] [--versions N]
//                       [--samples N] [--register-samples N] [--queries N] [--runs N] [--seed N]
//                       [--tmp DIR] [--populate-dir DIR|none] [--keep]
//                       [--peer PYTHON --peer-script PATH] [--peer-samples N]
//                       [--peer-api-models N]
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "mlcore/client.h"
#include "peer_process.h"

namespace fs = std::filesystem;
using mlcore::bench::Emit;
using mlcore::bench::Line;
using mlcore::bench::PeerProcess;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

constexpr const char* kProject = "bench";
constexpr const char* kAlias = "champion";

struct Options {
  bool tiny = false;
  int models = 10000;
  int versions = 10;
  int samples = 10000;  // resolves per round (ours)
  int register_samples = 200;
  int queries = 10;
  int runs = 5;
  int warmups = 1;
  uint64_t seed = 1;
  std::string tmp;
  std::string populate_dir;  // empty = /dev/shm when usable; "none" = populate in place
  bool keep = false;
  std::string peer_python, peer_script;
  int peer_samples = 1000;  // resolves per round (MLflow: ~10 ms each)
  int peer_api_models = 1000;
  std::set<std::string> only;
  bool Want(const std::string& name) const { return only.empty() || only.count(name) > 0; }
};

std::string g_work;      // scratch directory on disk, removed on exit
std::string g_populate;  // population directory (tmpfs), removed on exit
bool g_keep = false;
PeerProcess* g_peer = nullptr;  // the MLflow peer while it runs

void Cleanup() {
  if (g_peer != nullptr) g_peer->Kill();
  std::error_code ec;
  if (!g_populate.empty()) fs::remove_all(g_populate, ec);
  if (!g_work.empty() && !g_keep) fs::remove_all(g_work, ec);
}

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "registry_bench: " << message << "\n";
  Cleanup();
  std::exit(1);
}

template <typename T>
T Must(mlcore::Result<T> r, const std::string& what) {
  if (!r.ok()) Fail(what + ": " + r.status().ToString());
  return std::move(r).value();
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Ms(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

void SyncFs(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

// --- The workload, shared with bench/registry_bench_mlflow.py -----------------------------------

std::string ModelName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "m%05d", i);
  return buf;
}

// Tags of model i. (team, task, env) takes each of its 100 combinations once per 100 models, so
// a query with all three matches 1 model in 100; owner is there to have a fourth tag.
std::map<std::string, std::string> ModelTags(int i) {
  return {{"team", "team" + std::to_string(i % 10)},
          {"task", "task" + std::to_string((i / 10) % 5)},
          {"env", "env" + std::to_string((i / 50) % 2)},
          {"owner", "user" + std::to_string(i % 37)}};
}

int ChampionVersion(int i, int versions) { return 1 + (7 * i) % versions; }

// Query c (0-99) selects the models with i % 100 == c.
std::string SearchFilter(int c) {
  return "tags.team = \"team" + std::to_string(c % 10) + "\" and tags.task = \"task" +
         std::to_string((c / 10) % 5) + "\" and tags.env = \"env" + std::to_string(c / 50) + "\"";
}

int ExpectedMatches(int c, int models, int page) {
  int n = models / 100 + (c < models % 100 ? 1 : 0);
  return std::min(n, page);
}

constexpr int kPage = 100;

// --- Ours
// -----------------------------------------------------------------------------------------

struct Ours {
  std::unique_ptr<mlcore::Client> client;
  std::string artifact_id;
  std::vector<int> latest;  // per model: highest version number
};

double PercentileOf(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  size_t idx = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(idx, v.size() - 1)];
}

// Populates `dir` (a new state directory); returns the artifact id and seconds taken.
std::pair<std::string, double> Populate(const Options& o, const std::string& dir) {
  const auto start = Clock::now();
  auto client = Must(mlcore::Client::Open("local://" + dir), "open local://" + dir);
  mlcore::v1::Project p;
  p.set_name(kProject);
  Must(client->CreateProject(p), "create project");
  mlcore::v1::CreateRunRequest create;
  create.mutable_run()->set_project(kProject);
  create.mutable_run()->set_name("train");
  auto run = Must(client->CreateRun(create), "create run");
  // A small model directory, logged once; every version is registered from it.
  const std::string files = dir + "-files/model";
  fs::create_directories(files);
  {
    std::ofstream(files + "/MLmodel") << "flavor: bench\n";
    std::ofstream weights(files + "/weights.bin", std::ios::binary);
    std::string block(4096, '\0');
    for (size_t k = 0; k < block.size(); ++k) block[k] = static_cast<char>(k * 31 % 251);
    weights << block;
  }
  mlcore::v1::ObjectRef owner;
  owner.set_kind(mlcore::v1::OBJECT_KIND_RUN);
  owner.set_id(run.id());
  auto artifact = Must(client->LogArtifact(owner, files, "model"), "log artifact");
  fs::remove_all(dir + "-files");

  auto last = Clock::now();
  for (int i = 0; i < o.models; ++i) {
    mlcore::v1::RegisteredModel m;
    m.set_project(kProject);
    m.set_name(ModelName(i));
    for (const auto& [k, v] : ModelTags(i)) (*m.mutable_tags())[k] = v;
    Must(client->CreateRegisteredModel(m), "create model " + m.name());
    for (int v = 1; v <= o.versions; ++v) {
      mlcore::v1::CreateModelVersionRequest r;
      r.set_project(kProject);
      r.set_model(m.name());
      r.mutable_source()->set_kind(mlcore::v1::MODEL_SOURCE_KIND_ARTIFACT);
      r.mutable_source()->set_artifact_id(artifact.id());
      auto created = Must(client->CreateModelVersion(r), "create version of " + m.name());
      if (created.version() != v) Fail("unexpected version number while populating");
    }
    mlcore::v1::SetModelAliasRequest a;
    a.set_project(kProject);
    a.set_model(m.name());
    a.set_alias(kAlias);
    a.set_version(ChampionVersion(i, o.versions));
    Must(client->SetModelAlias(a), "set alias of " + m.name());
    if ((i + 1) % 1000 == 0 && Since(last) > 5) {
      last = Clock::now();
      std::cerr << "registry_bench: populated " << i + 1 << "/" << o.models << " models ("
                << static_cast<int>(Since(start)) << " s)\n";
    }
  }
  return {artifact.id(), Since(start)};
}

std::vector<double> OursResolve(Ours& s, const Options& o, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(0, o.models - 1);
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(n));
  mlcore::v1::ResolveModelUriRequest r;
  r.set_project(kProject);
  for (int k = 0; k < n; ++k) {
    const int i = pick(rng);
    r.set_uri("models:/" + ModelName(i) + "@" + kAlias);
    const auto start = Clock::now();
    auto v = s.client->ResolveModelUri(r);
    const auto end = Clock::now();
    if (!v.ok()) Fail("resolve " + r.uri() + ": " + v.status().ToString());
    if (v->version() != ChampionVersion(i, o.versions) || v->model() != ModelName(i) ||
        v->status() != mlcore::v1::MODEL_VERSION_STATUS_READY) {
      Fail(r.uri() + " resolved to " + v->model() + "/" + std::to_string(v->version()));
    }
    ms.push_back(Ms(start, end));
  }
  return ms;
}

std::vector<double> OursRegister(Ours& s, const Options& o, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(0, o.models - 1);
  std::vector<double> ms;
  mlcore::v1::CreateModelVersionRequest r;
  r.set_project(kProject);
  r.mutable_source()->set_kind(mlcore::v1::MODEL_SOURCE_KIND_ARTIFACT);
  r.mutable_source()->set_artifact_id(s.artifact_id);
  for (int k = 0; k < n; ++k) {
    const int i = pick(rng);
    r.set_model(ModelName(i));
    const auto start = Clock::now();
    auto v = s.client->CreateModelVersion(r);
    const auto end = Clock::now();
    if (!v.ok()) Fail("register a version of " + r.model() + ": " + v.status().ToString());
    const int expected = ++s.latest[static_cast<size_t>(i)];
    if (v->version() != expected || v->status() != mlcore::v1::MODEL_VERSION_STATUS_READY) {
      Fail("registered " + r.model() + "/" + std::to_string(v->version()) + ", expected version " +
           std::to_string(expected) + " READY");
    }
    ms.push_back(Ms(start, end));
  }
  return ms;
}

std::vector<double> OursSearch(Ours& s, const Options& o, int n, uint64_t seed) {
  std::vector<double> ms;
  mlcore::v1::ListRegisteredModelsRequest r;
  r.set_project(kProject);
  r.set_page_size(kPage);
  for (int q = 0; q < n; ++q) {
    const int c = static_cast<int>((seed * 37 + static_cast<uint64_t>(q) * 13) % 100);
    r.set_filter(SearchFilter(c));
    const auto start = Clock::now();
    auto page = s.client->ListRegisteredModels(r);
    const auto end = Clock::now();
    if (!page.ok()) Fail("search " + r.filter() + ": " + page.status().ToString());
    const int expected = ExpectedMatches(c, o.models, kPage);
    if (page->models_size() != expected) {
      Fail("search " + r.filter() + " returned " + std::to_string(page->models_size()) +
           " models, expected " + std::to_string(expected));
    }
    for (const auto& m : page->models()) {
      const int i = std::atoi(m.name().c_str() + 1);
      if (i % 100 != c || m.tags().at("team") != ModelTags(i).at("team")) {
        Fail("search " + r.filter() + " returned model " + m.name());
      }
    }
    ms.push_back(Ms(start, end));
  }
  return ms;
}

// --- The peer: bench/registry_bench_mlflow.py as a child (PeerProcess) ------------------------

// Latencies (ms) of one peer command ("resolve", "register" or "search") over `n` calls.
std::vector<double> PeerCall(PeerProcess& peer, const std::string& op, int n, uint64_t seed) {
  return peer.Call(json{{"op", op}, {"n", n}, {"seed", seed}}, op)
      .at("ms")
      .get<std::vector<double>>();
}

// --- Measurement
// -----------------------------------------------------------------------------------

struct Series {
  std::vector<double> pooled;             // every sample of the timed rounds
  std::vector<std::vector<double>> runs;  // per round
  void Add(std::vector<double> v) {
    pooled.insert(pooled.end(), v.begin(), v.end());
    runs.push_back(std::move(v));
  }
  bool empty() const { return pooled.empty(); }
  double P(double p) const { return PercentileOf(pooled, p); }
  std::pair<double, double> RunRange(double p) const {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& r : runs) {
      const double v = PercentileOf(r, p);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    return {lo, hi};
  }
  double Max() const { return *std::max_element(pooled.begin(), pooled.end()); }
};

void Usage() {
  std::cerr << "usage: registry_bench [--tiny] [--only resolve,register,search] [--models N]\n"
               "                      [--versions N] [--samples N] [--register-samples N]\n"
               "                      [--queries N] [--runs N] [--seed N] [--tmp DIR]\n"
               "                      [--populate-dir DIR|none] [--keep]\n"
               "                      [--peer PYTHON --peer-script PATH] [--peer-samples N]\n"
               "                      [--peer-api-models N]\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* v = std::getenv("BENCH_TMP")) o.tmp = v;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    auto next_int = [&]() { return std::atoi(next().c_str()); };
    if (a == "--tiny") {
      o.tiny = true;
    } else if (a == "--only") {
      std::stringstream list(next());
      std::string n;
      while (std::getline(list, n, ',')) {
        if (n != "resolve" && n != "register" && n != "search") {
          std::cerr << "registry_bench: unknown benchmark \"" << n << "\"\n";
          Usage();
          return 2;
        }
        o.only.insert(n);
      }
    } else if (a == "--models") {
      o.models = next_int();
    } else if (a == "--versions") {
      o.versions = next_int();
    } else if (a == "--samples") {
      o.samples = next_int();
    } else if (a == "--register-samples") {
      o.register_samples = next_int();
    } else if (a == "--queries") {
      o.queries = next_int();
    } else if (a == "--runs") {
      o.runs = next_int();
    } else if (a == "--seed") {
      o.seed = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--tmp") {
      o.tmp = next();
    } else if (a == "--populate-dir") {
      o.populate_dir = next();
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--peer") {
      o.peer_python = next();
    } else if (a == "--peer-script") {
      o.peer_script = next();
    } else if (a == "--peer-samples") {
      o.peer_samples = next_int();
    } else if (a == "--peer-api-models") {
      o.peer_api_models = next_int();
    } else {
      Usage();
      return 2;
    }
  }
  if (o.tiny) {
    o.models = 50;
    o.versions = 3;
    o.samples = 200;
    o.register_samples = 20;
    o.queries = 3;
    o.runs = 1;
    o.warmups = 0;
    o.peer_samples = 20;
    o.peer_api_models = 10;
    if (o.populate_dir.empty()) o.populate_dir = "none";
  }
  if (o.models < 1 || o.versions < 1 || o.samples < 1 || o.register_samples < 1 || o.queries < 1 ||
      o.runs < 1 || o.peer_samples < 1 || o.peer_api_models < 1) {
    Usage();
    return 2;
  }
  if (o.peer_python.empty() != o.peer_script.empty()) {
    std::cerr << "registry_bench: --peer and --peer-script go together\n";
    return 2;
  }
  if (o.tmp.empty()) {
    // <build dir>/bench-tmp: the executable lives in <build dir>/bench/.
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    o.tmp = ec ? fs::temp_directory_path().string() + "/mlc-bench-tmp"
               : (exe.parent_path().parent_path() / "bench-tmp").string();
  }
  ::signal(SIGPIPE, SIG_IGN);
  g_keep = o.keep;
  fs::create_directories(o.tmp);
  g_work = fs::canonical(o.tmp).string() + "/registry-" + std::to_string(::getpid());
  fs::remove_all(g_work);
  fs::create_directories(g_work);

  // Population on tmpfs when there is room (about 1 KiB per version on each side, twice over).
  std::string populate_root = o.populate_dir;
  if (populate_root.empty()) {
    struct statvfs vfs {};
    const double need = 4.0 * 1024 * o.models * o.versions + (256 << 20);
    if (::access("/dev/shm", W_OK) == 0 && ::statvfs("/dev/shm", &vfs) == 0 &&
        static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize) > need) {
      populate_root = "/dev/shm";
    } else {
      populate_root = "none";
    }
  }
  const bool in_place = populate_root == "none";
  if (!in_place) {
    g_populate = populate_root + "/mlc-registry-bench-" + std::to_string(::getpid());
    fs::remove_all(g_populate);
    fs::create_directories(g_populate);
  }
  const std::string state = g_work + "/state";
  const std::string build_state = in_place ? state : g_populate + "/state";

  std::cerr << "registry_bench: populating " << o.models << " models x " << o.versions
            << " versions in " << build_state << "\n";
  auto [artifact_id, populate_s] = Populate(o, build_state);
  double copy_s = 0;
  if (!in_place) {
    const auto start = Clock::now();
    fs::copy(build_state, state, fs::copy_options::recursive);
    SyncFs(g_work);
    copy_s = Since(start);
    fs::remove_all(build_state);
  }
  std::cerr << "registry_bench: populated in " << populate_s << " s ("
            << static_cast<double>(o.models) * o.versions / populate_s << " versions/s)"
            << (in_place ? "" : ", copied to disk in " + std::to_string(copy_s) + " s") << "\n";

  Ours ours;
  ours.client = Must(mlcore::Client::Open("local://" + state), "open local://" + state);
  ours.artifact_id = artifact_id;
  ours.latest.assign(static_cast<size_t>(o.models), o.versions);

  PeerProcess peer([](const std::string& message) { Fail(message); });
  g_peer = &peer;
  const bool with_peer = !o.peer_python.empty();
  if (with_peer) {
    std::vector<std::string> args = {
        o.peer_python,  o.peer_script,
        "--store",      g_work + "/mlflow",
        "--models",     std::to_string(o.models),
        "--versions",   std::to_string(o.versions),
        "--api-models", std::to_string(std::min(o.peer_api_models, o.models))};
    if (!in_place) args.insert(args.end(), {"--populate-dir", g_populate + "/mlflow"});
    std::cerr << "registry_bench: starting the MLflow peer (it populates its own registry)\n";
    peer.Start(args);
    std::cerr << "registry_bench: peer ready: " << peer.ready().dump() << "\n";
  }

  Series resolve, register_, search, p_resolve, p_register, p_search;
  for (int round = 0; round < o.warmups + o.runs; ++round) {
    const bool timed = round >= o.warmups;
    const uint64_t seed = o.seed * 1000 + static_cast<uint64_t>(round);
    std::cerr << "registry_bench: round " << round + 1 << "/" << o.warmups + o.runs
              << (timed ? "" : " (warm-up, discarded)") << "\n";
    if (o.Want("resolve")) {
      auto v = OursResolve(ours, o, o.samples, seed);
      if (timed) resolve.Add(std::move(v));
      if (with_peer) {
        auto p = PeerCall(peer, "resolve", o.peer_samples, seed);
        if (timed) p_resolve.Add(std::move(p));
      }
    }
    if (o.Want("register")) {
      auto v = OursRegister(ours, o, o.register_samples, seed);
      if (timed) register_.Add(std::move(v));
      if (with_peer) {
        auto p = PeerCall(peer, "register", o.register_samples, seed);
        if (timed) p_register.Add(std::move(p));
      }
    }
    if (o.Want("search")) {
      auto v = OursSearch(ours, o, o.queries, seed);
      if (timed) search.Add(std::move(v));
      if (with_peer) {
        auto p = PeerCall(peer, "search", o.queries, seed);
        if (timed) p_search.Add(std::move(p));
      }
    }
  }
  if (with_peer) peer.Stop();
  g_peer = nullptr;
  ours.client.reset();

  // Parameters common to every line.
  std::map<std::string, std::string> params = {
      {"models", std::to_string(o.models)},
      {"versions_per_model", std::to_string(o.versions)},
      {"tags_per_model", "4"},
      {"alias", kAlias},
      {"backend", "local:// in process"},
      {"populate_s", std::to_string(populate_s)},
      {"populated_on", in_place ? "the scratch disk" : "tmpfs, then copied to the scratch disk"},
      {"warmup_discarded", std::to_string(o.warmups)},
  };
  if (with_peer) {
    const json& r = peer.ready();
    params["peer_models"] = std::to_string(r.value("models", 0));
    params["peer_versions_per_model"] = std::to_string(r.value("versions", 0));
    params["peer_api_models"] = std::to_string(r.value("api_models", 0));
    params["peer_api_populate_s"] = std::to_string(r.value("api_populate_s", 0.0));
    params["peer_clone_s"] = std::to_string(r.value("clone_s", 0.0));
    params["peer_store"] = "sqlite";
    params["mlflow"] = r.value("mlflow", std::string("?"));
  }

  auto emit = [&](const std::string& bench, const Series& s, const Series& p, double pct,
                  const std::string& stat, const std::string& target, int met_kind,
                  const std::string& peer_name,
                  const std::map<std::string, std::string>& extra_params) {
    if (s.empty()) return;
    Line line;
    line.bench = bench;
    line.unit = "ms";
    line.value = s.P(pct);
    auto [lo, hi] = s.RunRange(pct);
    line.min = lo;
    line.max = hi;
    line.runs = static_cast<int>(s.runs.size());
    line.stat = stat;
    line.target = target;
    line.extra["max_ms"] = s.Max();
    line.extra["samples"] = static_cast<double>(s.pooled.size());
    if (!p.empty()) {
      line.peer = peer_name;
      line.peer_value = p.P(pct);
      line.ratio = line.peer_value / line.value;
      auto [plo, phi] = p.RunRange(pct);
      line.extra["peer_min"] = plo;
      line.extra["peer_max"] = phi;
      line.extra["peer_max_ms"] = p.Max();
      line.extra["peer_samples"] = static_cast<double>(p.pooled.size());
    }
    // met_kind: 0 = report, 1 = p99 < 1 ms, 2 = not slower than the peer.
    line.met = met_kind == 0   ? true
               : met_kind == 1 ? line.value < 1.0
                               : !p.empty() && line.ratio >= 1.0;
    line.params = params;
    for (const auto& [k, v] : extra_params) line.params[k] = v;
    Emit(line);
  };
  const std::string resolve_call = "Client::ResolveModelUri(models:/NAME@champion), random models";
  emit("registry.resolve.p50", resolve, p_resolve, 0.5, "p50", "report", 0,
       "mlflow.get_model_version_by_alias.sqlite", {{"call", resolve_call}});
  emit("registry.resolve.p99", resolve, p_resolve, 0.99, "p99", "p99 < 1 ms in process", 1,
       "mlflow.get_model_version_by_alias.sqlite", {{"call", resolve_call}});
  const std::string register_call =
      "Client::CreateModelVersion(source ARTIFACT, the logged artifact), random models, durable on "
      "return";
  emit("registry.register.p50", register_, p_register, 0.5, "p50", ">= 1x peer", 2,
       "mlflow.create_model_version.sqlite", {{"call", register_call}});
  emit("registry.register.p99", register_, p_register, 0.99, "p99", "report", 0,
       "mlflow.create_model_version.sqlite", {{"call", register_call}});
  emit("registry.search", search, p_search, 0.5, "p50", ">= 1x peer", 2,
       "mlflow.search_registered_models.sqlite",
       {{"call", "Client::ListRegisteredModels, three tag filters, page_size 100"},
        {"filter", SearchFilter(0)},
        {"matches", std::to_string(ExpectedMatches(0, o.models, kPage))}});
  Cleanup();
  return 0;
}
