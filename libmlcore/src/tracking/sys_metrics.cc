#include "tracking/sys_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <optional>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char** environ;  // for posix_spawn

namespace mlcore::tracking {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr size_t kMaxHelperOutput = 64 << 10;

int64_t ClockUs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

int64_t TicksPerSecond() {
  static const int64_t hz = [] {
    long value = sysconf(_SC_CLK_TCK);
    return value > 0 ? int64_t{value} : int64_t{100};
  }();
  return hz;
}

int64_t PageSize() {
  static const int64_t size = [] {
    long value = sysconf(_SC_PAGESIZE);
    return value > 0 ? int64_t{value} : int64_t{4096};
  }();
  return size;
}

// "/proc/<pid>/<leaf>".
struct ProcPath {
  ProcPath(pid_t pid, const char* leaf) { snprintf(text, sizeof text, "/proc/%d/%s", pid, leaf); }
  char text[64];
};

// Reads at most `cap` bytes of a small /proc file with read(2): no iostreams, no allocation.
// Returns the length, or -1 with errno set. These files are generated whole on the first read, so
// a read that ends in a newline is the end: that saves a read(2) per file.
ssize_t ReadSmall(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len < cap) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
    if (buf[len - 1] == '\n') break;
  }
  close(fd);
  return static_cast<ssize_t>(len);
}

// Reads a whole file of at most `max` bytes into `out`.
bool ReadWhole(const char* path, std::string* out, size_t max) {
  out->clear();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[8192];
  bool ok = true;
  while (out->size() < max) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return ok;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Parses the integer after leading spaces at the front of `s` and drops it from `s`.
template <typename T>
bool NextNumber(std::string_view& s, T* out) {
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  auto result = std::from_chars(s.data() + i, s.data() + s.size(), *out);
  if (result.ec != std::errc()) return false;
  s.remove_prefix(static_cast<size_t>(result.ptr - s.data()));
  return true;
}

// A whole string as a number.
template <typename T>
bool ParseWhole(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto result = std::from_chars(s.data(), s.data() + s.size(), *out);
  return result.ec == std::errc() && result.ptr == s.data() + s.size();
}

// What a sample needs of /proc/PID/stat.
struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';
  int64_t cpu_ticks = 0;     // utime + stime + cutime + cstime (fields 14-17)
  uint64_t start_ticks = 0;  // field 22, clock ticks after boot
  int64_t rss_pages = 0;     // field 24
};

bool ParseStat(std::string_view text, ProcStat* st) {
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return false;
  std::string_view rest = text.substr(close + 1);
  size_t at = rest.find_first_not_of(' ');
  if (at == std::string_view::npos) return false;
  st->state = rest[at];
  rest.remove_prefix(at + 1);
  int64_t fields[25] = {};
  for (int i = 4; i <= 24; ++i) {
    if (!NextNumber(rest, &fields[i])) return false;
  }
  st->ppid = static_cast<pid_t>(fields[4]);
  st->cpu_ticks = fields[14] + fields[15] + fields[16] + fields[17];
  st->start_ticks = static_cast<uint64_t>(fields[22]);
  st->rss_pages = fields[24];
  return true;
}

// Every process in /proc, sorted by pid.
std::vector<ProcStat> ScanProcesses() {
  std::vector<ProcStat> all;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return all;
  all.reserve(512);
  char buf[2048];
  while (const dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    pid_t pid = 0;
    if (name.empty() || name[0] < '1' || name[0] > '9' || !ParseWhole(name, &pid)) continue;
    ssize_t n = ReadSmall(ProcPath(pid, "stat").text, buf, sizeof buf);
    ProcStat st;
    // A process may exit between readdir and read: it is then simply absent.
    if (n <= 0 || !ParseStat(std::string_view(buf, static_cast<size_t>(n)), &st)) continue;
    st.pid = pid;
    all.push_back(st);
  }
  closedir(dir);
  // readdir lists /proc in pid order already, so this is cheap.
  std::sort(all.begin(), all.end(),
            [](const ProcStat& a, const ProcStat& b) { return a.pid < b.pid; });
  return all;
}

