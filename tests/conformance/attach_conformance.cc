// Conformance: watching and attaching to jobs (WatchJobs, ExecJob, PortForward). Every backend
// with CAPABILITY_JOB_ATTACH runs commands next to a running job, tunnels TCP connections to it
// and streams its transitions with the same outcomes.
#include <unistd.h>

#include <arpa/inet.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>

#include <doctest/doctest.h>
#include <google/protobuf/util/time_util.h>

#include "conformance/conformance.h"
#include "mlcore/jobs.h"
#include "unit/test_support.h"

namespace mlcore::conformance {
namespace {

using google::protobuf::util::TimeUtil;
using namespace std::chrono_literals;

constexpr auto kWait = std::chrono::milliseconds(60000);  // generous: CI machines are shared

std::unique_ptr<Client> AttachClient() { return ClientWith(v1::CAPABILITY_JOB_ATTACH, "ml"); }

v1::JobSpec Shell(const std::string& script, const std::string& dir) {
  v1::JobSpec spec;
  spec.set_project("ml");
  spec.add_command("sh");
  spec.add_command("-c");
  spec.add_command(script);
  spec.set_working_dir(dir);
  spec.mutable_env()->insert({"ATTACH_MARK", "from-spec"});
  spec.mutable_resources()->set_cpu_millis(1000);
  spec.mutable_resources()->set_memory_bytes(256LL << 20);
  return spec;
}

constexpr const char* kHoldUntilRelease =
    "while [ ! -f release ] && [ -d \"$PWD\" ]; do sleep 0.05; done";

v1::Job WaitUntil(Client& client, const std::string& id,
                  const std::function<bool(const v1::Job&)>& pred) {
  auto start = std::chrono::steady_clock::now();
  while (true) {
    auto job = client.GetJob(id);
    REQUIRE(job.ok());
    if (pred(*job)) return *job;
    if (std::chrono::steady_clock::now() - start > kWait) {
      FAIL("job " << id << " stayed " << JobStateName(job->state()) << ": " << job->message());
    }
    std::this_thread::sleep_for(20ms);
  }
}

// A running job that holds until `release` appears in `dir`.
v1::Job RunningHolder(Client& client, const testing::TempDir& dir,
                      const std::string& script = kHoldUntilRelease) {
  auto job = client.SubmitJob(Shell(script, dir.path()));
  MLC_REQUIRE_OK(job);
  return WaitUntil(client, job->id(),
                   [](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; });
}

void Release(Client& client, const testing::TempDir& dir, const std::string& id) {
  testing::WriteFile(dir / "release", "");
  auto done = client.WaitJob(id, kWait);
  MLC_CHECK_OK(done);
}

struct ExecResult {
  std::string out, err;
  int code = -1;
};

// Runs `command` in the job, feeding `input` (then end-of-file) from another thread.
ExecResult Exec(Client& client, const std::string& job, const std::vector<std::string>& command,
                const std::string& input = {}, bool tty = false) {
  auto session = client.ExecJob(job, command, tty);
  INFO(session.status().ToString());
  REQUIRE(session.ok());
  std::thread writer([&] {
    for (size_t off = 0; off < input.size(); off += 100000) {
      MLC_CHECK_OK((*session)->Write(std::string_view(input).substr(off, 100000)));
    }
    if (!tty) MLC_CHECK_OK((*session)->CloseStdin());
  });
  ExecResult r;
  MLC_CHECK_OK((*session)->Read([&](ExecStream stream, std::string_view data) {
    (stream == ExecStream::kStdout ? r.out : r.err) += std::string(data);
    return true;
  }));
  writer.join();
  auto code = (*session)->Wait();
  MLC_REQUIRE_OK(code);
  r.code = *code;
  return r;
}

TEST_CASE("conformance: exec runs a command next to a running job") {
  auto client = AttachClient();
  if (!client) return;
  testing::TempDir dir;
  v1::Job job = RunningHolder(*client, dir);

  // Output streams and the exit code, by name and by id.
  ExecResult r = Exec(*client, job.spec().name(), {"sh", "-c", "echo out; echo err >&2; exit 5"});
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(r.code == 5);

  // The job's working directory and environment (spec env and mlcore's variables).
  r = Exec(*client, job.id(), {"sh", "-c", "pwd; echo $ATTACH_MARK $MLC_JOB_ID $MLC_PROJECT"});
  CHECK(r.out ==
        std::filesystem::canonical(dir.path()).string() + "\nfrom-spec " + job.id() + " ml\n");
  CHECK(r.code == 0);

  // Standard input, large enough to need flow control both ways.
  std::string input;
  for (int i = 0; i < (1 << 20); ++i) input.push_back(static_cast<char>('a' + i % 26));
  r = Exec(*client, job.id(), {"cat"}, input);
  CHECK(r.out.size() == input.size());
  CHECK(r.out == input);
  CHECK(r.code == 0);
  r = Exec(*client, job.id(), {"wc", "-c"}, "twelve bytes");
  CHECK(r.out.find("12") != std::string::npos);

  // A killed command reports 128 + signal.
  r = Exec(*client, job.id(), {"sh", "-c", "kill -9 $$"});
  CHECK(r.code == 137);

  // A terminal when asked for one.
  r = Exec(*client, job.id(), {"sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty"}, {}, true);
  CHECK(r.out.find("is-a-tty") != std::string::npos);
  CHECK(r.code == 0);
  r = Exec(*client, job.id(), {"sh", "-c", "test -t 0 || echo no-tty"});
  CHECK(r.out == "no-tty\n");

  Release(*client, dir, job.id());
}

TEST_CASE("conformance: exec is refused with precise errors") {
  auto client = AttachClient();
  if (!client) return;
  testing::TempDir dir;
  v1::Job job = RunningHolder(*client, dir);

  auto empty = client->ExecJob(job.id(), {});
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);
  auto missing_job = client->ExecJob("no-such-job", {"true"});
  CHECK(missing_job.status().code() == StatusCode::kNotFound);
  auto missing_program = client->ExecJob(job.id(), {"no-such-program-anywhere"});
  CHECK(missing_program.status().code() == StatusCode::kNotFound);
  CHECK(missing_program.status().message().find("no-such-program-anywhere") != std::string::npos);
  auto replica = client->ExecJob(job.id(), {"true"}, false, 3);
  CHECK(replica.status().code() == StatusCode::kInvalidArgument);

