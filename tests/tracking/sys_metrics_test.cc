#include "tracking/sys_metrics.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <vector>

#include <doctest/doctest.h>

namespace mlcore::tracking {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// Keeps allocations observable so the compiler cannot drop them.
char* volatile g_sink = nullptr;

void SleepMs(int ms) {
  timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Uses `seconds` of CPU (not wall time: the machine may be busy).
void BurnCpu(double seconds) {
  const double start = ProcessCpuSeconds();
  volatile uint64_t x = 0;
  while (ProcessCpuSeconds() - start < seconds) {
    for (int i = 0; i < 100000; ++i) x = x + i;
  }
}

// A pipe for one-byte messages between the test and its children.
struct Pipe {
  Pipe() { REQUIRE(pipe(fds) == 0); }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void Send(char c) const { REQUIRE(write(fds[1], &c, 1) == 1); }
  void SendInt(int value) const {
    REQUIRE(write(fds[1], &value, sizeof value) == static_cast<ssize_t>(sizeof value));
  }
  // Waits (at most 60 s, so a broken child fails the test instead of hanging it) for `size` bytes.
  bool Receive(void* data, size_t size) const {
    size_t got = 0;
    while (got < size) {
      pollfd pfd{fds[0], POLLIN, 0};
      if (poll(&pfd, 1, 60000) <= 0) return false;
      ssize_t n = read(fds[0], static_cast<char*>(data) + got, size - got);
      if (n <= 0) return false;
      got += static_cast<size_t>(n);
    }
    return true;
  }
  char Get() const {
    char c = 0;
    REQUIRE(Receive(&c, 1));
    return c;
  }
  int GetInt() const {
    int value = 0;
    REQUIRE(Receive(&value, sizeof value));
    return value;
  }
  // In a child: blocks until the test sends a byte.
  char ChildGet() const {
    char c = 0;
    while (read(fds[0], &c, 1) < 0 && errno == EINTR) {
    }
    return c;
  }
  void ChildSend(char c) const { (void)!write(fds[1], &c, 1); }
  void ChildSendInt(int value) const { (void)!write(fds[1], &value, sizeof value); }
  int fds[2] = {-1, -1};
};

// A forked child running `body` in its own process group (then _exit(0)); the whole group is
// killed when the object goes.
class Child {
 public:
  explicit Child(const std::function<void()>& body) {
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      setpgid(0, 0);
      body();
      _exit(0);
    }
    setpgid(pid_, pid_);
  }
  // Runs `argv` with exactly the environment `env`.
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    std::vector<char*> args;
    std::vector<char*> envp;
    args.reserve(argv.size() + 1);
    envp.reserve(env.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    args.push_back(nullptr);
    envp.push_back(nullptr);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      setpgid(0, 0);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
  }
  ~Child() {
    kill(-pid_, SIGKILL);
    Reap();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void Reap() {
    if (reaped_) return;
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// State letter of a process from /proc/PID/stat; 0 when it does not exist.
char StateOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
}

// Polls (up to 10 s) until `done` holds.
bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    SleepMs(5);
  }
  return done();
}

// Waits until a forked-and-exec'd child runs `comm` and has blocked in it (state S), so that
// /proc/PID/environ is its own. The comm alone is not enough: the kernel renames the task before
// it lays out the new stack, and environ reads empty in between.
void WaitForExec(pid_t pid, const std::string& comm) {
  REQUIRE(WaitFor([&] {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    if (name != comm) return false;
    std::ifstream stat_in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_in)), std::istreambuf_iterator<char>());
    size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'S';
  }));
}

SystemSampler::Options NoGpus() {
  SystemSampler::Options options;
  options.nvidia_smi_path = "-";
  return options;
}

// CPU seconds a sample accounts for: its percentage over the time since `previous`.
double CpuSeconds(const SystemSample& sample, const SystemSample& previous) {
  return sample.cpu_percent / 100.0 * static_cast<double>(sample.time_us - previous.time_us) / 1e6;
}

