// mlc pipeline run|ls|get|logs|cancel|resume
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "exit_codes.h"
#include "job_view.h"
#include "mlcore/client.h"
#include "mlcore/jobs.h"
#include "mlcore/pipelines.h"

namespace mlc {
namespace {

namespace v1 = mlcore::v1;
using google::protobuf::util::TimeUtil;

std::string RunStateWord(v1::PipelineRunState s) {
  return std::string(v1::PipelineRunState_Name(s)).substr(19);
}

std::string StepStateWord(v1::StepState s) { return std::string(v1::StepState_Name(s)).substr(11); }

std::string StepLabel(const v1::StepRun& sr) {
  return sr.has_iteration() ? sr.step() + "[" + std::to_string(sr.iteration()) + "]" : sr.step();
}

std::string Seconds(const google::protobuf::Timestamp& from,
                    const google::protobuf::Timestamp& to) {
  if (from.seconds() == 0 || to.seconds() == 0) return "-";
  const double s = static_cast<double>(TimeUtil::TimestampToMilliseconds(to) -
                                       TimeUtil::TimestampToMilliseconds(from)) /
                   1000.0;
  std::ostringstream out;
  out.precision(s < 10 ? 2 : 0);
  out << std::fixed << s << "s";
  return out.str();
}

// What each step waits for: edges' sources and depends_on.
std::map<std::string, std::set<std::string>> Needs(const v1::PipelineSpec& spec) {
  std::map<std::string, std::set<std::string>> needs;
  for (const auto& step : spec.steps()) {
    for (const auto& d : step.depends_on()) needs[step.name()].insert(d);
  }
  for (const auto& e : spec.edges()) {
    if (!e.source_step().empty() && !e.target_step().empty()) {
      needs[e.target_step()].insert(e.source_step());
    }
  }
  return needs;
}

std::string Joined(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? "-" : out;
}

size_t CountDone(const v1::PipelineRun& run) {
  size_t done = 0;
  for (const auto& sr : run.steps()) {
    done += sr.state() == v1::STEP_STATE_SUCCEEDED || sr.state() == v1::STEP_STATE_CACHED ||
            sr.state() == v1::STEP_STATE_SKIPPED;
  }
  return done;
}

// The run's header and its steps in the order they were declared, with what each needs: the DAG
// as text.
void PrintRun(const v1::PipelineRun& run) {
  std::cout << "pipeline run " << run.id() << "  " << run.spec().name() << "  "
            << RunStateWord(run.state()) << "\n";
  std::cout << "  project " << run.project() << ", user " << run.user() << ", " << CountDone(run)
            << "/" << run.steps_size() << " steps done";
  if (run.has_start_time()) {
    std::cout << ", "
              << Seconds(run.start_time(),
                         run.has_end_time()
                             ? run.end_time()
                             : TimeUtil::MicrosecondsToTimestamp(
                                   std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()));
  }
  if (run.resumes() > 0) std::cout << ", resumed " << run.resumes() << "x";
  if (run.cache_disabled()) std::cout << ", cache off";
  if (!run.run_id().empty()) std::cout << ", tracking run " << run.run_id();
  std::cout << "\n";
  if (!run.message().empty()) std::cout << "  " << run.message() << "\n";
  if (!run.input_values().empty()) {
    std::cout << "  inputs:";
    for (const auto& [k, v] : std::map(run.input_values().begin(), run.input_values().end())) {
      std::cout << " " << k << "=" << v;
    }
    std::cout << "\n";
  }
  std::cout << "\n";
  auto needs = Needs(run.spec());
  std::vector<std::vector<std::string>> rows;
  for (const auto& sr : run.steps()) {
    std::string job =
        sr.job_id().empty()
            ? (sr.cached_from_job_id().empty() ? "-" : "(" + sr.cached_from_job_id() + ")")
            : sr.job_id();
    rows.push_back(
        {StepLabel(sr), StepStateWord(sr.state()), job, Seconds(sr.start_time(), sr.end_time()),
         sr.step() == "exit_handler" ? "(all)" : Joined(needs[sr.step()]), sr.message()});
  }
  PrintTable({"STEP", "STATE", "JOB", "TIME", "NEEDS", "MESSAGE"}, rows);
  for (const auto& out : run.outputs()) {
    std::cout << "output " << out.name() << ": "
              << (!out.artifact_id().empty()      ? "artifact " + out.artifact_id()
                  : !out.parameter_json().empty() ? out.parameter_json()
                                                  : out.dataset().uri())
              << "\n";
  }
}

// The run's DAG in Graphviz's DOT language, nodes coloured by state.
std::string Dot(const v1::PipelineRun& run) {
  std::map<std::string, v1::StepState> worst;
  for (const auto& sr : run.steps()) {
    auto [it, inserted] = worst.try_emplace(sr.step(), sr.state());
    if (!inserted && sr.state() > it->second) it->second = sr.state();
  }
  auto color = [](v1::StepState s) {
    switch (s) {
      case v1::STEP_STATE_SUCCEEDED:
        return "#9be39b";
      case v1::STEP_STATE_CACHED:
        return "#b8e0ff";
      case v1::STEP_STATE_RUNNING:
        return "#ffe27a";
      case v1::STEP_STATE_FAILED:
      case v1::STEP_STATE_UPSTREAM_FAILED:
        return "#ff9a9a";
      case v1::STEP_STATE_SKIPPED:
      case v1::STEP_STATE_CANCELLED:
        return "#dddddd";
      default:
        return "#ffffff";
    }
  };
  std::ostringstream dot;
  dot << "digraph \"" << run.spec().name() << "\" {\n  rankdir=LR;\n"
      << "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n";
  for (const auto& step : run.spec().steps()) {
    auto s = worst.count(step.name()) ? worst[step.name()] : v1::STEP_STATE_PENDING;
    size_t n = 0;
    for (const auto& sr : run.steps()) n += sr.step() == step.name();
    dot << "  \"" << step.name() << "\" [label=\"" << step.name()
        << (step.has_parallel_for() ? " (x" + std::to_string(n) + ")" : "") << "\\n"
        << StepStateWord(s) << "\", fillcolor=\"" << color(s) << "\"];\n";
  }
  for (const auto& [target, sources] : Needs(run.spec())) {
    for (const auto& source : sources) {
      dot << "  \"" << source << "\" -> \"" << target << "\";\n";
    }
  }
  dot << "}\n";
  return dot.str();
}

mlcore::Status Plot(const v1::PipelineRun& run, const std::string& path) {
  const std::string dot = Dot(run);
  const bool as_dot = path.ends_with(".dot") || path.ends_with(".gv");
  const std::string dot_path = as_dot ? path : path + ".dot";
  {
    std::ofstream out(dot_path);
    out << dot;
    if (!out) return mlcore::PermissionDeniedError("cannot write " + dot_path);
  }
  if (as_dot) return mlcore::Status::Ok();
  std::string format =
      path.substr(path.rfind('.') == std::string::npos ? path.size() : path.rfind('.') + 1);
  if (format != "png" && format != "svg" && format != "pdf") {
    std::remove(dot_path.c_str());
    return mlcore::InvalidArgumentError("--plot " + path +
                                        ": the file must end in .png, .svg, .pdf or .dot");
  }
  const std::string command =
      "dot -T" + format + " -o '" + path + "' '" + dot_path + "' 2>/dev/null";
  const int rc = std::system(command.c_str());
  std::remove(dot_path.c_str());
  if (rc != 0) {
    return mlcore::FailedPreconditionError(
        "drawing " + path + " needs Graphviz's `dot` (apt install graphviz); `--plot " +
        path.substr(0, path.rfind('.')) + ".dot` writes the graph without it");
  }
  return mlcore::Status::Ok();
}

// The process exit code for a run that ended: 0 when it succeeded.
int ExitCodeOf(const v1::PipelineRun& run) {
  if (run.state() == v1::PIPELINE_RUN_STATE_SUCCEEDED) return kExitOk;
  if (run.state() == v1::PIPELINE_RUN_STATE_CANCELLED) return kExitCancelled;
  return kExitError;
}

// Follows a run until it ends, printing each step's transitions; returns the exit code.
mlcore::Result<int> Follow(mlcore::Client& client, const std::string& id, OutputFormat format) {
  std::map<std::string, v1::StepState> seen;
  MLC_ASSIGN_OR_RETURN(
      v1::PipelineRun done,
      client.WaitPipelineRun(id, std::chrono::milliseconds(0), [&](const v1::PipelineRun& run) {
        if (format != OutputFormat::kTable) return;
        for (const auto& sr : run.steps()) {
          auto& last = seen[StepLabel(sr)];
          if (last == sr.state()) continue;
          last = sr.state();
          if (sr.state() == v1::STEP_STATE_PENDING) continue;
          std::cerr << "  " << StepLabel(sr) << " " << StepStateWord(sr.state())
                    << (sr.job_id().empty() ? "" : " (job " + sr.job_id() + ")")
                    << (sr.message().empty() ? "" : ": " + sr.message()) << "\n";
        }
      }));
  if (format == OutputFormat::kTable) {
    std::cout << "\n";
    PrintRun(done);
  } else {
    PrintMessage(done, format);
  }
  return ExitCodeOf(done);
}

}  // namespace

void AddPipelineRunCommands(CLI::App* pipeline, Globals& globals) {
  static std::string run_file;
  static std::vector<std::string> run_inputs;
  static bool run_no_cache = false;
  static bool run_wait = false;
  auto* run_cmd = pipeline->add_subcommand(
      "run", "Run a pipeline file: each step becomes a job once its inputs are ready");
  run_cmd->add_option("file", run_file, "Pipeline file (YAML or JSON); - reads standard input")
      ->required();
  run_cmd->add_option("-i,--input", run_inputs, "Pipeline input NAME=VALUE (repeatable)");
  run_cmd->add_flag("--no-cache", run_no_cache,
                    "Run every step, reusing no earlier outputs (results are still cached)");
  run_cmd->add_flag("-w,--wait", run_wait,
                    "Follow the run until it ends, printing step transitions; exit 0 if it "
                    "succeeded");
  run_cmd->footer(
      "Examples:\n"
      "  mlc pipeline run flow.yaml -i rows=1000 --wait\n"
      "  mlc pipeline run flow.yaml --no-cache\n"
      "The run continues in the background; `mlc pipeline get ID` shows it.");
  OnRun(run_cmd, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(std::string text, ReadPipelineText(run_file));
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    v1::RunPipelineRequest request;
    for (const auto& kv : run_inputs) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return mlcore::InvalidArgumentError("--input " + kv + ": expected NAME=VALUE");
      }
      (*request.mutable_input_values())[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    request.set_disable_cache(run_no_cache);
    MLC_ASSIGN_OR_RETURN(
        v1::PipelineRun started,
        client->RunPipeline(request, text, run_file == "-" ? "<stdin>" : run_file));
    if (!run_wait) {
      if (globals.format() != OutputFormat::kTable) {
        PrintMessage(started, globals.format());
      } else {
        std::cout << "pipeline run " << started.id() << " (" << started.spec().name() << ", "
                  << started.spec().steps_size() << " steps) started; `mlc pipeline get "
                  << started.id() << "` shows it\n";
      }
      return mlcore::Status::Ok();
    }
    std::cerr << "pipeline run " << started.id() << " started\n";
    MLC_ASSIGN_OR_RETURN(CommandExitCode(), Follow(*client, started.id(), globals.format()));
    return mlcore::Status::Ok();
  });