// The processes of the tree under `root` (itself first), sorted by pid, found through
// /proc/PID/task/TID/children: it reads only the tree's own files, where ScanProcesses reads every
// process of the machine (hundreds of files when many jobs run). Returns nullopt when the kernel
// has no `children` files (CONFIG_PROC_CHILDREN off); an empty list when the root is gone.
std::optional<std::vector<ProcStat>> ScanTree(pid_t root) {
  std::vector<ProcStat> tree;
  std::vector<pid_t> queue = {root};
  char buf[4096];
  char path[96];
  for (size_t i = 0; i < queue.size() && queue.size() < 65536; ++i) {
    const pid_t pid = queue[i];
    ssize_t n = ReadSmall(ProcPath(pid, "stat").text, buf, sizeof buf);
    ProcStat st;
    if (n <= 0 || !ParseStat(std::string_view(buf, static_cast<size_t>(n)), &st)) continue;
    st.pid = pid;
    tree.push_back(st);
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR* tasks = opendir(path);
    if (tasks == nullptr) continue;
    while (const dirent* entry = readdir(tasks)) {
      pid_t tid = 0;
      if (entry->d_name[0] < '1' || entry->d_name[0] > '9' || !ParseWhole(entry->d_name, &tid)) {
        continue;
      }
      snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, tid);
      ssize_t m = ReadSmall(path, buf, sizeof buf);
      if (m < 0 && errno == ENOENT && access(path, F_OK) != 0 && i == 0 &&
          access(ProcPath(pid, "stat").text, F_OK) == 0) {
        closedir(tasks);
        return std::nullopt;  // the process exists but the kernel has no children files
      }
      std::string_view list(buf, m > 0 ? static_cast<size_t>(m) : 0);
      int64_t child = 0;
      while (NextNumber(list, &child)) queue.push_back(static_cast<pid_t>(child));
    }
    closedir(tasks);
  }
  std::sort(tree.begin(), tree.end(),
            [](const ProcStat& a, const ProcStat& b) { return a.pid < b.pid; });
  tree.erase(std::unique(tree.begin(), tree.end(),
                         [](const ProcStat& a, const ProcStat& b) { return a.pid == b.pid; }),
             tree.end());
  return tree;
}

enum class IoRead { kOk, kVanished, kUnavailable };

// read_bytes and write_bytes of /proc/PID/io (storage traffic of the process, its threads and its
// reaped children).
IoRead ReadIo(pid_t pid, int64_t* read_bytes, int64_t* write_bytes) {
  char buf[1024];
  ssize_t n = ReadSmall(ProcPath(pid, "io").text, buf, sizeof buf);
  if (n < 0) {
    int err = errno;
    // ENOENT also means a kernel without I/O accounting: tell it apart by the process's presence.
    if ((err == ENOENT || err == ESRCH) && access(ProcPath(pid, "stat").text, F_OK) != 0) {
      return IoRead::kVanished;
    }
    return IoRead::kUnavailable;
  }
  std::string_view text(buf, static_cast<size_t>(n));
  bool got_read = false;
  bool got_write = false;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.starts_with("read_bytes:")) {
      line.remove_prefix(11);
      got_read = NextNumber(line, read_bytes);
    } else if (line.starts_with("write_bytes:")) {
      line.remove_prefix(12);
      got_write = NextNumber(line, write_bytes);
    }
  }
  return got_read && got_write ? IoRead::kOk : IoRead::kUnavailable;
}

// Byte counters per interface of /proc/PID/net/dev (the network namespace of the process).
template <typename Map>
bool ReadNetDev(pid_t pid, Map* out) {
  std::string text;
  if (!ReadWhole(ProcPath(pid, "net/dev").text, &text, 4 << 20)) return false;
  std::string_view rest = text;
  for (int header = 0; header < 2; ++header) {
    size_t end = rest.find('\n');
    if (end == std::string_view::npos) return false;
    rest.remove_prefix(end + 1);
  }
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = Trim(line.substr(0, colon));
    std::string_view numbers = line.substr(colon + 1);
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes ...
    uint64_t values[9] = {};
    bool ok = true;
    for (uint64_t& value : values) ok = ok && NextNumber(numbers, &value);
    if (!ok) continue;
    auto& counters = (*out)[std::string(name)];
    counters.rx = values[0];
    counters.tx = values[8];
  }
  return true;
}