// A temporary directory, removed with its files.
struct TempDir {
  explicit TempDir(const std::string& parent = "/tmp") {
    std::string pattern = parent + "/sys_metrics_test.XXXXXX";
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    for (const auto& file : files) unlink(file.c_str());
    rmdir(path.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) {
    files.push_back(path + "/" + name);
    return files.back();
  }
  // An executable shell script.
  std::string Script(const std::string& name, const std::string& body) {
    std::string file = File(name);
    std::ofstream(file) << "#!/bin/sh\n" << body << "\n";
    REQUIRE(chmod(file.c_str(), 0755) == 0);
    return file;
  }
  std::string path;
  std::vector<std::string> files;
};

int LinesOf(const std::string& file) {
  std::ifstream in(file);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

std::vector<std::string> KeysOf(const SystemSample& sample) {
  std::vector<std::string> keys;
  sample.ForEachMetric([&](std::string_view key, double) { keys.emplace_back(key); });
  return keys;
}

TEST_CASE("an idle tree reports about no CPU, a busy descendant raises it") {
  Pipe command;
  Pipe ready;
  Child root([&] {
    ready.ChildSend('r');
    command.ChildGet();
    // Two burners, a child and a grandchild, each in a session of its own: with autogroup
    // scheduling a session is a scheduling group, and this machine may be busy with other work.
    if (fork() == 0) {
      setsid();
      if (fork() == 0) {
        setsid();
        ready.ChildSendInt(getpid());
        for (;;) BurnCpu(1);
      }
      ready.ChildSendInt(getpid());
      for (;;) BurnCpu(1);
    }
    pause();
  });
  CHECK(ready.Get() == 'r');
  SystemSampler sampler(root.pid(), NoGpus());
  SleepMs(300);
  SystemSample idle = sampler.Sample();
  CHECK(idle.root_alive);
  CHECK(idle.process_count == 1);
  CHECK(idle.cpu_percent >= 0);
  CHECK(idle.cpu_percent < 10);
  CHECK(idle.gpus.empty());

  command.Send('b');
  // Outside the root's process group: killed one by one.
  struct Burners {
    ~Burners() {
      for (pid_t pid : pids) kill(pid, SIGKILL);
    }
    std::vector<pid_t> pids;
  } burners;
  burners.pids.push_back(ready.GetInt());
  burners.pids.push_back(ready.GetInt());
  sampler.Sample();  // from now on both burn
  SleepMs(300);
  SystemSample busy = sampler.Sample();
  CHECK(busy.root_alive);
  CHECK(busy.process_count == 3);
  CHECK(busy.cpu_percent > 20);
  CHECK(busy.cpu_percent <= 100.0 * static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN)));
}

TEST_CASE("CPU of a descendant that exits between samples is counted exactly once") {
  Pipe command;
  Pipe ready;
  Child root([&] {
    command.ChildGet();
    pid_t burner = fork();
    if (burner == 0) {
      BurnCpu(0.15);
      ready.ChildSend('h');
      BurnCpu(0.15);
      _exit(0);
    }
    waitpid(burner, nullptr, 0);
    ready.ChildSend('r');
    command.ChildGet();
  });
  SystemSampler sampler(root.pid(), NoGpus());
  SystemSample s0 = sampler.Sample();
  command.Send('e');
  CHECK(ready.Get() == 'h');
  SystemSample s1 = sampler.Sample();  // the burner alive, half way
  CHECK(s1.process_count == 2);
  CHECK(ready.Get() == 'r');
  SystemSample s2 = sampler.Sample();  // the burner exited and reaped by the root
  CHECK(s2.process_count == 1);
  SleepMs(100);
  SystemSample s3 = sampler.Sample();

  const double first = CpuSeconds(s1, s0);
  const double second = CpuSeconds(s2, s1);
  INFO("first half ", first, " s, second half ", second, " s");
  CHECK(first >= 0.1);
  CHECK(second >= 0.1);
  // 0.3 s burned: not lost, not counted twice (clock ticks are 10 ms; forking costs a little).
  CHECK(first + second >= 0.25);
  CHECK(first + second <= 0.45);
  CHECK(CpuSeconds(s3, s2) < 0.03);
}

