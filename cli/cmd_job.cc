// mlc job submit|test|lint|ls|get|logs|cancel|preempt|rerun|wait|download
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "exit_codes.h"
#include "job_view.h"
#include "mlcore/jobs.h"
#include "mlcore/resources.h"

namespace mlc {
namespace {

using google::protobuf::util::TimeUtil;

struct SpecFlags {
  std::string file;
  std::string name;
  std::string flavor;
  std::string resources;
  std::string priority;
  bool preemptible = false;
  std::string deadline;
  std::string ttl;
  std::vector<std::string> env;
  std::vector<std::string> labels;
  std::vector<std::string> secrets;
  std::vector<std::string> datasets;
  std::vector<std::string> outputs;
  std::string workdir;
  bool snapshot = false;
  int replicas = 0;
  int retries = -1;
  std::string image;
  std::string experiment;
  bool follow = false;
  std::vector<std::string> command;
};

void AddSpecFlags(CLI::App* cmd, SpecFlags* f) {
  cmd->add_option("-f,--file", f->file, "Job spec (preset) YAML file");
  cmd->add_option("-n,--name", f->name, "Job name (default: generated, e.g. train-g6d8y6)");
  cmd->add_option("--flavor", f->flavor, "Flavor (see `mlc flavor ls`)");
  cmd->add_option("--resources", f->resources, "Raw resources, e.g. cpu=2,memory=4Gi");
  cmd->add_option("--priority", f->priority, "Priority class (low, normal, high, critical)");
  cmd->add_flag("--preemptible", f->preemptible, "May be preempted, for capacity beyond quota");
  cmd->add_option("--deadline", f->deadline, "Running-time limit, e.g. 30m, 2h");
  cmd->add_option("--ttl", f->ttl, "Lifetime limit from submission, queueing included");
  cmd->add_option("-e,--env", f->env, "Environment variable KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-l,--label", f->labels, "Label KEY=VALUE (repeatable)")->allow_extra_args(false);
  cmd->add_option("--secret", f->secrets,
                  "Secret from the environment: NAME or NAME=ENV_VAR (repeatable; values are "
                  "never stored or shown)")
      ->allow_extra_args(false);
  cmd->add_option("--dataset", f->datasets, "Input dataset URI (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--output", f->outputs, "Output path relative to the working directory")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", f->workdir, "Working directory (default: the current one)");
  cmd->add_flag("--snapshot", f->snapshot, "Run in a snapshot of the working directory");
  cmd->add_option("--replicas", f->replicas, "Replicas, placed all at once (gang)");
  cmd->add_option("--retries", f->retries, "Restarts allowed after failures or preemption");
  cmd->add_option("--image", f->image, "Container image (recorded; used for image affinity)");
  cmd->add_option("--experiment", f->experiment,
                  "Experiment of the job's tracking run (default: the project's \"default\")");
  cmd->add_flag("-F,--follow", f->follow, "Stream logs until the job ends; exit with its code");
  cmd->add_option("command", f->command, "Command and arguments (after --)");
}

mlcore::Status SplitPair(const std::string& text, const char* what, std::string* k,
                         std::string* v) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return mlcore::InvalidArgumentError(std::string("invalid ") + what + " \"" + text +
                                        "\"; use KEY=VALUE");
  }
  *k = text.substr(0, eq);
  *v = text.substr(eq + 1);
  return mlcore::Status::Ok();
}