// The integer device indices of CUDA_VISIBLE_DEVICES, with CUDA's rules: an invalid entry hides
// itself and all after it, an empty value hides every device. Device UUIDs ("GPU-...", "MIG-...")
// cannot be mapped to indices here: no filtering then (nullopt).
std::optional<std::vector<int>> ParseVisibleDevices(std::string_view value) {
  std::vector<int> indices;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view token = Trim(value.substr(0, comma));
    value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
    if (token.starts_with("GPU-") || token.starts_with("MIG-")) return std::nullopt;
    int index = -1;
    if (!ParseWhole(token, &index) || index < 0) break;
    indices.push_back(index);
  }
  return indices;
}

// CUDA_VISIBLE_DEVICES in the environment `pid` was started with; nullopt when not set.
std::optional<std::vector<int>> VisibleDevicesOf(pid_t pid) {
  std::string env;
  if (!ReadWhole(ProcPath(pid, "environ").text, &env, 16 << 20)) return std::nullopt;
  constexpr std::string_view kKey = "CUDA_VISIBLE_DEVICES=";
  std::string_view rest = env;
  while (!rest.empty()) {
    size_t end = rest.find('\0');
    std::string_view entry = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    if (entry.starts_with(kKey)) return ParseVisibleDevices(entry.substr(kKey.size()));
  }
  return std::nullopt;
}

// "87", "250.5"; NaN for "[N/A]", "[Not Supported]" and other non-numbers.
double ParseGpuNumber(std::string_view s) {
  double value = 0;
  if (!ParseWhole(s, &value)) return std::numeric_limits<double>::quiet_NaN();
  return value;
}

// Lines "index, utilization %, memory used MiB, power W" of nvidia-smi's
// --format=csv,noheader,nounits. Lines that do not parse are skipped; false when none does.
bool ParseGpuCsv(std::string_view text, std::vector<GpuReading>* gpus) {
  gpus->clear();
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    std::string_view fields[4];
    size_t count = 0;
    while (count < 4) {
      size_t comma = line.find(',');
      fields[count++] = Trim(line.substr(0, comma));
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
    if (count != 4 || line.find(',') != std::string_view::npos) continue;
    GpuReading gpu;
    if (!ParseWhole(fields[0], &gpu.index) || gpu.index < 0) continue;
    gpu.utilization_percent = ParseGpuNumber(fields[1]);
    double mib = ParseGpuNumber(fields[2]);
    gpu.memory_bytes = std::isnan(mib) || mib < 0 ? -1 : static_cast<int64_t>(mib * kMiB);
    gpu.power_watts = ParseGpuNumber(fields[3]);
    gpus->push_back(gpu);
  }
  return !gpus->empty();
}

// `name` in a directory of $PATH; "" when not there.
std::string FindOnPath(const std::string& name) {
  const char* path = getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    dirs.remove_prefix(colon == std::string_view::npos ? dirs.size() : colon + 1);
    if (dir.empty()) continue;
    std::string candidate = std::string(dir) + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return {};
}

struct HelperResult {
  bool ok = false;  // exited with status 0 within the time limit
  std::string output;
  int64_t cpu_us = 0;  // CPU of the helper (and its children), now in our cutime/cstime
};

