// Attaching to a running job: a command run in its working directory and environment
// (ExecSession) and one TCP connection to a port it listens on (PortConnection).
//
// Both are made by Client::ExecJob / Client::PortForward (and Backend's), over any backend with
// CAPABILITY_JOB_ATTACH: on `local://` they act on this machine; on `grpc://` each is one
// bidirectional rpc (JobService.ExecJob, JobService.PortForward) to a server that acts on its.
//
// Thread safety: one thread may Read while another Writes (or closes the writing side); Cancel
// may be called from any thread at any time. Destroying a session that is still running cancels
// it (the command is killed, the connection closed).
#pragma once

#include <functional>
#include <string_view>

#include "mlcore/status.h"

namespace mlcore {

// Which of a command's output streams a chunk came from.
enum class ExecStream : int { kStdout = 1, kStderr = 2 };

// A command running next to a job (`mlc job exec`).
class ExecSession {
 public:
  virtual ~ExecSession() = default;

  // Sends `data` to the command's standard input; blocks while the command does not read it.
  // Errors: FAILED_PRECONDITION (standard input already closed), UNAVAILABLE (the command exited
  // or the connection to the server is gone; its output and exit code can still be read).
  virtual Status Write(std::string_view data) = 0;
  // Closes the command's standard input (with a terminal: sends end-of-file, Ctrl-D).
  // Idempotent.
  virtual Status CloseStdin() = 0;
  // Passes the command's output to `sink` in the order it was produced, until both of its output
  // streams end (then OK), `sink` returns false, or `keep_going` (when set; polled at least every
  // 250 ms while no output arrives) returns false: then OK too, and the command goes on (Cancel
  // stops it). With a terminal, all output is kStdout. Errors: UNAVAILABLE (connection lost).
  virtual Status Read(const std::function<bool(ExecStream, std::string_view)>& sink,
                      const std::function<bool()>& keep_going = {}) = 0;
  // Waits for the command to end and returns its exit code (128 + N when killed by signal N).
  // Call it after Read returned. Errors: CANCELLED (after Cancel), UNAVAILABLE (connection lost).
  virtual Result<int> Wait() = 0;
  // Kills the command (SIGKILL to its process group) or ends the rpc; Read and Wait return soon.
  virtual void Cancel() = 0;
};

// One TCP connection to a port a job listens on (`mlc job port-forward` opens one per accepted
// local connection).
class PortConnection {
 public:
  virtual ~PortConnection() = default;

  // Sends `data` to the job's side. Errors: UNAVAILABLE (the connection is closed or lost).
  virtual Status Write(std::string_view data) = 0;
  // Half-closes: the job's side reads end-of-file; its answers can still be read. Idempotent.
  virtual Status CloseWrite() = 0;
  // Passes the bytes the job's side sends to `sink`, until it closes the connection (then OK),
  // `sink` returns false, or `keep_going` (when set; polled at least every 250 ms while nothing
  // arrives) returns false (OK too). Errors: UNAVAILABLE (connection reset or lost).
  virtual Status Read(const std::function<bool(std::string_view)>& sink,
                      const std::function<bool()>& keep_going = {}) = 0;
  // Closes both directions at once; Read returns soon. Idempotent.
  virtual void Cancel() = 0;
};

}  // namespace mlcore