  static std::string ls_name;
  static std::vector<std::string> ls_states;
  static int ls_limit = 50;
  auto* ls = pipeline->add_subcommand("ls", "List pipeline runs, newest first");
  ls->add_option("--name", ls_name, "Only runs of this pipeline");
  ls->add_option("--state", ls_states,
                 "Only runs in these states (pending, running, succeeded, failed, "
                 "cancelling, cancelled)");
  ls->add_option("--limit", ls_limit, "At most this many runs")->capture_default_str();
  OnRun(ls, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    v1::ListPipelineRunsRequest request;
    request.set_project(globals.project.empty() ? client->config().project : globals.project);
    request.set_pipeline_name(ls_name);
    request.set_page_size(ls_limit);
    for (std::string s : ls_states) {
      for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      v1::PipelineRunState state;
      if (!v1::PipelineRunState_Parse("PIPELINE_RUN_STATE_" + s, &state) ||
          state == v1::PIPELINE_RUN_STATE_UNSPECIFIED) {
        return mlcore::InvalidArgumentError(
            "--state " + s +
            ": not a run state (pending, running, succeeded, failed, cancelling, cancelled)");
      }
      request.add_states(state);
    }
    MLC_ASSIGN_OR_RETURN(auto response, client->ListPipelineRuns(request));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(response, globals.format());
      return mlcore::Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : response.runs()) {
      rows.push_back({r.id(), r.spec().name(), RunStateWord(r.state()),
                      std::to_string(CountDone(r)) + "/" + std::to_string(r.steps_size()),
                      r.failed_step().empty() ? "-" : r.failed_step(),
                      Age(r.create_time().seconds()), r.user()});
    }
    PrintTable({"ID", "PIPELINE", "STATE", "DONE", "FAILED STEP", "AGE", "USER"}, rows);
    return mlcore::Status::Ok();
  });

  static std::string get_id;
  static std::string get_plot;
  auto* get = pipeline->add_subcommand(
      "get", "Show a pipeline run: its state and each step's state, job and time (the DAG)");
  get->add_option("id", get_id, "Pipeline run id")->required();
  get->add_option("--plot", get_plot,
                  "Also draw the DAG, coloured by state, to FILE (.png, .svg, .pdf need "
                  "Graphviz; .dot writes the graph)");
  OnRun(get, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto run, client->GetPipelineRun(get_id));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(run, globals.format());
    } else {
      PrintRun(run);
    }
    if (!get_plot.empty()) {
      MLC_RETURN_IF_ERROR(Plot(run, get_plot));
      std::cerr << "wrote " << get_plot << "\n";
    }
    return mlcore::Status::Ok();
  });

  static std::string logs_id;
  static std::string logs_step;
  static bool logs_timestamps = false;
  static bool logs_follow = false;
  auto* logs = pipeline->add_subcommand(
      "logs", "Print the output of a pipeline run's step jobs, each line prefixed by its step");
  logs->add_option("id", logs_id, "Pipeline run id")->required();
  logs->add_option("--step", logs_step, "Only this step (all its iterations)");
  logs->add_flag("-t,--timestamps", logs_timestamps, "Prefix each line with its time");
  logs->add_flag("-F,--follow", logs_follow,
                 "Keep printing new lines of every step as the run goes on, until it ends; exit 0 "
                 "if it succeeded");
  OnRun(logs, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    // Lines already printed per job: each poll prints only what came since, so steps running
    // side by side (a parallel-for) are followed together.
    std::map<std::string, size_t> printed;
    std::set<std::string> finished;
    while (true) {
      MLC_ASSIGN_OR_RETURN(auto run, client->GetPipelineRun(logs_id));
      const bool run_ended = mlcore::IsFinalPipelineRunState(run.state());
      bool any_step = false;
      for (const auto& sr : run.steps()) {
        if (!logs_step.empty() && sr.step() != logs_step) continue;
        any_step = true;
        if (sr.job_id().empty() || finished.count(sr.job_id())) continue;
        // Read before the lines: a job that ended by now has all of its lines in the log.
        MLC_ASSIGN_OR_RETURN(auto job, client->GetJob(sr.job_id(), v1::JOB_VIEW_BASIC));
        v1::StreamJobLogsRequest request;
        request.set_id(sr.job_id());
        const std::string prefix = "[" + StepLabel(sr) + "] ";
        size_t& done = printed[sr.job_id()];
        size_t index = 0;
        MLC_RETURN_IF_ERROR(client->StreamJobLogs(request, [&](const v1::LogLine& line) {
          if (index++ < done) return true;
          if (logs_timestamps) std::cout << TimeUtil::ToString(line.time()) << " ";
          std::cout << prefix << line.text() << "\n";
          return true;
        }));
        done = index;
        if (mlcore::IsFinalJobState(job.state())) finished.insert(sr.job_id());
      }
      if (!any_step) {
        return mlcore::NotFoundError("pipeline run " + logs_id + " has no step \"" + logs_step +
                                     "\"");
      }
      std::cout.flush();
      if (!logs_follow) return mlcore::Status::Ok();
      if (run_ended) {
        CommandExitCode() = ExitCodeOf(run);
        if (run.state() != v1::PIPELINE_RUN_STATE_SUCCEEDED) {
          std::cerr << "mlc: pipeline run " << run.id() << " ended " << RunStateWord(run.state())
                    << (run.message().empty() ? "" : ": " + run.message()) << "\n";
        }
        return mlcore::Status::Ok();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });

  static std::string cancel_id;
  static std::string cancel_reason;
  static bool cancel_wait = false;
  auto* cancel = pipeline->add_subcommand(
      "cancel", "Cancel a pipeline run: its active jobs are cancelled, the exit handler runs");
  cancel->add_option("id", cancel_id, "Pipeline run id")->required();
  cancel->add_option("--reason", cancel_reason, "Why (recorded with the run)");
  cancel->add_flag("-w,--wait", cancel_wait, "Wait until the run has stopped");
  OnRun(cancel, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto run, client->CancelPipelineRun(cancel_id, cancel_reason));
    if (cancel_wait) {
      MLC_ASSIGN_OR_RETURN(run, client->WaitPipelineRun(cancel_id));
    }
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(run, globals.format());
    } else {
      std::cout << "pipeline run " << run.id() << " " << RunStateWord(run.state()) << "\n";
    }
    return mlcore::Status::Ok();
  });

  static std::string resume_id;
  static bool resume_no_cache = false;
  static bool resume_wait = false;
  auto* resume = pipeline->add_subcommand(
      "resume",
      "Run a failed or cancelled pipeline run again from the steps that did not "
      "succeed");
  resume->add_option("id", resume_id, "Pipeline run id")->required();
  resume->add_flag("--no-cache", resume_no_cache, "Reuse no cached outputs for the rerun steps");
  resume->add_flag("-w,--wait", resume_wait, "Follow the run until it ends");
  OnRun(resume, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto run, client->ResumePipelineRun(resume_id, resume_no_cache));
    if (!resume_wait) {
      if (globals.format() != OutputFormat::kTable) {
        PrintMessage(run, globals.format());
      } else {
        std::cout << "pipeline run " << run.id() << " resumed (" << CountDone(run) << "/"
                  << run.steps_size() << " steps kept)\n";
      }
      return mlcore::Status::Ok();
    }
    MLC_ASSIGN_OR_RETURN(CommandExitCode(), Follow(*client, run.id(), globals.format()));
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