// Runs `argv` (argv[0] a path) with stdin and stderr on /dev/null, capturing stdout, in its own
// process group; the group is killed with SIGKILL when it has not finished after `timeout_ms`.
// posix_spawn (vfork-like in glibc) rather than fork: the sampler may live in a process with a
// large address space.
HelperResult RunHelper(const std::vector<std::string>& argv, int timeout_ms) {
  HelperResult result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr, &signals);
  // Dispositions the host may have set to "ignore" (SIG_IGN survives exec).
  for (int sig : {SIGPIPE, SIGCHLD, SIGINT, SIGQUIT, SIGTERM, SIGHUP}) sigaddset(&signals, sig);
  posix_spawnattr_setsigdefault(&attr, &signals);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawn_error = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (spawn_error != 0) {
    close(fds[0]);
    return result;
  }

  const int64_t deadline = ClockUs(CLOCK_MONOTONIC) + int64_t{timeout_ms} * 1000;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    int64_t left_us = deadline - ClockUs(CLOCK_MONOTONIC);
    if (left_us <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>((left_us + 999) / 1000));
    if (ready < 0 && errno != EINTR) {
      timed_out = true;  // cannot wait properly: give up on this run
      break;
    }
    if (ready <= 0) continue;
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // EOF: the helper closed its stdout
    if (result.output.size() < kMaxHelperOutput) result.output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);

  int status = 0;
  rusage usage{};
  bool reaped = false;
  bool lost = false;  // reaped by someone else (SIGCHLD ignored, or a reaping handler)
  while (!timed_out) {
    pid_t waited = wait4(pid, &status, WNOHANG, &usage);
    if (waited == pid) {
      reaped = true;
      break;
    }
    if (waited < 0 && errno != EINTR) {
      lost = true;
      break;
    }
    if (ClockUs(CLOCK_MONOTONIC) >= deadline) {
      timed_out = true;
      break;
    }
    timespec pause{0, 1000000};
    nanosleep(&pause, nullptr);
  }
  if (timed_out) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
  }
  result.cpu_us = int64_t{usage.ru_utime.tv_sec} * 1000000 + usage.ru_utime.tv_usec +
                  int64_t{usage.ru_stime.tv_sec} * 1000000 + usage.ru_stime.tv_usec;
  result.ok = !timed_out && (lost || (reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0));
  return result;
}

}  // namespace

void SystemSample::ForEachMetric(
    const std::function<void(std::string_view key, double value)>& fn) const {
  if (!root_alive) return;
  fn("system/cpu_percent", cpu_percent);
  fn("system/rss_bytes", static_cast<double>(rss_bytes));
  if (io_available) {
    fn("system/disk_read_bytes", static_cast<double>(disk_read_bytes));
    fn("system/disk_write_bytes", static_cast<double>(disk_write_bytes));
  }
  fn("system/net_rx_bytes", static_cast<double>(net_rx_bytes));
  fn("system/net_tx_bytes", static_cast<double>(net_tx_bytes));
  std::string key;
  for (const GpuReading& gpu : gpus) {
    std::string prefix = "system/gpu" + std::to_string(gpu.index) + "/";
    if (!std::isnan(gpu.utilization_percent)) {
      key = prefix + "utilization_percent";
      fn(key, gpu.utilization_percent);
    }
    if (gpu.memory_bytes >= 0) {
      key = prefix + "memory_bytes";
      fn(key, static_cast<double>(gpu.memory_bytes));
    }
    if (!std::isnan(gpu.power_watts)) {
      key = prefix + "power_watts";
      fn(key, gpu.power_watts);
    }
  }
}

SystemSampler::SystemSampler(pid_t root) : SystemSampler(root, Options()) {}

SystemSampler::SystemSampler(pid_t root, Options options)
    : root_(root), options_(std::move(options)) {
  created_ticks_ = static_cast<uint64_t>(ClockUs(CLOCK_BOOTTIME) / 1000 * TicksPerSecond() / 1000);
  try {
    Collect(/*baseline=*/true);
  } catch (...) {
    root_gone_ = true;  // out of memory: a sampler that reports nothing
  }
}

SystemSample SystemSampler::Sample() noexcept {
  try {
    return Collect(/*baseline=*/false);
  } catch (...) {
    SystemSample sample;
    sample.time_us = ClockUs(CLOCK_REALTIME);
    return sample;
  }
}