// Reads a preset through the backend's linter, printing every problem.
mlcore::Result<mlcore::v1::JobSpec> LoadSpecFile(mlcore::Client& client, const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return mlcore::NotFoundError("cannot read job spec " + path + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  mlcore::v1::LintJobSpecRequest request;
  request.set_text(text);
  request.set_file(path);
  MLC_ASSIGN_OR_RETURN(auto lint, client.LintJobSpec(request));
  std::vector<mlcore::v1::LintProblem> problems(lint.problems().begin(), lint.problems().end());
  if (!problems.empty()) std::cerr << mlcore::FormatLintProblems(problems);
  if (!lint.has_resolved_spec()) {
    return mlcore::InvalidArgumentError("job spec " + path + " has errors (listed above)");
  }
  return lint.resolved_spec();
}

mlcore::Result<mlcore::v1::JobSpec> BuildSpec(mlcore::Client& client, const SpecFlags& f) {
  mlcore::v1::JobSpec spec;
  if (!f.file.empty()) {
    MLC_ASSIGN_OR_RETURN(spec, LoadSpecFile(client, f.file));
  }
  if (!f.command.empty()) {
    MLC_ASSIGN_OR_RETURN(auto from_cmd, mlcore::JobSpecFromCommand(f.command));
    *spec.mutable_command() = from_cmd.command();
    *spec.mutable_args() = from_cmd.args();
  }
  if (f.file.empty() && f.command.empty()) {
    return mlcore::InvalidArgumentError(
        "nothing to run: pass a spec with -f FILE or a command after --, e.g. "
        "`mlc job submit -- python train.py`");
  }
  if (!f.name.empty()) spec.set_name(f.name);
  if (!f.flavor.empty()) spec.set_flavor(f.flavor);
  if (!f.resources.empty()) {
    MLC_ASSIGN_OR_RETURN(*spec.mutable_resources(), mlcore::ParseResources(f.resources));
  }
  if (!f.priority.empty()) spec.set_priority_class(f.priority);
  if (f.preemptible) spec.set_preemptible(true);
  if (!f.deadline.empty()) {
    MLC_ASSIGN_OR_RETURN(*spec.mutable_deadline(), mlcore::ParseDurationText(f.deadline));
  }
  if (!f.ttl.empty()) {
    MLC_ASSIGN_OR_RETURN(*spec.mutable_ttl(), mlcore::ParseDurationText(f.ttl));
  }
  for (const auto& e : f.env) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitPair(e, "--env", &k, &v));
    (*spec.mutable_env())[k] = v;
  }
  for (const auto& l : f.labels) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitPair(l, "--label", &k, &v));
    (*spec.mutable_labels())[k] = v;
  }
  for (const auto& s : f.secrets) {
    auto* ref = spec.add_secrets();
    auto eq = s.find('=');
    ref->set_name(s.substr(0, eq));
    if (eq != std::string::npos) ref->set_key(s.substr(eq + 1));
    ref->set_source(mlcore::v1::SECRET_SOURCE_ENV);
  }
  for (const auto& d : f.datasets) spec.add_input_datasets()->set_uri(d);
  for (const auto& o : f.outputs) spec.add_output_paths(o);
  if (!f.workdir.empty()) spec.set_working_dir(f.workdir);
  if (f.snapshot) spec.set_snapshot_working_dir(true);
  if (f.replicas > 0) spec.set_replicas(f.replicas);
  if (f.retries >= 0) spec.mutable_retry()->set_max_restarts(f.retries);
  if (!f.image.empty()) spec.set_image(f.image);
  if (!f.experiment.empty()) spec.set_experiment(f.experiment);
  return spec;
}

// Streams a job's logs until it ends; returns the exit code mlc should end with.
mlcore::Result<int> FollowToEnd(mlcore::Client& client, const mlcore::v1::Job& job,
                                bool timestamps) {
  CatchInterrupts();
  mlcore::v1::StreamJobLogsRequest request;
  request.set_id(job.id());
  request.set_follow(true);
  for (auto s : {mlcore::v1::LOG_STREAM_STDOUT, mlcore::v1::LOG_STREAM_STDERR,
                 mlcore::v1::LOG_STREAM_SYSTEM}) {
    request.add_streams(s);
  }
  MLC_RETURN_IF_ERROR(client.StreamJobLogs(
      request,
      [&](const mlcore::v1::LogLine& line) {
        PrintLogLine(line, timestamps, /*show_system=*/true);
        return !Interrupted();
      },
      [] { return !Interrupted(); }));
  if (Interrupted()) {
    std::cerr << "mlc: stopped following; job " << job.spec().name()
              << " keeps running (mlc job logs -f " << job.spec().name() << ")\n";
    return kExitCancelled;
  }
  MLC_ASSIGN_OR_RETURN(auto done, client.WaitJob(job.id()));
  std::cerr << "job " << done.spec().name() << " " << mlcore::JobStateName(done.state())
            << (done.message().empty() ? "" : ": " + done.message()) << "\n";
  if (done.state() == mlcore::v1::JOB_STATE_SUCCEEDED) return 0;
  if (done.has_exit_code() && done.exit_code() != 0) return done.exit_code();
  return kExitError;
}