TEST_CASE("resident memory of a child counts") {
  Pipe command;
  Pipe ready;
  Child root([&] {
    command.ChildGet();
    if (fork() == 0) {
      char* block = static_cast<char*>(malloc(200 * kMiB));
      memset(block, 1, 200 * kMiB);
      g_sink = block;
      ready.ChildSend('m');
      pause();
    }
    pause();
  });
  SystemSampler sampler(root.pid(), NoGpus());
  SystemSample before = sampler.Sample();
  CHECK(before.rss_bytes > 0);
  command.Send('m');
  CHECK(ready.Get() == 'm');
  SystemSample after = sampler.Sample();
  CHECK(after.process_count == 2);
  CHECK(after.rss_bytes - before.rss_bytes >= 150 * kMiB);
}

TEST_CASE("grandchildren belong to the tree; zombies and orphans do not count") {
  Pipe ready;
  Pipe orphan_ready;
  Child root([&] {
    pid_t child = fork();
    if (child == 0) {
      pid_t grandchild = fork();
      if (grandchild == 0) {
        pause();
        _exit(0);
      }
      ready.ChildSendInt(grandchild);
      for (;;) pause();  // never reaps the grandchild
    }
    pid_t leaver = fork();
    if (leaver == 0) {
      // Leaves an orphan behind: reparented out of the tree.
      if (fork() == 0) {
        orphan_ready.ChildSendInt(getpid());
        pause();
        _exit(0);
      }
      _exit(0);
    }
    waitpid(leaver, nullptr, 0);
    for (;;) pause();
  });
  const pid_t grandchild = ready.GetInt();
  const pid_t orphan = orphan_ready.GetInt();
  REQUIRE(WaitFor([&] { return StateOf(orphan) == 'S'; }));
  SystemSampler sampler(root.pid(), NoGpus());
  // The leaver may not be reaped yet: wait until the tree holds root, child and grandchild.
  REQUIRE(WaitFor([&] { return sampler.Sample().process_count == 3; }));

  kill(grandchild, SIGKILL);
  REQUIRE(WaitFor([&] { return StateOf(grandchild) == 'Z'; }));
  SystemSample sample = sampler.Sample();
  CHECK(sample.root_alive);
  CHECK(sample.process_count == 2);
  kill(orphan, SIGKILL);
}

// A directory on a file system that accounts writes to storage (not tmpfs or ramfs), or "".
std::string DiskDirectory() {
  std::vector<std::string> candidates;
  if (const char* tmpdir = getenv("TMPDIR")) candidates.emplace_back(tmpdir);
  for (const char* dir : {"/var/tmp", "/tmp", "."}) candidates.emplace_back(dir);
  for (const auto& dir : candidates) {
    struct statfs fs {};
    if (statfs(dir.c_str(), &fs) != 0 || access(dir.c_str(), W_OK) != 0) continue;
    if (fs.f_type == 0x01021994 || fs.f_type == static_cast<decltype(fs.f_type)>(0x858458f6)) {
      continue;  // tmpfs, ramfs
    }
    return dir;
  }
  return {};
}