SystemSample SystemSampler::Collect(bool baseline) {
  SystemSample sample;
  sample.time_us = ClockUs(CLOCK_REALTIME);
  const int64_t mono_us = ClockUs(CLOCK_MONOTONIC);
  const int64_t elapsed_us = mono_us - last_mono_us_;
  last_mono_us_ = mono_us;
  const int64_t helper_cpu_us = helper_cpu_us_;
  helper_cpu_us_ = 0;
  if (root_gone_) return sample;

  std::optional<std::vector<ProcStat>> tree = ScanTree(root_);
  const std::vector<ProcStat> all = tree ? std::move(*tree) : ScanProcesses();
  auto find = [&all](pid_t pid) -> const ProcStat* {
    auto it = std::lower_bound(all.begin(), all.end(), pid,
                               [](const ProcStat& p, pid_t value) { return p.pid < value; });
    return it != all.end() && it->pid == pid ? &*it : nullptr;
  };
  const ProcStat* root = find(root_);
  if (baseline && root != nullptr) root_start_ticks_ = root->start_ticks;
  if (root == nullptr || root->start_ticks != root_start_ticks_ || root->state == 'Z' ||
      root->state == 'X' || root->state == 'x') {
    // Exited (a zombie never comes back, and a recycled pid is another process).
    root_gone_ = true;
    tracked_.clear();
    net_.clear();
    return sample;
  }
  sample.root_alive = true;

  // The tree: breadth-first from the root over parent pids.
  std::vector<const ProcStat*> by_parent;
  by_parent.reserve(all.size());
  for (const ProcStat& p : all) by_parent.push_back(&p);
  std::sort(by_parent.begin(), by_parent.end(),
            [](const ProcStat* a, const ProcStat* b) { return a->ppid < b->ppid; });
  std::vector<const ProcStat*> members = {root};
  for (size_t i = 0; i < members.size() && members.size() <= all.size(); ++i) {
    const pid_t parent = members[i]->pid;
    auto it = std::lower_bound(by_parent.begin(), by_parent.end(), parent,
                               [](const ProcStat* p, pid_t value) { return p->ppid < value; });
    for (; it != by_parent.end() && (*it)->ppid == parent; ++it) {
      if ((*it)->pid != root_) members.push_back(*it);
    }
  }

  // Accounting (see the class comment): growth of known processes, whole counters of new ones,
  // minus what was accounted for processes that have been reaped since.
  const pid_t self = getpid();
  bool self_in_tree = false;
  bool io_ok = true;
  int64_t cpu_ticks = 0;
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
  std::unordered_map<pid_t, Tracked> next;
  next.reserve(members.size());
  for (const ProcStat* p : members) {
    const bool zombie = p->state == 'Z';
    if (!zombie) {
      ++sample.process_count;
      sample.rss_bytes += p->rss_pages * PageSize();
    }
    if (p->pid == self) self_in_tree = true;
    const Tracked* old = nullptr;
    if (auto it = tracked_.find(p->pid);
        it != tracked_.end() && it->second.start_ticks == p->start_ticks) {
      old = &it->second;
    }
    // A process the sampler has not seen that started after it was created: all its CPU and I/O
    // happened since. One seen at creation is a baseline.
    const bool fresh = old == nullptr && !baseline && p->start_ticks >= created_ticks_;
    Tracked now;
    now.start_ticks = p->start_ticks;
    now.cpu_ticks = p->cpu_ticks;
    int64_t io_read = 0;
    int64_t io_write = 0;
    IoRead io = ReadIo(p->pid, &io_read, &io_write);
    if (io == IoRead::kOk) {
      now.io_known = true;
      now.read_bytes = io_read;
      now.write_bytes = io_write;
    } else if (io == IoRead::kVanished || zombie) {
      // Exited since the scan: keep what was accounted; its reaper's counters will hold the rest.
      now.io_known = old != nullptr ? old->io_known : fresh;
      now.read_bytes = old != nullptr ? old->read_bytes : 0;
      now.write_bytes = old != nullptr ? old->write_bytes : 0;
    } else {
      io_ok = false;
    }
    if (old != nullptr) {
      cpu_ticks += now.cpu_ticks - old->cpu_ticks;
      if (old->io_known && now.io_known) {
        read_bytes += now.read_bytes - old->read_bytes;
        write_bytes += now.write_bytes - old->write_bytes;
      }
    } else if (fresh) {
      cpu_ticks += now.cpu_ticks;
      if (now.io_known) {
        read_bytes += now.read_bytes;
        write_bytes += now.write_bytes;
      }
    }
    next[p->pid] = now;
  }
  for (const auto& [pid, old] : tracked_) {
    if (auto it = next.find(pid); it != next.end() && it->second.start_ticks == old.start_ticks) {
      continue;
    }
    const ProcStat* p = find(pid);
    if (p != nullptr && p->start_ticks == old.start_ticks) {
      // Alive outside the tree (orphaned): count its growth until now, then no longer follow it.
      cpu_ticks += p->cpu_ticks - old.cpu_ticks;
      int64_t io_read = 0;
      int64_t io_write = 0;
      if (old.io_known && ReadIo(pid, &io_read, &io_write) == IoRead::kOk) {
        read_bytes += io_read - old.read_bytes;
        write_bytes += io_write - old.write_bytes;
      }
    } else {
      // Reaped: its parent's cutime/cstime and I/O now include what was accounted for it.
      cpu_ticks -= old.cpu_ticks;
      if (old.io_known) {
        read_bytes -= old.read_bytes;
        write_bytes -= old.write_bytes;
      }
    }
  }
  tracked_ = std::move(next);
  if (self_in_tree) cpu_ticks -= helper_cpu_us * TicksPerSecond() / 1000000;

  std::unordered_map<std::string, NetCounters> net;
  int64_t rx = 0;
  int64_t tx = 0;
  if (ReadNetDev(root_, &net)) {
    for (const auto& [name, counters] : net) {
      auto it = net_.find(name);
      // Loopback is not network traffic; a new interface counts from now on; a counter that went
      // back (interface re-created) restarts.
      if (name == "lo" || it == net_.end()) continue;
      if (counters.rx >= it->second.rx) rx += static_cast<int64_t>(counters.rx - it->second.rx);
      if (counters.tx >= it->second.tx) tx += static_cast<int64_t>(counters.tx - it->second.tx);
    }
    net_ = std::move(net);
  }

  if (baseline) return sample;
  if (elapsed_us > 0 && cpu_ticks > 0) {
    double percent = static_cast<double>(cpu_ticks) * 1e8 / static_cast<double>(TicksPerSecond()) /
                     static_cast<double>(elapsed_us);
    // Clock ticks are coarse (10 ms): over a very short interval one tick is a large percentage.
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    sample.cpu_percent = std::min(percent, 100.0 * static_cast<double>(std::max(cpus, 1L)));
  }
  sample.io_available = io_ok;
  if (io_ok) {
    sample.disk_read_bytes = std::max<int64_t>(read_bytes, 0);
    sample.disk_write_bytes = std::max<int64_t>(write_bytes, 0);
  }
  sample.net_rx_bytes = rx;
  sample.net_tx_bytes = tx;
  QueryGpus(sample);
  return sample;
}