mlcore::Status Submit(const Globals& globals, const SpecFlags& flags, bool test_queue,
                      int* exit_code) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto spec, BuildSpec(*client, flags));
  if (test_queue) spec.set_test_queue(true);
  MLC_ASSIGN_OR_RETURN(auto job, client->SubmitJob(spec));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(job, globals.format());
  } else {
    std::cout << "job " << job.spec().name() << " (" << job.id() << ") submitted to project "
              << job.spec().project() << ": " << mlcore::JobStateName(job.state());
    if (!job.waiting_reason().empty()) std::cout << " (" << job.waiting_reason() << ")";
    std::cout << "\n";
  }
  if (flags.follow) {
    MLC_ASSIGN_OR_RETURN(*exit_code, FollowToEnd(*client, job, false));
  }
  return mlcore::Status::Ok();
}

struct LogFlags {
  std::string job;
  bool follow = false;
  std::string since;
  int tail = 0;
  std::string grep;
  bool timestamps = false;
  bool system = false;
  bool stdout_only = false;
  bool stderr_only = false;
};

mlcore::Status Logs(const Globals& globals, const LogFlags& f) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::StreamJobLogsRequest request;
  request.set_id(f.job);
  request.set_follow(f.follow);
  request.set_tail(f.tail);
  request.set_grep(f.grep);
  // System lines count towards --tail only when shown.
  if (f.stdout_only || !f.stderr_only) request.add_streams(mlcore::v1::LOG_STREAM_STDOUT);
  if (f.stderr_only || !f.stdout_only) request.add_streams(mlcore::v1::LOG_STREAM_STDERR);
  if (f.system) request.add_streams(mlcore::v1::LOG_STREAM_SYSTEM);
  if (!f.since.empty()) {
    google::protobuf::Timestamp since;
    if (!TimeUtil::FromString(f.since, &since)) {
      MLC_ASSIGN_OR_RETURN(auto ago, mlcore::ParseDurationText(f.since));
      since = TimeUtil::GetCurrentTime() - ago;
    }
    *request.mutable_since() = since;
  }
  CatchInterrupts();
  return client->StreamJobLogs(
      request,
      [&](const mlcore::v1::LogLine& line) {
        if (globals.format() == OutputFormat::kJson) {
          PrintJsonLine(line);
        } else {
          PrintLogLine(line, f.timestamps, f.system);
        }
        return !Interrupted();
      },
      [] { return !Interrupted(); });
}