TEST_CASE("disk writes of a child are counted, also after it exits") {
  std::ifstream self_io("/proc/self/io");
  std::string line;
  if (!std::getline(self_io, line)) {
    MESSAGE("/proc/self/io unreadable: disk accounting not checked");
    return;
  }
  const std::string dir = DiskDirectory();
  if (dir.empty()) {
    MESSAGE("no disk-backed temporary directory: disk accounting not checked");
    return;
  }
  TempDir temp(dir);
  const std::string file = temp.File("data");
  Pipe command;
  Pipe ready;
  Child root([&] {
    command.ChildGet();
    pid_t writer = fork();
    if (writer == 0) {
      int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      std::vector<char> chunk(kMiB, 'x');
      for (int half = 0; half < 2; ++half) {
        for (int i = 0; i < 25; ++i) (void)!write(fd, chunk.data(), chunk.size());
        fsync(fd);
        if (half == 0) {
          ready.ChildSend('h');
          command.ChildGet();
        }
      }
      close(fd);
      _exit(0);
    }
    waitpid(writer, nullptr, 0);
    ready.ChildSend('d');
    pause();
  });
  SystemSampler sampler(root.pid(), NoGpus());
  command.Send('w');
  CHECK(ready.Get() == 'h');
  SystemSample first = sampler.Sample();  // the writer alive, 25 MiB written
  command.Send('c');
  CHECK(ready.Get() == 'd');
  SystemSample second = sampler.Sample();  // 25 MiB more, the writer exited and reaped
  if (!first.io_available || !second.io_available) {
    MESSAGE("/proc/PID/io unavailable for the tree: disk accounting not checked");
    return;
  }
  CHECK(first.disk_write_bytes >= 20 * kMiB);
  CHECK(second.disk_write_bytes >= 20 * kMiB);
  CHECK(first.disk_write_bytes + second.disk_write_bytes >= 40 * kMiB);
  CHECK(first.disk_write_bytes + second.disk_write_bytes <= 60 * kMiB);  // not counted twice
  CHECK(sampler.Sample().disk_write_bytes < 5 * kMiB);
}

TEST_CASE("network bytes are those of the root's network namespace, loopback excluded") {
  SystemSampler sampler(getpid(), NoGpus());
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(sock >= 0);
  // TEST-NET-2 (RFC 5737), discard port: leaves through the default route, reaches no one.
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  inet_pton(AF_INET, "198.51.100.1", &to.sin_addr);
  std::vector<char> payload(1024, 'n');
  int sent = 0;
  for (int i = 0; i < 64; ++i) {
    if (sendto(sock, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to),
               sizeof to) == static_cast<ssize_t>(payload.size())) {
      ++sent;
    }
  }
  close(sock);
  SystemSample sample = sampler.Sample();
  CHECK(sample.root_alive);
  CHECK(sample.net_rx_bytes >= 0);
  if (sent < 64) {
    MESSAGE("no route for UDP to 198.51.100.1: transmit accounting not checked");
    return;
  }
  // Some devices (virtio) count a packet once the host reports it sent: a moment later.
  constexpr int64_t kSent = int64_t{64} * 1024;
  int64_t tx = sample.net_tx_bytes;
  WaitFor([&] {
    if (tx < kSent) tx += sampler.Sample().net_tx_bytes;
    return tx >= kSent;
  });
  CHECK(tx >= kSent);
}

constexpr const char* kTwoGpus = "echo '0, 87, 10240, 250.5'\necho '1, 3, 512, [N/A]'";

TEST_CASE("GPU figures come from nvidia-smi's CSV, memory in bytes") {
  TempDir temp;
  SystemSampler::Options options;
  options.nvidia_smi_path = temp.Script("nvidia-smi", kTwoGpus);
  Child root({"/bin/sleep", "60"}, {"PATH=/usr/bin:/bin"});
  WaitForExec(root.pid(), "sleep");
  SystemSampler sampler(root.pid(), options);
  SystemSample sample = sampler.Sample();
  REQUIRE(sample.gpus.size() == 2);
  CHECK(sample.gpus[0].index == 0);
  CHECK(sample.gpus[0].utilization_percent == 87);
  CHECK(sample.gpus[0].memory_bytes == 10240 * kMiB);
  CHECK(sample.gpus[0].power_watts == doctest::Approx(250.5));
  CHECK(sample.gpus[1].index == 1);
  CHECK(sample.gpus[1].utilization_percent == 3);
  CHECK(sample.gpus[1].memory_bytes == 512 * kMiB);
  CHECK(std::isnan(sample.gpus[1].power_watts));  // [N/A]: NaN, and no metric

  std::vector<std::string> keys = KeysOf(sample);
  std::vector<std::string> gpu_keys(keys.end() - 5, keys.end());
  CHECK(gpu_keys == std::vector<std::string>{"system/gpu0/utilization_percent",
                                             "system/gpu0/memory_bytes", "system/gpu0/power_watts",
                                             "system/gpu1/utilization_percent",
                                             "system/gpu1/memory_bytes"});
  // Asked again on every sample.
  CHECK(sampler.Sample().gpus.size() == 2);
}