void SystemSampler::QueryGpus(SystemSample& sample) {
  if (gpus_disabled_) return;
  if (nvidia_smi_.empty()) {
    const std::string& path = options_.nvidia_smi_path;
    if (path == "-") {
      gpus_disabled_ = true;
      return;
    }
    std::string name = path.empty() ? "nvidia-smi" : path;
    nvidia_smi_ = name.find('/') == std::string::npos ? FindOnPath(name) : name;
    if (nvidia_smi_.empty()) {
      gpus_disabled_ = true;  // no nvidia-smi, no GPUs: not a failure
      return;
    }
  }
  std::optional<std::vector<int>> wanted;
  if (!options_.gpu_indices.empty()) {
    wanted = options_.gpu_indices;
  } else {
    wanted = VisibleDevicesOf(root_);
  }
  if (wanted && wanted->empty()) return;  // the process sees no GPU

  HelperResult run =
      RunHelper({nvidia_smi_, "--query-gpu=index,utilization.gpu,memory.used,power.draw",
                 "--format=csv,noheader,nounits"},
                options_.gpu_timeout_ms);
  helper_cpu_us_ += run.cpu_us;
  std::vector<GpuReading> gpus;
  if (!run.ok || !ParseGpuCsv(run.output, &gpus)) {
    if (++gpu_failures_ >= kMaxGpuFailures) gpus_disabled_ = true;
    return;
  }
  gpu_failures_ = 0;
  for (const GpuReading& gpu : gpus) {
    if (!wanted || std::find(wanted->begin(), wanted->end(), gpu.index) != wanted->end()) {
      sample.gpus.push_back(gpu);
    }
  }
}

}  // namespace mlcore::tracking
