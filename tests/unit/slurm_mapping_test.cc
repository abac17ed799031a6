// The pure translations of the Slurm backend: spec -> job/submit body, Slurm states -> ours, wait
// statuses, slurmrestd error answers -> Status, JWT expiry.
#include "slurm/slurm_mapping.h"

#include <doctest/doctest.h>
#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

namespace mlcore::slurm {
namespace {

using google::protobuf::util::TimeUtil;

v1::Job TrainJob() {
  v1::Job job;
  job.set_id("j0123456789ab");
  auto* spec = job.mutable_spec();
  spec->set_name("train-1");
  spec->set_project("ml");
  spec->add_command("python");
  spec->add_args("train.py");
  spec->add_args("it's");
  spec->set_working_dir("/work/exp");
  *spec->mutable_deadline() = TimeUtil::SecondsToDuration(90);
  job.mutable_resources()->set_cpu_millis(1500);
  job.mutable_resources()->set_memory_bytes(3LL << 30);
  job.mutable_resources()->set_gpu(2);
  return job;
}

TEST_CASE("slurm: a spec becomes a job/submit body with script, environment, paths, size") {
  Placement placement;
  placement.partition = "gpu";
  placement.stdout_path = "/state/out.log";
  placement.stderr_path = "/state/err.log";
  placement.env = {{"MLC_JOB_ID", "j0123456789ab"}, {"PATH", "/usr/bin:/bin"}};
  auto body = BuildSubmitBody(TrainJob(), placement);
  REQUIRE(body.ok());
  auto j = nlohmann::json::parse(*body);
  const std::string script = j["script"];
  CHECK(script.rfind("#!/bin/sh\n", 0) == 0);
  CHECK(script.find("exec 'python' 'train.py' 'it'\\''s'\n") != std::string::npos);
  CHECK(script.find("command not found") != std::string::npos);
  const auto& job = j["job"];
  CHECK(job["name"] == "train-1");
  CHECK(job["current_working_directory"] == "/work/exp");
  CHECK(job["standard_output"] == "/state/out.log");
  CHECK(job["standard_error"] == "/state/err.log");
  CHECK(job["environment"]["MLC_JOB_ID"] == "j0123456789ab");
  CHECK(job["partition"] == "gpu");
  CHECK(job["cpus_per_task"] == 2);       // 1.5 CPUs round up
  CHECK(job["memory_per_node"] == 3072);  // MiB
  CHECK(job["tres_per_node"] == "gres:gpu:2");
  CHECK(job["time_limit"] == 2);  // 90 s rounds up to 2 minutes
}

TEST_CASE("slurm: a job without a command is refused saying what to do") {
  v1::Job job = TrainJob();
  job.mutable_spec()->clear_command();
  job.mutable_spec()->clear_args();
  auto body = BuildSubmitBody(job, {});
  CHECK(body.status().code() == StatusCode::kInvalidArgument);
  CHECK(body.status().message().find("no command") != std::string::npos);
}

TEST_CASE("slurm: states map to ours, with reasons, exit codes and signals") {
  auto pending = MapSlurmState("PENDING", "Resources", 0, "sh");
  CHECK(pending.state == v1::JOB_STATE_PENDING);
  CHECK(pending.message.rfind("waiting in Slurm: Resources (", 0) == 0);
  CHECK(MapSlurmState("RUNNING", "None", 0, "sh").state == v1::JOB_STATE_RUNNING);
  CHECK(MapSlurmState("CONFIGURING", "None", 0, "sh").state == v1::JOB_STATE_STARTING);
  auto ok = MapSlurmState("COMPLETED", "None", 0, "sh");
  CHECK(ok.state == v1::JOB_STATE_SUCCEEDED);
  CHECK(ok.exit_code == 0);
  auto failed = MapSlurmState("FAILED", "NonZeroExitCode", 3 << 8, "sh");
  CHECK(failed.state == v1::JOB_STATE_FAILED);
  CHECK(failed.exit_code == 3);
  CHECK(failed.message == "exited with code 3");
  auto missing = MapSlurmState("FAILED", "NonZeroExitCode", 127 << 8, "pythn");
  CHECK(missing.message == "command not found: pythn");
  auto killed = MapSlurmState("FAILED", "", 9, "sh");
  CHECK(killed.signal == 9);
  CHECK_FALSE(killed.exit_code.has_value());
  CHECK(MapSlurmState("CANCELLED", "", 0, "sh").state == v1::JOB_STATE_CANCELLED);
  CHECK(MapSlurmState("TIMEOUT", "", 0, "sh").state == v1::JOB_STATE_TIMED_OUT);
  CHECK(MapSlurmState("NODE_FAIL", "", 0, "sh").state == v1::JOB_STATE_LOST);
  CHECK(MapSlurmState("BOOT_FAIL", "", 0, "sh").state == v1::JOB_STATE_LOST);
  CHECK(MapSlurmState("PREEMPTED", "", 0, "sh").state == v1::JOB_STATE_PREEMPTED);
  CHECK(MapSlurmState("OUT_OF_MEMORY", "", 0, "sh").state == v1::JOB_STATE_FAILED);
}

TEST_CASE("slurm: slurmrestd errors are translated once, keeping Slurm's text") {
  const std::string ok = R"({"errors": [], "job_id": 7})";
  CHECK(TranslateRestAnswer(200, ok, "submit", false).ok());
  auto partition = TranslateRestAnswer(
      500, R"({"errors":[{"error_code":2000,"error":"Invalid partition name specified"}]})",
      "submit job x", false);
  CHECK(partition.code() == StatusCode::kInvalidArgument);
  CHECK(partition.message().find("Invalid partition name specified") != std::string::npos);
  CHECK(partition.message().find("submit job x") != std::string::npos);
  auto gone = TranslateRestAnswer(
      500,
      R"({"errors":[{"description":"Unable to find JobId=999","error_number":2017,"error":"Invalid job id specified","source":"slurm_load_job"}]})",
      "read job", false);
  CHECK(gone.code() == StatusCode::kNotFound);
  CHECK(gone.message().find("Unable to find JobId=999") != std::string::npos);
  // What slurmctld answers for a token it rejects: misleading, so the message says the cause.
  auto rejected = TranslateRestAnswer(
      500,
      R"({"errors":[{"description":"Unable to find JobId=1","error_number":-1,"error":"Unspecified error"}]})",
      "read job", false);
  CHECK(rejected.code() == StatusCode::kUnauthenticated);
  CHECK(rejected.message().find("JWT") != std::string::npos);
  CHECK(rejected.message().find("Unable to find JobId=1") != std::string::npos);
  CHECK(TranslateRestAnswer(401, "Authentication failure", "ping", false).code() ==
        StatusCode::kUnauthenticated);
  auto expired = TranslateRestAnswer(
      500, R"({"errors":[{"error_code":5005,"error":"Zero Bytes"}]})", "submit", true);
  CHECK(expired.code() == StatusCode::kUnauthenticated);
  CHECK(expired.message().find("expired") != std::string::npos);
  CHECK(TranslateRestAnswer(503, "", "submit", false).code() == StatusCode::kUnavailable);
}

TEST_CASE("slurm: the expiry of a JWT is read from its payload") {
  // {"alg":"HS256","typ":"JWT"} . {"exp":1795522859,"iat":1795436459,"sun":"root"} . signature
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3OTU1MjI4NTksImlhdCI6MTc5NTQzNjQ1OSwic3Vu"
      "Ijoicm9vdCJ9.2NZJUCwHBafgN78zbK18zky5O4DbaUCAYylDg0RNSVU";
  CHECK(JwtExpiry(token) == 1795522859);
  CHECK_FALSE(JwtExpiry("not-a-jwt").has_value());
}

TEST_CASE("slurm: wait statuses decode like the shell's") {
  std::optional<int32_t> code, sig;
  DecodeWaitStatus(0, &code, &sig);
  CHECK(code == 0);
  DecodeWaitStatus(1 << 8, &code, &sig);
  CHECK(code == 1);
  DecodeWaitStatus(15, &code, &sig);
  CHECK(sig == 15);
  CHECK_FALSE(code.has_value());
}

}  // namespace
}  // namespace mlcore::slurm