TEST_CASE("GPUs are filtered by the option, else by the root's CUDA_VISIBLE_DEVICES") {
  TempDir temp;
  const std::string calls = temp.File("calls");
  SystemSampler::Options options;
  options.nvidia_smi_path =
      temp.Script("nvidia-smi", "echo called >> '" + calls + "'\n" + kTwoGpus);

  SUBCASE("option") {
    Child root({"/bin/sleep", "60"}, {"CUDA_VISIBLE_DEVICES=0"});
    WaitForExec(root.pid(), "sleep");
    options.gpu_indices = {1, 5};
    SystemSample sample = SystemSampler(root.pid(), options).Sample();
    REQUIRE(sample.gpus.size() == 1);
    CHECK(sample.gpus[0].index == 1);
  }
  SUBCASE("CUDA_VISIBLE_DEVICES") {
    Child root({"/bin/sleep", "60"}, {"CUDA_VISIBLE_DEVICES=1"});
    WaitForExec(root.pid(), "sleep");
    SystemSample sample = SystemSampler(root.pid(), options).Sample();
    REQUIRE(sample.gpus.size() == 1);
    CHECK(sample.gpus[0].index == 1);
  }
  SUBCASE("CUDA_VISIBLE_DEVICES stops at an invalid entry") {
    Child root({"/bin/sleep", "60"}, {"CUDA_VISIBLE_DEVICES=0,-1,1"});
    WaitForExec(root.pid(), "sleep");
    SystemSample sample = SystemSampler(root.pid(), options).Sample();
    REQUIRE(sample.gpus.size() == 1);
    CHECK(sample.gpus[0].index == 0);
  }
  SUBCASE("CUDA_VISIBLE_DEVICES with UUIDs does not filter") {
    Child root({"/bin/sleep", "60"}, {"CUDA_VISIBLE_DEVICES=GPU-8a1b"});
    WaitForExec(root.pid(), "sleep");
    CHECK(SystemSampler(root.pid(), options).Sample().gpus.size() == 2);
  }
  SUBCASE("empty CUDA_VISIBLE_DEVICES: no GPU, nvidia-smi not run") {
    Child root({"/bin/sleep", "60"}, {"CUDA_VISIBLE_DEVICES="});
    WaitForExec(root.pid(), "sleep");
    CHECK(SystemSampler(root.pid(), options).Sample().gpus.empty());
    CHECK(LinesOf(calls) == 0);
  }
}

TEST_CASE("a hanging nvidia-smi is killed with its process group after the timeout") {
  TempDir temp;
  const std::string pid_file = temp.File("pid");
  SystemSampler::Options options;
  // The background sleep shares the script's process group and its stdout (our pipe).
  options.nvidia_smi_path = temp.Script(
      "nvidia-smi", "sleep 10 &\necho $! > '" + pid_file + "'\necho '0, 1, 1, 1'\nwait");
  options.gpu_timeout_ms = 300;
  Child root({"/bin/sleep", "60"}, {});
  WaitForExec(root.pid(), "sleep");
  SystemSampler sampler(root.pid(), options);
  SystemSample sample = sampler.Sample();
  CHECK(sample.root_alive);
  CHECK(sample.gpus.empty());
  pid_t sleeper = 0;
  REQUIRE(WaitFor([&] {
    std::ifstream in(pid_file);
    return static_cast<bool>(in >> sleeper);
  }));
  // Killed: gone, or a zombie waiting for a reaper that is not us.
  CHECK(WaitFor([&] {
    char state = StateOf(sleeper);
    return state == 0 || state == 'Z';
  }));
}