mlcore::Status List(const Globals& globals, const std::vector<std::string>& states,
                    const std::vector<std::string>& labels, const std::string& user,
                    bool all_projects, int limit) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ListJobsRequest request;
  if (all_projects) request.set_project("*");
  request.set_user(user);
  for (const auto& s : states) {
    std::string upper;
    for (char c : s) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    mlcore::v1::JobState state;
    if (!mlcore::v1::JobState_Parse("JOB_STATE_" + upper, &state)) {
      return mlcore::InvalidArgumentError("unknown state \"" + s +
                                          "\"; use pending, starting, running, succeeded, "
                                          "failed, cancelled, preempted, timed_out or lost");
    }
    request.add_states(state);
  }
  for (const auto& l : labels) {
    auto eq = l.find('=');
    (*request.mutable_labels())[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  request.set_page_size(std::min(limit, 1000));
  MLC_ASSIGN_OR_RETURN(auto response, client->ListJobs(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(response, globals.format());
    return mlcore::Status::Ok();
  }
  if (response.jobs_size() == 0) {
    std::cerr << "No jobs" << (states.empty() ? "" : " in those states")
              << ". Submit one with: mlc job submit -- COMMAND\n";
    return mlcore::Status::Ok();
  }
  PrintJobTable(response, all_projects);
  return mlcore::Status::Ok();
}

mlcore::Status Download(const Globals& globals, const std::string& what, const std::string& job_ref,
                        const std::string& dir) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto job, client->GetJob(job_ref));
  std::filesystem::create_directories(dir);
  if (what == "logs") {
    std::string path = dir + "/" + job.spec().name() + ".log";
    std::ofstream out(path);
    mlcore::v1::StreamJobLogsRequest request;
    request.set_id(job.id());
    for (auto s : {mlcore::v1::LOG_STREAM_STDOUT, mlcore::v1::LOG_STREAM_STDERR,
                   mlcore::v1::LOG_STREAM_SYSTEM}) {
      request.add_streams(s);
    }
    MLC_RETURN_IF_ERROR(client->StreamJobLogs(request, [&](const mlcore::v1::LogLine& line) {
      out << TimeUtil::ToString(line.time()) << " " << StreamTag(line.stream()) << " "
          << line.text() << "\n";
      return true;
    }));
    if (!out) return mlcore::ResourceExhaustedError("cannot write " + path);
    std::cout << path << "\n";
    return mlcore::Status::Ok();
  }
  if (what == "presets") {
    std::string path = dir + "/" + job.spec().name() + ".yaml";
    std::ofstream out(path);
    out << mlcore::JobSpecToYaml(job.spec());
    if (!out) return mlcore::ResourceExhaustedError("cannot write " + path);
    std::cout << path << "\n";
    return mlcore::Status::Ok();
  }
  MLC_ASSIGN_OR_RETURN(auto job_dir, LocalJobDir(*client, job));
  if (what == "attachments") return CopyTree(job_dir + "/attachments", dir);
  // artifacts: the job's declared output paths, from its working directory.
  if (job.spec().output_paths_size() == 0) {
    return mlcore::NotFoundError("job " + job.spec().name() +
                                 " declares no output paths (spec field output_paths)");
  }
  std::string workdir =
      job.spec().snapshot_working_dir() ? job_dir + "/workdir" : job.spec().working_dir();
  for (const auto& rel : job.spec().output_paths()) {
    MLC_RETURN_IF_ERROR(CopyTree(workdir + "/" + rel, dir + "/" + rel));
  }
  return mlcore::Status::Ok();
}

}  // namespace

