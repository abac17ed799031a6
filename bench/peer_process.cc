#include "peer_process.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/wait.h>

namespace mlcore::bench {

using json = nlohmann::json;

void PeerProcess::Start(const std::vector<std::string>& argv) {
  int in[2], out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0) fail_("pipe: " + std::string(std::strerror(errno)));
  pid_ = ::fork();
  if (pid_ < 0) fail_("fork: " + std::string(std::strerror(errno)));
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[0]);
    ::close(in[1]);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  to_ = ::fdopen(in[1], "w");
  from_ = ::fdopen(out[0], "r");
  ready_ = Read("start-up");
  if (!ready_.value("ready", false)) fail_("the peer did not get ready: " + ready_.dump());
}

json PeerProcess::Read(const std::string& what) {
  char* line = nullptr;
  size_t cap = 0;
  const ssize_t n = ::getline(&line, &cap, from_);
  std::string text = n > 0 ? std::string(line, static_cast<size_t>(n)) : std::string();
  std::free(line);
  if (n <= 0) fail_("the peer exited during " + what + " (its messages are above)");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail_("the peer answered " + what + " with: " + text);
  if (j.contains("error")) fail_("the peer failed " + what + ": " + j["error"].dump());
  return j;
}

json PeerProcess::Call(const json& command, const std::string& what) {
  std::fprintf(to_, "%s\n", command.dump().c_str());
  std::fflush(to_);
  return Read(what);
}

void PeerProcess::Stop() {
  if (to_ != nullptr) {
    std::fprintf(to_, "{\"op\":\"quit\"}\n");
    std::fclose(to_);
    to_ = nullptr;
  }
  if (from_ != nullptr) {
    std::fclose(from_);
    from_ = nullptr;
  }
  if (pid_ > 0) {
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

void PeerProcess::Kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

}  // namespace mlcore::bench
