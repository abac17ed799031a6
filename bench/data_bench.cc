// Benchmarks of the data-load cache and the artifact store (issue 6), each side by side with its
// peer in the same run (ratio = how many times better than the peer, > 1 is better):
//   data.hot_read           DataCache::Load of an already-hot object plus read(2) of the returned
//                           file, vs `cat FILE > /dev/null` of that same file; MiB/s; >= 0.95x.
//   data.cold_fetch         a miss (fresh hot directory each time) over loopback HTTP from
//                           bench/data_origin.h: fetch, SHA-256 while streaming, fsync, publish,
//                           index; vs `curl -s -o OUT URL` from the same server; MiB/s; >= 0.9x.
//   artifacts.upload_large / artifacts.download_large
//                           Client::LogArtifact / DownloadArtifact of one big file (local://
//                           backend) vs `cp -r`; MiB/s; >= 0.9x.
//   artifacts.upload_small / artifacts.download_small
//                           the same for a tree of small files; files/s; report.
//   artifacts.reupload_unchanged (.dir, .file)
//                           re-logging the unchanged tree and the big file (new artifact paths,
//                           same run) vs hashing the same bytes in process (walk + read + OpenSSL
//                           SHA-256, the library's own hash); ms; ratio = hash / re-upload >= 1.
// Ours is durable when it returns (every written file is fsync'ed); cp and curl do not sync, so
// lines of writing benchmarks also carry the peer followed by an fsync of everything it wrote
// ("peer_synced_value", "ratio_synced"). Before every timed run the scratch filesystem is synced
// (syncfs) so no run pays for the previous one's writeback; with --drop-caches (root) the page
// cache is dropped too, else both sides run with the source in the page cache (after a discarded
// warm-up pair). Ours and the peer alternate (A B A B ...); medians are reported.
//
// Usage: data_bench [--tiny] [--only hot_read,cold_fetch,upload,download,reupload]
//                   [--size-mib N] [--small-files N] [--small-kib N] [--runs N] [--read-kib N]
//                   [--tmp DIR] [--drop-caches] [--keep]
// Environment: BENCH_TMP (scratch directory, default <build dir>/bench-tmp, i.e. the same
// filesystem as the build), BENCH_DATA_SIZE_MIB (big object, default 1024), BENCH_DATA_SMALL_FILES
// (default 10000). Needs about 5x the big object free; with less than 8 GiB free the object is
// sized down (a message on stderr, params.size_mib in every line).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <vector>

#include "bench_util.h"
#include "data_origin.h"
#include "datacache/data_cache.h"
#include "mlcore/client.h"
#include "util/sha256.h"

namespace fs = std::filesystem;
using mlcore::bench::Emit;
using mlcore::bench::Line;
using mlcore::bench::Summarize;
using mlcore::bench::SyncFs;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Options {
  bool tiny = false;
  uint64_t size_mib = 1024;
  int small_files = 10000;
  int small_kib = 4;
  int subdirs = 10;
  int runs = 5;
  int warmups = 1;
  int read_kib = 128;  // cat's buffer (coreutils 9: 128 KiB)
  std::string tmp;
  bool drop_caches = false;
  bool keep = false;
  std::set<std::string> only;
  bool Want(const std::string& name) const { return only.empty() || only.count(name) > 0; }
};

std::string g_work;  // scratch directory of this invocation, removed on exit
bool g_keep = false;

void Cleanup() {
  if (g_work.empty() || g_keep) return;
  std::error_code ec;
  const std::string parent = fs::path(g_work).parent_path().string();
  fs::remove_all(g_work, ec);
  // Written-back inode tables shorten how long ext4 (no journal) avoids the freed inodes, and so
  // how long file creation stays slow for whatever runs next (see Discard).
  SyncFs(parent);
}

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "data_bench: " << message << "\n";
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