  // Input after close is refused; a command that ignores its input still ends.
  auto session = client->ExecJob(job.id(), {"true"});
  MLC_REQUIRE_OK(session);
  MLC_CHECK_OK((*session)->CloseStdin());
  CHECK((*session)->Write("late").code() == StatusCode::kFailedPrecondition);
  MLC_CHECK_OK((*session)->Read([](ExecStream, std::string_view) { return true; }));
  CHECK((*session)->Wait().value_or(-1) == 0);

  // Cancel kills a command that would run for a minute.
  auto sleeper = client->ExecJob(job.id(), {"sleep", "60"});
  MLC_REQUIRE_OK(sleeper);
  (*sleeper)->Cancel();
  MLC_CHECK_OK((*sleeper)->Read([](ExecStream, std::string_view) { return true; }));
  auto code = (*sleeper)->Wait();
  CHECK((!code.ok() || *code == 128 + 9));

  Release(*client, dir, job.id());
  auto ended = client->ExecJob(job.id(), {"true"});
  CHECK(ended.status().code() == StatusCode::kFailedPrecondition);
  CHECK(ended.status().message().find("not RUNNING") != std::string::npos);
}

// A port nothing listens on: one the kernel just handed out and took back.
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A TCP echo server on a free port, written to `port` (atomically) in the working directory;
// it serves connections one after another until `release` appears.
constexpr const char* kEchoServer = R"(exec python3 -c '
import os, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
s.settimeout(0.1)
open("port.tmp", "w").write(str(s.getsockname()[1]))
os.rename("port.tmp", "port")
while not os.path.exists("release") and os.path.isdir(os.getcwd()):
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(None)
    while True:
        data = c.recv(65536)
        if not data:
            break
        c.sendall(data)
    c.close()
')";

int WaitForPortFile(const testing::TempDir& dir) {
  auto start = std::chrono::steady_clock::now();
  while (!std::filesystem::exists(dir / "port")) {
    if (std::chrono::steady_clock::now() - start > kWait) FAIL("the echo server never started");
    std::this_thread::sleep_for(20ms);
  }
  std::ifstream in(dir / "port");
  int port = 0;
  in >> port;
  return port;
}

TEST_CASE("conformance: port-forward tunnels a TCP connection to a job") {
  auto client = AttachClient();
  if (!client) return;
  testing::TempDir dir;
  v1::Job job = RunningHolder(*client, dir, kEchoServer);
  const int port = WaitForPortFile(dir);

  for (int round = 0; round < 2; ++round) {  // one tunnel per connection, one after another
    auto connection = client->PortForward(job.spec().name(), port);
    INFO(connection.status().ToString());
    REQUIRE(connection.ok());
    std::string sent;
    for (int i = 0; i < 300000; ++i) sent.push_back(static_cast<char>((i * 7 + round) % 256));
    std::thread writer([&] {
      for (size_t off = 0; off < sent.size(); off += 50000) {
        MLC_CHECK_OK((*connection)->Write(std::string_view(sent).substr(off, 50000)));
      }
      MLC_CHECK_OK((*connection)->CloseWrite());  // the echo server then closes its side
    });
    std::string received;
    MLC_CHECK_OK((*connection)->Read([&](std::string_view data) {
      received += std::string(data);
      return true;
    }));
    writer.join();
    CHECK(received.size() == sent.size());
    CHECK(received == sent);
  }

  auto refused = client->PortForward(job.id(), UnusedPort());
  CHECK(refused.status().code() == StatusCode::kUnavailable);
  CHECK(refused.status().message().find("nothing is listening") != std::string::npos);
  CHECK(client->PortForward(job.id(), 0).status().code() == StatusCode::kInvalidArgument);
  CHECK(client->PortForward(job.id(), 70000).status().code() == StatusCode::kInvalidArgument);
  CHECK(client->PortForward("no-such-job", port).status().code() == StatusCode::kNotFound);

  Release(*client, dir, job.id());
  CHECK(client->PortForward(job.id(), port).status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("conformance: watch streams job transitions and replays them") {
  auto client = AttachClient();
  if (!client) return;
  // Transitions from a time before the submit: the whole life of the job, in order, even if
  // the watch starts after the job did.
  const auto before = TimeUtil::GetCurrentTime();
  std::string id;
  std::vector<v1::JobState> seen;
  {
    v1::WatchJobsRequest request;
    request.set_project("ml");
    *request.mutable_since() = before;
    auto submitted = client->SubmitJob(Shell("echo hi", std::filesystem::current_path()));
    MLC_REQUIRE_OK(submitted);
    id = submitted->id();
    MLC_CHECK_OK(client->WatchJobs(request, [&](const v1::WatchJobsResponse& r) {
      CHECK(r.job_id() == id);
      CHECK(r.job().id() == id);
      CHECK(r.job().spec().project() == "ml");
      CHECK(r.job().events_size() == 0);  // BASIC view
      seen.push_back(r.event().to_state());
      return !IsFinalJobState(r.event().to_state());
    }));
  }
  CHECK(seen == std::vector<v1::JobState>{v1::JOB_STATE_PENDING, v1::JOB_STATE_STARTING,
                                          v1::JOB_STATE_RUNNING, v1::JOB_STATE_SUCCEEDED});

  // A new job appears on an open watch of every project; `since` taken after the first job
  // ended keeps that one out.
  testing::TempDir dir;
  v1::WatchJobsRequest all;
  // (TimeUtil::GetCurrentTime has whole seconds only.)
  *all.mutable_since() =
      TimeUtil::MicrosecondsToTimestamp(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  std::vector<std::pair<std::string, v1::JobState>> live;
  std::thread watch([&] {
    MLC_CHECK_OK(client->WatchJobs(all, [&](const v1::WatchJobsResponse& r) {
      live.emplace_back(r.job_id(), r.event().to_state());
      return !IsFinalJobState(r.event().to_state());
    }));
  });
  auto second = client->SubmitJob(Shell("true", dir.path()));
  MLC_REQUIRE_OK(second);
  watch.join();
  REQUIRE_FALSE(live.empty());
  for (const auto& [job, state] : live) CHECK(job == second->id());  // nothing of the first job
  CHECK(live.back().second == v1::JOB_STATE_SUCCEEDED);

  // Replay of one job by name from the start of time.
  v1::WatchJobsRequest one;
  one.add_ids(second->spec().name());
  one.mutable_since()->set_seconds(1);
  std::vector<v1::JobState> replayed;
  MLC_CHECK_OK(client->WatchJobs(one, [&](const v1::WatchJobsResponse& r) {
    replayed.push_back(r.event().to_state());
    return !IsFinalJobState(r.event().to_state());
  }));
  CHECK(replayed.front() == v1::JOB_STATE_PENDING);
  CHECK(replayed.back() == v1::JOB_STATE_SUCCEEDED);

  // keep_watching ends an idle watch.
  int calls = 0;
  MLC_CHECK_OK(client->WatchJobs(
      one, [](const v1::WatchJobsResponse&) { return true; }, [&] { return ++calls < 3; }));
  CHECK(calls == 3);

  v1::WatchJobsRequest bad;
  bad.set_project("no-such-project");
  CHECK(client->WatchJobs(bad, [](const v1::WatchJobsResponse&) { return true; }).code() ==
        StatusCode::kNotFound);
  v1::WatchJobsRequest bad_id;
  bad_id.add_ids("no-such-job");
  CHECK(client->WatchJobs(bad_id, [](const v1::WatchJobsResponse&) { return true; }).code() ==
        StatusCode::kNotFound);
}

}  // namespace
}  // namespace mlcore::conformance