void AddJobCommands(CLI::App& app, Globals& globals) {
  auto* job = app.add_subcommand("job", "Submit, observe and control jobs");
  job->alias("jobs");
  job->require_subcommand(1);
  job->footer(
      "Examples:\n"
      "  mlc job submit --flavor cpu-2-8 -- python train.py --lr 0.01\n"
      "  mlc job submit -f train.yaml --follow\n"
      "  mlc job ls --state running\n"
      "  mlc job logs train-g6d8y6 -f --since 10m\n"
      "  mlc job cancel train-g6d8y6");
  int& exit_code = CommandExitCode();

  static SpecFlags submit_flags;
  auto* submit = job->add_subcommand("submit", "Queue a job (from -f FILE and/or -- COMMAND)");
  AddSpecFlags(submit, &submit_flags);
  OnRun(submit,
        [&globals, &exit_code] { return Submit(globals, submit_flags, false, &exit_code); });

  static SpecFlags test_flags;
  auto* test = job->add_subcommand(
      "test", "Smoke-run a job in the test queue (small flavor, short deadline), following it");
  AddSpecFlags(test, &test_flags);
  OnRun(test, [&globals, &exit_code] {
    test_flags.follow = true;
    return Submit(globals, test_flags, true, &exit_code);
  });

  static std::string lint_file;
  static std::vector<std::string> lint_command;
  auto* lint = job->add_subcommand("lint", "Check a job spec without submitting it");
  lint->add_option("file", lint_file, "Job spec YAML file");
  lint->add_option("command", lint_command, "Or a command after --");
  OnRun(lint, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    mlcore::v1::LintJobSpecRequest request;
    // `lint -- CMD ARGS` fills the first positional too: a word that is not an existing file
    // and does not look like a spec file name starts a command.
    auto looks_like_spec = [](const std::string& p) {
      for (const char* ext : {".yaml", ".yml", ".json"}) {
        if (p.size() > std::strlen(ext) && p.ends_with(ext)) return true;
      }
      return false;
    };
    bool is_file = !lint_file.empty() &&
                   (std::filesystem::is_regular_file(lint_file) || looks_like_spec(lint_file));
    if (is_file && lint_command.empty()) {
      std::ifstream in(lint_file);
      if (!in) return mlcore::NotFoundError("cannot read job spec " + lint_file);
      request.set_text(
          std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
      request.set_file(lint_file);
    } else if (is_file) {
      return mlcore::InvalidArgumentError(
          "pass either a spec file or a command after --, not both");
    } else {
      std::vector<std::string> argv = lint_command;
      if (!lint_file.empty()) argv.insert(argv.begin(), lint_file);
      MLC_ASSIGN_OR_RETURN(*request.mutable_spec(), mlcore::JobSpecFromCommand(argv));
    }
    MLC_ASSIGN_OR_RETURN(auto response, client->LintJobSpec(request));
    std::vector<mlcore::v1::LintProblem> problems(response.problems().begin(),
                                                  response.problems().end());
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(response, globals.format());
    } else if (!problems.empty()) {
      std::cout << mlcore::FormatLintProblems(problems);
    }
    if (!response.has_resolved_spec()) {
      return mlcore::InvalidArgumentError(std::to_string(problems.size()) +
                                          " problem(s) in the job spec");
    }
    if (globals.format() == OutputFormat::kTable) {
      std::cout << (is_file ? lint_file : "command") << ": ok\n";
    }
    return mlcore::Status::Ok();
  });

  static std::vector<std::string> states, labels;
  static std::string user;
  static bool all_projects = false;
  static int limit = 100;
  auto* ls = job->add_subcommand("ls", "List jobs, newest first");
  ls->alias("list");
  ls->add_option("-s,--state", states, "Only jobs in this state (repeatable)")
      ->allow_extra_args(false);
  ls->add_option("-l,--label", labels, "Only jobs with this label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  ls->add_option("-u,--user", user, "Only jobs of this user");
  ls->add_flag("-A,--all-projects", all_projects, "Jobs of every project");
  ls->add_option("--limit", limit, "At most this many jobs (default 100)");
  OnRun(ls, [&globals] { return List(globals, states, labels, user, all_projects, limit); });

  static std::string get_ref;
  auto* get = job->add_subcommand("get", "Describe a job: spec, state, events, usage, reason");
  get->alias("describe");
  get->add_option("job", get_ref, "Job name or id")->required();
  OnRun(get, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto j, client->GetJob(get_ref));
    if (globals.format() == OutputFormat::kTable) {
      PrintJobDescription(j);
    } else {
      PrintMessage(j, globals.format());
    }
    return mlcore::Status::Ok();
  });

  static LogFlags log_flags;
  auto* logs = job->add_subcommand("logs", "Print a job's output (running or finished)");
  logs->add_option("job", log_flags.job, "Job name or id")->required();
  logs->add_flag("-f,--follow", log_flags.follow, "Keep printing until the job ends");
  logs->add_option("--since", log_flags.since,
                   "Only lines newer than 10m, 2h, or an RFC 3339 time");
  logs->add_option("--tail", log_flags.tail, "Only the last N lines");
  logs->add_option("--grep", log_flags.grep, "Only lines matching this regular expression");
  logs->add_flag("-t,--timestamps", log_flags.timestamps, "Prefix each line with its time");
  logs->add_flag("--system", log_flags.system, "Include mlcore's own messages");
  logs->add_flag("--stdout", log_flags.stdout_only, "Only standard output");
  logs->add_flag("--stderr", log_flags.stderr_only, "Only standard error");
  OnRun(logs, [&globals] { return Logs(globals, log_flags); });

  static std::string stop_ref, stop_reason;
  static bool stop_no_wait = false;
  auto* cancel = job->add_subcommand("cancel", "Stop a job (SIGTERM, then SIGKILL after grace)");
  cancel->add_option("job", stop_ref, "Job name or id")->required();
  cancel->add_option("--reason", stop_reason, "Why (recorded in the job's events)");
  cancel->add_flag("--no-wait", stop_no_wait,
                   "Return once the stop is requested instead of waiting for the job to end");
  OnRun(cancel, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto j, client->CancelJob(stop_ref, stop_reason));
    if (!stop_no_wait && !mlcore::IsFinalJobState(j.state())) {
      // Like `kubectl delete`: return when the job is gone, so the next command sees it ended.
      CatchInterrupts();
      MLC_ASSIGN_OR_RETURN(
          j, client->WaitJob(j.id(), std::chrono::milliseconds(0), [] { return !Interrupted(); }));
    }
    std::cout << "job " << j.spec().name() << ": "
              << (mlcore::IsFinalJobState(j.state()) ? mlcore::JobStateName(j.state())
                                                     : j.message())
              << "\n";
    return mlcore::Status::Ok();
  });

  static std::string preempt_ref, preempt_reason;
  auto* preempt = job->add_subcommand("preempt", "Preempt a running preemptible job (requeued)");
  preempt->add_option("job", preempt_ref, "Job name or id")->required();
  preempt->add_option("--reason", preempt_reason, "Why (recorded in the job's events)");
  OnRun(preempt, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto j, client->PreemptJob(preempt_ref, preempt_reason));
    std::cout << "job " << j.spec().name() << ": " << j.message() << "\n";
    return mlcore::Status::Ok();
  });

  static std::string rerun_ref, rerun_name;
  static bool rerun_follow = false;
  auto* rerun = job->add_subcommand("rerun", "Run a job again from its recorded spec");
  rerun->add_option("job", rerun_ref, "Job name or id")->required();
  rerun->add_option("-n,--name", rerun_name, "Name of the new job");
  rerun->add_flag("-F,--follow", rerun_follow, "Stream logs until it ends; exit with its code");
  OnRun(rerun, [&globals, &exit_code]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto j, client->RerunJob(rerun_ref, rerun_name));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(j, globals.format());
    } else {
      std::cout << "job " << j.spec().name() << " (" << j.id() << ") submitted as a rerun of "
                << rerun_ref << ": " << mlcore::JobStateName(j.state()) << "\n";
    }
    if (rerun_follow) {
      MLC_ASSIGN_OR_RETURN(exit_code, FollowToEnd(*client, j, false));
    }
    return mlcore::Status::Ok();
  });

  static std::string wait_ref, wait_timeout;
  auto* wait = job->add_subcommand("wait", "Wait until a job ends; exit with its exit code");
  wait->add_option("job", wait_ref, "Job name or id")->required();
  wait->add_option("--timeout", wait_timeout, "Give up after this long (exit 7)");
  OnRun(wait, [&globals, &exit_code]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    std::chrono::milliseconds timeout(0);
    if (!wait_timeout.empty()) {
      MLC_ASSIGN_OR_RETURN(auto d, mlcore::ParseDurationText(wait_timeout));
      timeout = std::chrono::milliseconds(TimeUtil::DurationToMilliseconds(d));
    }
    CatchInterrupts();
    MLC_ASSIGN_OR_RETURN(auto j, client->WaitJob(wait_ref, timeout, [] { return !Interrupted(); }));
    std::cout << "job " << j.spec().name() << " " << mlcore::JobStateName(j.state())
              << (j.message().empty() ? "" : ": " + j.message()) << "\n";
    if (j.state() != mlcore::v1::JOB_STATE_SUCCEEDED) {
      exit_code = j.has_exit_code() && j.exit_code() != 0 ? j.exit_code() : kExitError;
    }
    return mlcore::Status::Ok();
  });

  static std::string dl_what, dl_ref, dl_dir = ".";
  auto* download = job->add_subcommand(
      "download", "Save a job's logs, presets (spec), attachments or artifacts (output paths)");
  download->add_option("what", dl_what, "logs | presets | attachments | artifacts")
      ->required()
      ->check(CLI::IsMember({"logs", "presets", "attachments", "artifacts"}));
  download->add_option("job", dl_ref, "Job name or id")->required();
  download->add_option("-d,--dir", dl_dir, "Destination directory (default: .)");
  OnRun(download, [&globals] { return Download(globals, dl_what, dl_ref, dl_dir); });

  AddJobAttachCommands(job, globals);
}

}  // namespace mlc