// ---- processes and files ------------------------------------------------------------------

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// Runs `argv` (argv[0] is a path) with stdin from /dev/null and stdout to `stdout_path` (empty =
// inherited); returns its exit status (-1 when it could not run or was killed).
int Run(const std::vector<std::string>& argv, const std::string& stdout_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    if (!stdout_path.empty()) {
      int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0) ::_exit(126);
      ::dup2(out, 1);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A scratch path never used before in this invocation.
std::string FreshPath(const std::string& name) {
  static int counter = 0;
  return g_work + "/" + name + "-" + std::to_string(++counter);
}

// Removes a scratch file or tree. Trees of many files are only moved aside and deleted at exit:
// ext4 without a journal (as on the machine of docs/benchmarks.md) does not reuse inodes freed in
// the last minute or more, and scanning past them made creating 10,000 files right after deleting
// 10,000 others 10-20x slower (ours and the peer alike), which measured the allocator, not us.
void Discard(const std::string& path, bool many_files) {
  if (!many_files) {
    fs::remove_all(path);
    return;
  }
  static int counter = 0;
  fs::create_directories(g_work + "/trash");
  fs::rename(path, g_work + "/trash/" + std::to_string(++counter));
}

// Flushes the scratch filesystem (so a timed run never pays for an earlier one's writeback) and,
// with --drop-caches, drops the page cache. --tiny skips the flush: it checks that the benchmark
// runs, not its speed, and syncfs also waits for every other writer of the filesystem (seconds
// while builds run).
void Settle(const Options& o) {
  if (!o.tiny) SyncFs(g_work);
  if (o.drop_caches) {
    std::ofstream drop("/proc/sys/vm/drop_caches");
    drop << "3\n";
    drop.flush();
    if (!drop) Fail("cannot write /proc/sys/vm/drop_caches (--drop-caches needs root)");
  }
}

void FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) Fail("cannot open " + path + ": " + std::strerror(errno));
  if (::fsync(fd) != 0) Fail("cannot fsync " + path + ": " + std::strerror(errno));
  ::close(fd);
}

// What a peer needs to match our durability: fsync every file and directory it wrote, and the
// directory holding `path`.
void FsyncTree(const std::string& path) {
  if (fs::is_directory(path)) {
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      FsyncPath(e.path().string(), e.is_directory());
    }
    FsyncPath(path, true);
  } else {
    FsyncPath(path, false);
  }
  FsyncPath(fs::path(path).parent_path().string(), true);
}

// Pseudo-random (incompressible, never deduplicated) content.
void FillRandom(std::vector<char>& buf, uint64_t& state) {
  auto* words = reinterpret_cast<uint64_t*>(buf.data());
  for (size_t i = 0; i < buf.size() / 8; ++i) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    words[i] = state * 0x2545F4914F6CDD1DULL;
  }
}

void WriteRandomFile(const std::string& path, uint64_t size, uint64_t seed) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Fail("cannot create " + path + ": " + std::strerror(errno));
  std::vector<char> buf(std::min<uint64_t>(size, 4 * kMiB) + 8);
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (uint64_t done = 0; done < size;) {
    FillRandom(buf, state);
    size_t n = static_cast<size_t>(std::min<uint64_t>(size - done, buf.size() - 8));
    if (::write(fd, buf.data(), n) != static_cast<ssize_t>(n)) {
      Fail("cannot write " + path + ": " + std::strerror(errno));
    }
    done += n;
  }
  ::close(fd);
}

// read(2)s the whole file into `buf`-sized chunks, as a user of the cache would; returns bytes.
uint64_t ReadAll(const std::string& path, std::vector<char>& buf) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail("cannot open " + path + ": " + std::strerror(errno));
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return total;
}

// SHA-256 of every regular file under `path` (or of `path`), walk included; returns bytes hashed.
uint64_t HashTree(const std::string& path, std::vector<char>& buf) {
  uint64_t total = 0;
  auto hash_file = [&](const std::string& file) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail("cannot open " + file + ": " + std::strerror(errno));
    mlcore::util::Sha256 sha;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail("cannot read " + file + ": " + std::strerror(errno));
      if (n == 0) break;
      sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
      total += static_cast<uint64_t>(n);
    }
    ::close(fd);
    volatile char sink = sha.HexDigest()[0];
    (void)sink;
  };
  std::vector<std::string> stack = {path};
  while (!stack.empty()) {
    std::string p = std::move(stack.back());
    stack.pop_back();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) Fail("cannot stat " + p);
    if (S_ISREG(st.st_mode)) {
      hash_file(p);
    } else if (S_ISDIR(st.st_mode)) {
      DIR* d = ::opendir(p.c_str());
      if (d == nullptr) Fail("cannot list " + p);
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") stack.push_back(p + "/" + name);
      }
      ::closedir(d);
    }
  }
  return total;
}

