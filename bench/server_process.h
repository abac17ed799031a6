// `mlc server` as a child process of a benchmark: the binary a user runs, started on a state
// directory on 127.0.0.1:0, with its CPU time read from /proc for the cost per call.
#pragma once

#include <sched.h>

#include <memory>
#include <string>
#include <sys/types.h>

#include "mlcore/status.h"

namespace mlcore::bench {

class ServerProcess {
 public:
  // Runs `mlc server --state STATE_DIR --listen 127.0.0.1:0 [--insecure-local]` and waits until
  // it serves. The server gets SIGTERM when this process dies.
  static Result<std::unique_ptr<ServerProcess>> Start(const std::string& mlc,
                                                      const std::string& state_dir,
                                                      bool insecure_local);
  ~ServerProcess();  // SIGTERM, then waits for it
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& uri() const { return uri_; }  // grpc://127.0.0.1:PORT
  pid_t pid() const { return pid_; }
  // User plus system CPU seconds the server has used so far (clock-tick resolution).
  double CpuSeconds() const;

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  std::string uri_;
};

// Pins every thread of process `pid` (0: this process) to `cpus`; threads started later inherit
// the set of the thread that starts them.
void PinThreads(pid_t pid, const cpu_set_t& cpus);

}  // namespace mlcore::bench