TEST_CASE("after 3 failures in a row nvidia-smi is no longer run") {
  TempDir temp;
  const std::string calls = temp.File("calls");
  SystemSampler::Options options;
  Child root({"/bin/sleep", "60"}, {});
  WaitForExec(root.pid(), "sleep");

  SUBCASE("non-zero exit") {
    options.nvidia_smi_path = temp.Script("nvidia-smi", "echo x >> '" + calls + "'\nexit 1");
  }
  SUBCASE("unparseable output") {
    options.nvidia_smi_path =
        temp.Script("nvidia-smi", "echo x >> '" + calls + "'\necho 'No devices were found'");
  }
  SystemSampler sampler(root.pid(), options);
  for (int i = 0; i < 5; ++i) {
    SystemSample sample = sampler.Sample();
    CHECK(sample.root_alive);
    CHECK(sample.gpus.empty());
  }
  CHECK(LinesOf(calls) == 3);
}

TEST_CASE("a missing or disabled nvidia-smi means no GPUs") {
  Child root({"/bin/sleep", "60"}, {});
  WaitForExec(root.pid(), "sleep");
  for (const char* path : {"-", "/nonexistent/nvidia-smi", "no-such-nvidia-smi-on-path"}) {
    SystemSampler::Options options;
    options.nvidia_smi_path = path;
    SystemSampler sampler(root.pid(), options);
    INFO(path);
    for (int i = 0; i < 4; ++i) CHECK(sampler.Sample().gpus.empty());
  }
}

TEST_CASE("ForEachMetric names exactly the documented keys") {
  SystemSample sample;
  sample.root_alive = true;
  sample.io_available = true;
  sample.cpu_percent = 150;
  sample.rss_bytes = 7;
  sample.disk_read_bytes = 1;
  sample.disk_write_bytes = 2;
  sample.net_rx_bytes = 3;
  sample.net_tx_bytes = 4;
  sample.gpus.push_back({2, 50, 1024, 100});
  sample.gpus.push_back({3, NAN, -1, NAN});
  std::vector<std::pair<std::string, double>> metrics;
  sample.ForEachMetric(
      [&](std::string_view key, double value) { metrics.emplace_back(std::string(key), value); });
  CHECK(metrics == std::vector<std::pair<std::string, double>>{
                       {"system/cpu_percent", 150},
                       {"system/rss_bytes", 7},
                       {"system/disk_read_bytes", 1},
                       {"system/disk_write_bytes", 2},
                       {"system/net_rx_bytes", 3},
                       {"system/net_tx_bytes", 4},
                       {"system/gpu2/utilization_percent", 50},
                       {"system/gpu2/memory_bytes", 1024},
                       {"system/gpu2/power_watts", 100},
                   });

  sample.io_available = false;
  sample.gpus.clear();
  CHECK(KeysOf(sample) == std::vector<std::string>{"system/cpu_percent", "system/rss_bytes",
                                                   "system/net_rx_bytes", "system/net_tx_bytes"});
  sample.root_alive = false;
  CHECK(KeysOf(sample).empty());
}

TEST_CASE("the root exiting: root_alive false, figures 0") {
  TempDir temp;
  const std::string calls = temp.File("calls");
  SystemSampler::Options options;
  options.nvidia_smi_path = temp.Script("nvidia-smi", "echo x >> '" + calls + "'\nexit 1");
  Pipe command;
  Child root([&] { command.ChildGet(); });
  SystemSampler sampler(root.pid(), options);
  SystemSample alive = sampler.Sample();
  CHECK(alive.root_alive);
  CHECK(alive.process_count == 1);
  CHECK(alive.rss_bytes > 0);

  command.Send('q');
  REQUIRE(WaitFor([&] { return StateOf(root.pid()) == 'Z'; }));
  SystemSample zombie = sampler.Sample();
  CHECK_FALSE(zombie.root_alive);
  CHECK(zombie.time_us > 0);
  CHECK(zombie.process_count == 0);
  CHECK(zombie.cpu_percent == 0);
  CHECK(zombie.rss_bytes == 0);
  CHECK(zombie.net_rx_bytes == 0);
  CHECK(KeysOf(zombie).empty());

  root.Reap();
  CHECK_FALSE(sampler.Sample().root_alive);
  CHECK(LinesOf(calls) == 1);  // nvidia-smi is not run for an exited root
  CHECK_FALSE(SystemSampler(root.pid(), NoGpus()).Sample().root_alive);
}

}  // namespace
}  // namespace mlcore::tracking