double LoadAvg() {
  double avg[1] = {kNaN};
  ::getloadavg(avg, 1);
  return avg[0];
}

// Files created per second in a fresh directory (empty files, kept until exit): a canary for the
// state of the filesystem's inode allocator. Normally well above 50,000/s here; far lower means
// something deleted many files in the last minutes (see Discard) and small-file numbers measure
// that, for ours and the peer alike.
double CreateRate() {
  const std::string dir = FreshPath("canary");
  fs::create_directories(dir);
  constexpr int kFiles = 2000;
  auto start = Clock::now();
  for (int i = 0; i < kFiles; ++i) {
    int fd = ::open((dir + "/" + std::to_string(i)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) Fail("cannot create a file in " + dir + ": " + std::strerror(errno));
    ::close(fd);
  }
  double rate = kFiles / Since(start);
  Discard(dir, true);
  if (rate < 20000) {
    std::cerr << "data_bench: warning: creating files runs at only " << static_cast<int>(rate)
              << "/s on this filesystem (many files deleted in the last minutes?); small-file "
                 "numbers will be low for both sides\n";
  }
  return rate;
}

// ---- reporting ----------------------------------------------------------------------------

double Median(std::vector<double> v) { return v.empty() ? kNaN : Summarize(std::move(v)).median; }

struct Comparison {
  std::string bench, unit, peer, target;
  bool higher_is_better = true;  // throughput; false for times
  double min_ratio = 0;          // 0 = report only (met is true)
  std::vector<double> ours, peer_values, peer_synced;
  std::map<std::string, std::string> params;
  std::map<std::string, double> extra;
};

double RatioOf(const Comparison& c, double peer) {
  double ours = Median(c.ours);
  return c.higher_is_better ? ours / peer : peer / ours;
}

void EmitComparison(Comparison c) {
  const auto st = Summarize(c.ours);
  Line line;
  line.bench = c.bench;
  line.unit = c.unit;
  line.value = st.median;
  line.min = st.min;
  line.max = st.max;
  line.runs = st.runs;
  line.peer = c.peer;
  line.peer_value = Median(c.peer_values);
  line.ratio = RatioOf(c, line.peer_value);
  line.target = c.target;
  line.met = c.min_ratio <= 0 || (std::isfinite(line.ratio) && line.ratio >= c.min_ratio);
  if (!c.peer_values.empty()) {
    const auto ps = Summarize(c.peer_values);
    c.extra["peer_min"] = ps.min;
    c.extra["peer_max"] = ps.max;
  }
  if (!c.peer_synced.empty()) {
    c.extra["peer_synced_value"] = Median(c.peer_synced);
    c.extra["ratio_synced"] = RatioOf(c, Median(c.peer_synced));
  }
  c.extra["load_avg_1m"] = LoadAvg();
  line.extra = c.extra;
  line.params = c.params;
  Emit(line);
}

// ---- the scratch tree ---------------------------------------------------------------------

struct Workload {
  std::string big;    // one big file
  std::string small;  // a tree of small files
  uint64_t size = 0;
  int small_files = 0;
  uint64_t small_bytes = 0;
};

std::map<std::string, std::string> BaseParams(const Options& o, const Workload& w) {
  return {{"size_mib", std::to_string(w.size / kMiB)},
          {"cache", o.drop_caches ? "dropped before each run" : "warm"},
          {"warmup_discarded", std::to_string(o.warmups)}};
}

// ---- data.hot_read ------------------------------------------------------------------------

void HotRead(const Options& o, const Workload& w) {
  namespace dc = mlcore::datacache;
  dc::DataCacheOptions copt;
  copt.hot_dir = g_work + "/hot-read";
  auto cache = Must(dc::DataCache::Open(copt), "open the data cache");
  auto first = Must(cache->Load(w.big), "load " + w.big);
  std::vector<char> buf(static_cast<size_t>(o.read_kib) * 1024);
  const std::string cat = FindInPath("cat");
  if (cat.empty()) Fail("cat is not on PATH");
  std::vector<double> load_ms;
  auto ours = [&](bool keep) {
    auto start = Clock::now();
    auto r = Must(cache->Load(w.big), "load " + w.big);
    double load_s = Since(start);
    uint64_t n = ReadAll(r.local_path, buf);
    double s = Since(start);
    if (r.source != dc::Source::kHot || n != w.size || r.local_path != first.local_path) {
      Fail("data.hot_read: expected a hot hit of " + std::to_string(w.size) + " bytes");
    }
    if (keep) load_ms.push_back(load_s * 1e3);
    return static_cast<double>(w.size) / kMiB / s;
  };
  auto peer = [&] {
    auto start = Clock::now();
    int rc = Run({cat, first.local_path}, "/dev/null");
    double s = Since(start);
    if (rc != 0) Fail("cat exited with " + std::to_string(rc));
    return static_cast<double>(w.size) / kMiB / s;
  };
  Comparison c;
  for (int i = 0; i < o.warmups; ++i) {
    ours(false);
    peer();
  }
  for (int i = 0; i < o.runs; ++i) {
    Settle(o);
    c.ours.push_back(ours(true));
    Settle(o);
    c.peer_values.push_back(peer());
  }
  c.bench = "data.hot_read";
  c.unit = "MiB/s";
  c.peer = "cat";
  c.target = ">=0.95x cat";
  c.min_ratio = 0.95;
  c.params = BaseParams(o, w);
  c.params["read_buffer_kib"] = std::to_string(o.read_kib);
  c.params["peer_command"] = "cat FILE > /dev/null";
  c.extra["load_call_ms"] = Median(load_ms);
  EmitComparison(std::move(c));
}

// ---- data.cold_fetch ----------------------------------------------------------------------

void ColdFetch(const Options& o, const Workload& w) {
  namespace dc = mlcore::datacache;
  const std::string root = g_work + "/origin";
  fs::create_directories(root);
  if (::link(w.big.c_str(), (root + "/object.bin").c_str()) != 0) {
    fs::copy_file(w.big, root + "/object.bin");
  }
  mlcore::bench::StaticFileServer server(root);
  std::string error;
  if (!server.Start(&error)) Fail("cannot start the HTTP origin: " + error);
  const std::string url = server.BaseUrl() + "/object.bin";
  const std::string curl = FindInPath("curl");
  // The previous run's output (ours or curl's) is deleted right before the next timed run, of
  // either side. On this VM, free memory is reported back to the host (free page reporting,
  // page_reporting_order=11 on the kernel command line), and page-cache pages taken from memory
  // freed a few seconds earlier are slow to fill: writing 1 GiB to a new file took 0.22 s right
  // after another 1 GiB file was deleted and 1.3-1.4 s after a 5 s pause. Deleting each output
  // just before the next run gives both sides the same, just-freed memory; deleting ours right
  // after it (as before) gave curl just-freed pages and ours pages freed about a second earlier
  // (before curl's ceiling run).
  std::vector<std::string> trash;
  auto empty_trash = [&] {
    for (const std::string& p : trash) fs::remove_all(p);
    trash.clear();
  };
  int round = 0;
  auto ours = [&] {
    const std::string hot = g_work + "/cold-" + std::to_string(++round);
    dc::DataCacheOptions copt;
    copt.hot_dir = hot;
    auto cache = Must(dc::DataCache::Open(copt), "open the data cache");
    empty_trash();
    Settle(o);
    auto start = Clock::now();
    auto r = Must(cache->Load(url), "load " + url);
    double s = Since(start);
    if (r.source != dc::Source::kOrigin || r.size_bytes != w.size) {
      Fail("data.cold_fetch: expected a fetch of " + std::to_string(w.size) + " bytes");
    }
    cache.reset();
    trash.push_back(hot);
    return static_cast<double>(w.size) / kMiB / s;
  };
  std::vector<double> ceiling;
  auto peer = [&](Comparison& c) {
    const std::string out = g_work + "/curl-out-" + std::to_string(++round) + ".bin";
    empty_trash();
    Settle(o);
    auto start = Clock::now();
    int rc = Run({curl, "-s", "-o", out, url}, "");
    double s = Since(start);
    FsyncTree(out);
    double synced = Since(start);
    if (rc != 0 || fs::file_size(out) != w.size) {
      Fail("curl exited with " + std::to_string(rc) + " or fetched a short file");
    }
    trash.push_back(out);
    c.peer_values.push_back(static_cast<double>(w.size) / kMiB / s);
    c.peer_synced.push_back(static_cast<double>(w.size) / kMiB / synced);
    // What the origin and loopback deliver to a client that writes nothing: the ceiling.
    start = Clock::now();
    rc = Run({curl, "-s", "-o", "/dev/null", url}, "");
    s = Since(start);
    if (rc != 0) Fail("curl exited with " + std::to_string(rc));
    ceiling.push_back(static_cast<double>(w.size) / kMiB / s);
  };
  Comparison c;
  for (int i = 0; i < o.warmups; ++i) {
    ours();
    if (!curl.empty()) peer(c);
  }
  c.peer_values.clear();
  c.peer_synced.clear();
  ceiling.clear();
  for (int i = 0; i < o.runs; ++i) {
    c.ours.push_back(ours());
    if (!curl.empty()) peer(c);
  }
  server.Stop();
  empty_trash();
  fs::remove_all(root);
  c.bench = "data.cold_fetch";
  c.unit = "MiB/s";
  c.peer = "curl";
  c.target = ">=0.9x curl";
  c.min_ratio = 0.9;
  c.params = BaseParams(o, w);
  c.params["origin"] = "bench/data_origin.h on 127.0.0.1 (sendfile)";
  c.params["peer_command"] = curl.empty() ? "curl not found on PATH" : "curl -s -o OUT URL";
  c.params["ours"] = "fresh hot dir per run, sha256 while streaming, fsync, rename, index";
  // curl -o /dev/null from the same origin: what the server and loopback can deliver.
  c.extra["origin_ceiling"] = Median(ceiling);
  if (curl.empty()) c.extra["peer_synced_value"] = kNaN;
  EmitComparison(std::move(c));
}

// ---- artifacts ----------------------------------------------------------------------------

struct Store {
  std::string dir;
  std::unique_ptr<mlcore::Client> client;
  mlcore::v1::ObjectRef run;
};

std::unique_ptr<Store> FreshStore(const std::string& dir) {
  auto s = std::make_unique<Store>();
  s->dir = dir;
  fs::remove_all(dir);
  s->client = Must(mlcore::Client::Open("local://" + dir), "open local://" + dir);
  mlcore::v1::Project p;
  p.set_name("bench");
  Must(s->client->CreateProject(p), "create project");
  mlcore::v1::CreateRunRequest create;
  create.mutable_run()->set_project("bench");
  create.mutable_run()->set_name("data-bench");
  auto run = Must(s->client->CreateRun(create), "create run");
  s->run.set_kind(mlcore::v1::OBJECT_KIND_RUN);
  s->run.set_id(run.id());
  return s;
}

// `cp -r SRC DEST` (DEST absent) into c.peer_values (and synced), as a rate of `amount`.
void CopyPeer(const Options& o, const std::string& src, double amount, bool many_files,
              Comparison& c) {
  static const std::string cp = FindInPath("cp");
  if (cp.empty()) Fail("cp is not on PATH");
  const std::string dest = FreshPath("cp-dest");
  Settle(o);
  auto start = Clock::now();
  int rc = Run({cp, "-r", src, dest}, "");
  double s = Since(start);
  FsyncTree(dest);
  double synced = Since(start);
  if (rc != 0) Fail("cp -r exited with " + std::to_string(rc));
  Discard(dest, many_files);
  c.peer_values.push_back(amount / s);
  c.peer_synced.push_back(amount / synced);
}

void Upload(const Options& o, const Workload& w, bool large) {
  const std::string src = large ? w.big : w.small;
  const int files = large ? 1 : w.small_files;
  const double amount = large ? static_cast<double>(w.size) / kMiB : files;
  const double create_rate = large ? kNaN : CreateRate();
  auto ours = [&] {
    auto store = FreshStore(FreshPath("store-up"));
    Settle(o);
    auto start = Clock::now();
    auto a = Must(store->client->LogArtifact(store->run, src, "payload"), "log artifact " + src);
    double s = Since(start);
    if (a.file_count() != files) Fail("artifact has " + std::to_string(a.file_count()) + " files");
    const std::string dir = store->dir;
    store.reset();
    Discard(dir, !large);
    return amount / s;
  };
  Comparison c;
  for (int i = 0; i < o.warmups; ++i) {
    ours();
    CopyPeer(o, src, amount, !large, c);
  }
  c.peer_values.clear();
  c.peer_synced.clear();
  for (int i = 0; i < o.runs; ++i) {
    c.ours.push_back(ours());
    CopyPeer(o, src, amount, !large, c);
  }
  c.bench = large ? "artifacts.upload_large" : "artifacts.upload_small";
  c.unit = large ? "MiB/s" : "files/s";
  c.peer = "cp -r";
  c.target = large ? ">=0.9x cp -r" : "report";
  c.min_ratio = large ? 0.9 : 0;
  c.params = BaseParams(o, w);
  if (!large) {
    c.params["files"] = std::to_string(w.small_files);
    c.params["file_kib"] = std::to_string(o.small_kib);
    c.params["subdirs"] = std::to_string(o.subdirs);
    c.extra["fs_create_files_per_s"] = create_rate;
  }
  c.params["ours"] = "LogArtifact, fresh local:// store per run (nothing to dedupe against)";
  EmitComparison(std::move(c));
}

void Download(const Options& o, const Workload& w, bool large, Store& store,
              const std::string& artifact_id) {
  const std::string src = large ? w.big : w.small;
  const int files = large ? 1 : w.small_files;
  const double amount = large ? static_cast<double>(w.size) / kMiB : files;
  const double create_rate = large ? kNaN : CreateRate();
  auto ours = [&] {
    const std::string dest = FreshPath("dl-dest");
    Settle(o);
    auto start = Clock::now();
    auto m = Must(store.client->DownloadArtifact(artifact_id, dest), "download " + artifact_id);
    double s = Since(start);
    if (m.entries_size() != files) Fail("downloaded manifest has the wrong file count");
    Discard(dest, !large);
    return amount / s;
  };
  Comparison c;
  for (int i = 0; i < o.warmups; ++i) {
    ours();
    CopyPeer(o, src, amount, !large, c);
  }
  c.peer_values.clear();
  c.peer_synced.clear();
  for (int i = 0; i < o.runs; ++i) {
    c.ours.push_back(ours());
    CopyPeer(o, src, amount, !large, c);
  }
  c.bench = large ? "artifacts.download_large" : "artifacts.download_small";
  c.unit = large ? "MiB/s" : "files/s";
  c.peer = "cp -r";
  c.target = large ? ">=0.9x cp -r" : "report";
  c.min_ratio = large ? 0.9 : 0;
  c.params = BaseParams(o, w);
  if (!large) {
    c.params["files"] = std::to_string(w.small_files);
    c.params["file_kib"] = std::to_string(o.small_kib);
    c.extra["fs_create_files_per_s"] = create_rate;
  }
  c.params["ours"] = "DownloadArtifact into a fresh directory (verify while copying, fsync)";
  EmitComparison(std::move(c));
}

void Reupload(const Options& o, const Workload& w) {
  auto store = FreshStore(FreshPath("store-re"));
  Must(store->client->LogArtifact(store->run, w.small, "small-0"), "log " + w.small);
  Must(store->client->LogArtifact(store->run, w.big, "big-0"), "log " + w.big);
  std::vector<char> buf(1 << 20);  // the artifact store's chunk size
  int round = 0;
  std::vector<double> dir_ms, file_ms, total_ms, hash_dir_ms, hash_file_ms, hash_total_ms;
  auto ours = [&](bool keep) {
    ++round;
    Settle(o);
    auto start = Clock::now();
    auto d = Must(store->client->LogArtifact(store->run, w.small, "small-" + std::to_string(round)),
                  "re-log " + w.small);
    double t_dir = Since(start);
    auto mid = Clock::now();
    auto f = Must(store->client->LogArtifact(store->run, w.big, "big-" + std::to_string(round)),
                  "re-log " + w.big);
    double t_file = Since(mid);
    if (d.file_count() != w.small_files || f.file_count() != 1) Fail("re-upload file counts");
    if (keep) {
      dir_ms.push_back(t_dir * 1e3);
      file_ms.push_back(t_file * 1e3);
      total_ms.push_back((t_dir + t_file) * 1e3);
    }
  };
  auto peer = [&](bool keep) {
    Settle(o);
    auto start = Clock::now();
    uint64_t n = HashTree(w.small, buf);
    double t_dir = Since(start);
    auto mid = Clock::now();
    n += HashTree(w.big, buf);
    double t_file = Since(mid);
    if (n != w.small_bytes + w.size) Fail("hashed " + std::to_string(n) + " bytes");
    if (keep) {
      hash_dir_ms.push_back(t_dir * 1e3);
      hash_file_ms.push_back(t_file * 1e3);
      hash_total_ms.push_back((t_dir + t_file) * 1e3);
    }
  };
  for (int i = 0; i < o.warmups; ++i) {
    ours(false);
    peer(false);
  }
  for (int i = 0; i < o.runs; ++i) {
    ours(true);
    peer(true);
  }
  const std::string dir = store->dir;
  store.reset();
  Discard(dir, true);
  auto emit = [&](const std::string& bench, std::vector<double> ours_ms,
                  std::vector<double> peer_ms, const std::string& what) {
    Comparison c;
    c.bench = bench;
    c.unit = "ms";
    c.peer = "sha256 in process";
    c.higher_is_better = false;
    c.target = "ratio>=1 (re-upload no slower than hashing the same bytes)";
    c.min_ratio = 1;
    c.ours = std::move(ours_ms);
    c.peer_values = std::move(peer_ms);
    c.params = BaseParams(o, w);
    c.params["what"] = what;
    c.params["files"] = std::to_string(w.small_files);
    c.params["peer_command"] = "walk + read(1 MiB) + OpenSSL SHA-256 of every file";
    EmitComparison(std::move(c));
  };
  emit("artifacts.reupload_unchanged", total_ms, hash_total_ms,
       "the small-file tree and the big file, re-logged unchanged to new paths");
  emit("artifacts.reupload_unchanged.dir", dir_ms, hash_dir_ms,
       "the small-file tree (per-directory stamps apply)");
  emit("artifacts.reupload_unchanged.file", file_ms, hash_file_ms,
       "the big file alone (a single file has no stamps)");
}

void Usage() {
  std::cerr << "usage: data_bench [--tiny] [--only hot_read,cold_fetch,upload,download,reupload]\n"
               "                  [--size-mib N] [--small-files N] [--small-kib N] [--runs N]\n"
               "                  [--read-kib N] [--tmp DIR] [--drop-caches] [--keep]\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* v = std::getenv("BENCH_DATA_SIZE_MIB"))
    o.size_mib = std::strtoull(v, nullptr, 10);
  if (const char* v = std::getenv("BENCH_DATA_SMALL_FILES")) o.small_files = std::atoi(v);
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
    if (a == "--tiny") {
      o.tiny = true;
    } else if (a == "--only") {
      std::stringstream list(next());
      std::string n;
      while (std::getline(list, n, ',')) {
        if (n != "hot_read" && n != "cold_fetch" && n != "upload" && n != "download" &&
            n != "reupload") {
          std::cerr << "data_bench: unknown benchmark \"" << n << "\"\n";
          Usage();
          return 2;
        }
        o.only.insert(n);
      }
    } else if (a == "--size-mib") {
      o.size_mib = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--small-files") {
      o.small_files = std::atoi(next().c_str());
    } else if (a == "--small-kib") {
      o.small_kib = std::atoi(next().c_str());
    } else if (a == "--runs") {
      o.runs = std::atoi(next().c_str());
    } else if (a == "--read-kib") {
      o.read_kib = std::atoi(next().c_str());
    } else if (a == "--tmp") {
      o.tmp = next();
    } else if (a == "--drop-caches") {
      o.drop_caches = true;
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      Usage();
      return 2;
    }
  }
  if (o.tiny) {
    o.size_mib = 4;
    o.small_files = 100;
    o.runs = 1;
    o.warmups = 0;
  }
  if (o.size_mib < 1 || o.small_files < 1 || o.small_kib < 1 || o.runs < 1 || o.read_kib < 1) {
    Usage();
    return 2;
  }
  if (o.tmp.empty()) {
    // <build dir>/bench-tmp: the executable lives in <build dir>/bench/.
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    o.tmp = ec ? fs::temp_directory_path().string() + "/mlc-bench-tmp"
               : (exe.parent_path().parent_path() / "bench-tmp").string();
  }
  ::signal(SIGPIPE, SIG_IGN);  // the origin server writes to sockets peers may close
  fs::create_directories(o.tmp);
  g_keep = o.keep;

  // Disk space: the big object exists up to ~5 times at once (source, store, temporary, copy,
  // download); size it down rather than fill the disk.
  struct statvfs vfs {};
  if (::statvfs(o.tmp.c_str(), &vfs) != 0) Fail("cannot statvfs " + o.tmp);
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  const uint64_t small_bytes = static_cast<uint64_t>(o.small_files) * o.small_kib * 1024;
  if (!o.tiny && free_bytes < 8 * kGiB) {
    uint64_t fit =
        free_bytes > kGiB + 4 * small_bytes ? (free_bytes - kGiB - 4 * small_bytes) / 6 : 0;
    uint64_t mib = std::max<uint64_t>(fit / kMiB, 4);
    if (mib < o.size_mib) {
      std::cerr << "data_bench: only " << free_bytes / kMiB << " MiB free under " << o.tmp
                << " (< 8 GiB); sizing the big object down from " << o.size_mib << " to " << mib
                << " MiB\n";
      o.size_mib = mib;
    }
  }
  if (free_bytes < 5 * o.size_mib * kMiB + 4 * small_bytes + 64 * kMiB) {
    Fail("not enough free space under " + o.tmp + " (" + std::to_string(free_bytes / kMiB) +
         " MiB free)");
  }

  g_work = o.tmp + "/data-" + std::to_string(::getpid());
  fs::remove_all(g_work);
  fs::create_directories(g_work);
  g_work = fs::canonical(g_work).string();

  Workload w;
  w.size = o.size_mib * kMiB;
  w.big = g_work + "/big.bin";
  w.small = g_work + "/small";
  w.small_files = o.small_files;
  w.small_bytes = small_bytes;
  const auto gen_start = Clock::now();
  WriteRandomFile(w.big, w.size, 1);
  const bool need_small = o.Want("upload") || o.Want("download") || o.Want("reupload");
  if (need_small) {
    for (int i = 0; i < o.small_files; ++i) {
      char sub[32], name[32];
      std::snprintf(sub, sizeof sub, "/d%02d", i % o.subdirs);
      std::snprintf(name, sizeof name, "/f%05d.bin", i);
      if (i < o.subdirs) fs::create_directories(w.small + sub);
      WriteRandomFile(w.small + sub + name, static_cast<uint64_t>(o.small_kib) * 1024,
                      static_cast<uint64_t>(i) + 2);
    }
  }
  Settle(o);
  std::cerr << "data_bench: " << o.size_mib << " MiB object and "
            << (need_small ? o.small_files : 0) << " small files under " << g_work << " ("
            << Since(gen_start) << " s)\n";

  if (o.Want("hot_read")) HotRead(o, w);
  if (o.Want("cold_fetch")) ColdFetch(o, w);
  if (o.Want("upload")) {
    Upload(o, w, true);
    Upload(o, w, false);
  }
  if (o.Want("download")) {
    auto store = FreshStore(FreshPath("store-dl"));
    auto big = Must(store->client->LogArtifact(store->run, w.big, "big"), "log " + w.big);
    auto small = Must(store->client->LogArtifact(store->run, w.small, "small"), "log " + w.small);
    Download(o, w, true, *store, big.id());
    Download(o, w, false, *store, small.id());
    const std::string dir = store->dir;
    store.reset();
    Discard(dir, true);
  }
  if (o.Want("reupload")) Reupload(o, w);
  Cleanup();
  return 0;
}
