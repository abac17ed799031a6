// A benchmark's peer (a Python script driving MLflow) as a child process: one JSON command per
// line on its stdin, one JSON answer per line on its stdout; its stderr passes through.
//
// Protocol: the child first prints {"ready": true, ...}; then each command line gets one answer
// line; an answer holding "error" is a failure; {"op": "quit"} ends it.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlcore::bench {

class PeerProcess {
 public:
  // `fail` reports an error and does not return (the benchmark's own exit path, which may call
  // Kill()).
  explicit PeerProcess(std::function<void(const std::string&)> fail) : fail_(std::move(fail)) {}
  ~PeerProcess() { Stop(); }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  // Forks and execs `argv` (call it before the process has threads: it forks), then waits for
  // the ready line, kept in ready().
  void Start(const std::vector<std::string>& argv);
  // Sends one command and returns its answer; `what` names it in errors.
  nlohmann::json Call(const nlohmann::json& command, const std::string& what);
  // Sends {"op": "quit"}, closes the pipes and waits for the child. Idempotent.
  void Stop();
  // SIGTERM and wait, for a benchmark's failure path. Idempotent.
  void Kill();

  const nlohmann::json& ready() const { return ready_; }

 private:
  nlohmann::json Read(const std::string& what);

  std::function<void(const std::string&)> fail_;
  pid_t pid_ = -1;
  FILE* to_ = nullptr;    // its stdin
  FILE* from_ = nullptr;  // its stdout
  nlohmann::json ready_;
};

}  // namespace mlcore::bench
