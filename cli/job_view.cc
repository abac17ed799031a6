#include "job_view.h"

#include <filesystem>
#include <iostream>

#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "mlcore/jobs.h"
#include "mlcore/json.h"
#include "mlcore/resources.h"
#include "tracking_view.h"

namespace mlc {

using google::protobuf::util::TimeUtil;

const char* StreamTag(mlcore::v1::LogStream stream) {
  switch (stream) {
    case mlcore::v1::LOG_STREAM_STDERR:
      return "E";
    case mlcore::v1::LOG_STREAM_SYSTEM:
      return "S";
    default:
      return "O";
  }
}

void PrintLogLine(const mlcore::v1::LogLine& line, bool timestamps, bool show_system) {
  if (line.stream() == mlcore::v1::LOG_STREAM_SYSTEM && !show_system) return;
  // stdout carries only the job's own standard output, so it can be piped.
  std::ostream& out = line.stream() == mlcore::v1::LOG_STREAM_STDOUT ? std::cout : std::cerr;
  if (timestamps) out << TimeUtil::ToString(line.time()) << " ";
  if (line.stream() == mlcore::v1::LOG_STREAM_SYSTEM) out << "[mlcore] ";
  out << line.text() << "\n";
  out.flush();
}

void PrintJsonLine(const mlcore::v1::LogLine& line) {
  std::cout << mlcore::ToJson(line) << "\n";
  std::cout.flush();
}

namespace {

std::string UntilDeadline(const mlcore::v1::Job& job) {
  int64_t now = TimeUtil::TimestampToSeconds(TimeUtil::GetCurrentTime());
  int64_t end = 0;
  if (job.has_deadline_time()) end = job.deadline_time().seconds();
  if (job.spec().has_deadline() && job.has_start_time() &&
      job.state() == mlcore::v1::JOB_STATE_RUNNING) {
    int64_t by_deadline = job.start_time().seconds() + job.spec().deadline().seconds() -
                          job.resources_used().wall_time().seconds();
    end = end == 0 ? by_deadline : std::min(end, by_deadline);
  }
  if (end == 0 || mlcore::IsFinalJobState(job.state())) return "-";
  google::protobuf::Duration left;
  left.set_seconds(std::max<int64_t>(0, end - now));
  return mlcore::FormatDurationText(left);
}

std::string Qos(const mlcore::v1::Job& job) {
  return job.qos() == mlcore::v1::QOS_CLASS_PREEMPTIBLE ? "preemptible" : "on-demand";
}

std::string Size(const mlcore::v1::Job& job) {
  std::string s =
      job.spec().flavor().empty() ? mlcore::FormatResources(job.resources()) : job.spec().flavor();
  if (job.spec().replicas() > 1) s += " x" + std::to_string(job.spec().replicas());
  return s;
}

// Input datasets (as loaded, with digest and size, once the job has started; as specified
// before) and output paths with the artifacts stored from them.
void PrintJobData(const mlcore::v1::Job& j) {
  const auto& loaded = j.reproducibility().input_datasets();
  const auto& inputs = loaded.empty() ? j.spec().input_datasets() : loaded;
  if (!inputs.empty()) {
    std::cout << "inputs:\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : inputs) {
      rows.push_back({d.uri(), d.digest().empty() ? "-" : d.digest().substr(0, 12),
                      loaded.empty() ? "-" : HumanBytes(d.size_bytes())});
    }
    PrintIndentedTable({"URI", "DIGEST", "SIZE"}, rows, 2);
  }
  std::string outputs;
  for (const auto& o : j.spec().output_paths()) outputs += (outputs.empty() ? "" : ", ") + o;
  if (!outputs.empty()) std::cout << "outputs:       " << outputs << "\n";
  std::string artifacts;
  for (const auto& id : j.output_artifact_ids()) artifacts += (artifacts.empty() ? "" : ", ") + id;
  if (!artifacts.empty()) std::cout << "artifacts:     " << artifacts << "\n";
}

}  // namespace

