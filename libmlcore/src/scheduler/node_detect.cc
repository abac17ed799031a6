#include "scheduler/node_detect.h"

#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace mlcore {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

int64_t CgroupCpuMillis(const std::string& root) {
  // cgroup v2: "max 100000" or "QUOTA PERIOD".
  std::istringstream in(ReadFirstLine(root + "/sys/fs/cgroup/cpu.max"));
  std::string quota;
  int64_t period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  try {
    return std::stoll(quota) * 1000 / period;
  } catch (...) {
    return 0;
  }
}

int64_t CgroupMemoryBytes(const std::string& root) {
  std::string line = ReadFirstLine(root + "/sys/fs/cgroup/memory.max");
  if (line.empty() || line == "max") return 0;
  try {
    return std::stoll(line);
  } catch (...) {
    return 0;
  }
}

bool OnPath(const std::string& program) {
  const char* path = getenv("PATH");
  if (path == nullptr) return false;
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace

std::string NormalizeGpuModel(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::istringstream words(lower);
  std::string word;
  while (words >> word) {
    if (word == "nvidia" || word == "tesla" || word == "geforce" || word == "quadro") continue;
    auto dash = word.find('-');
    return dash == std::string::npos ? word : word.substr(0, dash);
  }
  return lower;
}

Result<v1::Node> DetectLocalNode(const NodeDetectOptions& options) {
  v1::Node node;
  std::string name = options.name;
  if (name.empty()) {
    char host[256] = {};
    name = gethostname(host, sizeof host - 1) == 0 ? host : "localhost";
  }
  node.set_name(name);
  node.set_region(options.region);
  node.set_schedulable(true);
  auto* cap = node.mutable_capacity();

  int64_t cpus = 0;
  cpu_set_t set;
  if (options.root.empty() && sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int64_t cpu_millis = std::max<int64_t>(1, cpus) * 1000;
  if (int64_t quota = CgroupCpuMillis(options.root); quota > 0) {
    cpu_millis = std::min(cpu_millis, quota);
  }
  cap->set_cpu_millis(cpu_millis);

  std::ifstream meminfo(options.root + "/proc/meminfo");
  if (!meminfo) {
    return UnavailableError("cannot read " + options.root +
                            "/proc/meminfo to detect memory; set the node capacity in config");
  }
  int64_t mem_bytes = 0;
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb) {
    std::getline(meminfo, unit);
    if (key == "MemTotal:") {
      mem_bytes = kb * 1024;
      break;
    }
  }
  if (int64_t limit = CgroupMemoryBytes(options.root); limit > 0 && limit < mem_bytes) {
    mem_bytes = limit;
  }
  cap->set_memory_bytes(mem_bytes);

  if (!options.gpu_query.empty()) {
    std::string program = options.gpu_query.substr(0, options.gpu_query.find(' '));
    if (program.find('/') != std::string::npos ? access(program.c_str(), X_OK) == 0
                                               : OnPath(program)) {
      if (FILE* pipe = popen((options.gpu_query + " 2>/dev/null").c_str(), "r")) {
        char line[512];
        int gpus = 0;
        std::string model;
        while (fgets(line, sizeof line, pipe) != nullptr) {
          std::string s(line);
          while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
            s.pop_back();
          }
          if (s.empty()) continue;
          ++gpus;
          if (model.empty()) model = NormalizeGpuModel(s);
        }
        if (pclose(pipe) == 0 && gpus > 0) {
          cap->set_gpu(gpus);
          cap->set_gpu_model(model);
        }
      }
    }
  }

  const auto& o = options.overrides;
  if (o.cpu_millis() > 0) cap->set_cpu_millis(o.cpu_millis());
  if (o.memory_bytes() > 0) cap->set_memory_bytes(o.memory_bytes());
  if (o.gpu() > 0) cap->set_gpu(o.gpu());
  if (!o.gpu_model().empty()) cap->set_gpu_model(o.gpu_model());
  return node;
}

}  // namespace mlcore