void PrintJobTable(const mlcore::v1::ListJobsResponse& jobs, bool show_project) {
  std::vector<std::string> header = {"NAME", "STATE",       "RESOURCES", "QOS",
                                     "AGE",  "DEADLINE IN", "USER",      "ID"};
  if (show_project) header.insert(header.begin() + 1, "PROJECT");
  std::vector<std::vector<std::string>> rows;
  for (const auto& j : jobs.jobs()) {
    std::vector<std::string> row = {j.spec().name(),
                                    mlcore::JobStateName(j.state()),
                                    Size(j),
                                    Qos(j),
                                    Age(j.create_time().seconds()),
                                    UntilDeadline(j),
                                    j.user(),
                                    j.id()};
    if (show_project) row.insert(row.begin() + 1, j.spec().project());
    rows.push_back(std::move(row));
  }
  PrintTable(header, rows);
}

void PrintJobDescription(const mlcore::v1::Job& j) {
  auto line = [](const std::string& key, const std::string& value) {
    if (!value.empty())
      std::cout << key << ":" << std::string(14 - key.size(), ' ') << value << "\n";
  };
  line("name", j.spec().name());
  line("id", j.id());
  line("project", j.spec().project());
  line("user", j.user());
  std::string state = mlcore::JobStateName(j.state());
  if (j.has_exit_code()) state += " (exit code " + std::to_string(j.exit_code()) + ")";
  if (j.has_signal()) state += " (signal " + std::to_string(j.signal()) + ")";
  line("state", state);
  line("message", j.message());
  line("waiting", j.waiting_reason());
  std::string command;
  for (const auto& c : j.spec().command()) command += (command.empty() ? "" : " ") + c;
  for (const auto& a : j.spec().args()) command += " " + a;
  line("command", command);
  line("working dir", j.spec().working_dir());
  line("resources",
       Size(j) +
           (j.spec().flavor().empty() ? "" : " (" + mlcore::FormatResources(j.resources()) + ")"));
  line("qos",
       Qos(j) + ", priority " + std::to_string(j.priority()) +
           (j.spec().priority_class().empty() ? "" : " (" + j.spec().priority_class() + ")"));
  line("created", TimeUtil::ToString(j.create_time()));
  if (j.has_start_time()) line("started", TimeUtil::ToString(j.start_time()));
  if (j.has_end_time()) line("ended", TimeUtil::ToString(j.end_time()));
  line("deadline in", UntilDeadline(j) == "-" ? "" : UntilDeadline(j));
  if (j.restarts() > 0) line("restarts", std::to_string(j.restarts()));
  const auto& used = j.resources_used();
  if (used.has_wall_time()) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.2f cpu-s, peak memory %s, wall %s", used.cpu_seconds(),
                  mlcore::FormatBytes(used.memory_peak_bytes()).c_str(),
                  mlcore::FormatDurationText(used.wall_time()).c_str());
    line("used", buf);
  }
  const auto& src = j.reproducibility().source();
  if (!src.git_commit().empty()) {
    line("git", src.git_commit().substr(0, 12) + (src.git_dirty() ? " (dirty)" : "") +
                    (src.git_branch().empty() ? "" : " on " + src.git_branch()));
  }
  line("rerun of", j.rerun_of());
  for (const auto& [k, v] : j.spec().labels()) line("label", k + "=" + v);
  PrintJobData(j);
  if (j.events_size() > 0) {
    std::cout << "events:\n";
    for (const auto& e : j.events()) {
      std::cout << "  " << TimeUtil::ToString(e.time()) << "  "
                << mlcore::JobStateName(e.to_state()) << "  " << e.reason() << "\n";
    }
  }
}

mlcore::Result<std::string> LocalJobDir(mlcore::Client& client, const mlcore::v1::Job& job) {
  MLC_ASSIGN_OR_RETURN(auto info, client.GetBackendInfo());
  if (info.scheme() != "local") {
    return mlcore::FailedPreconditionError("this needs the job's files, which are on the " +
                                           info.scheme() + " backend's machines, not here");
  }
  return info.target().substr(std::string("local://").size()) + "/jobs/" + job.id();
}

mlcore::Status CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!std::filesystem::exists(from, ec)) return mlcore::NotFoundError(from + " does not exist");
  auto parent = std::filesystem::path(to).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::filesystem::copy(
      from, to,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing,
      ec);
  if (ec) return mlcore::InternalError("cannot copy " + from + " to " + to + ": " + ec.message());
  std::cout << to << "\n";
  return mlcore::Status::Ok();
}

}  // namespace mlc
