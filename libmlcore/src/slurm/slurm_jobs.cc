// SlurmBackend: reading jobs back from Slurm (get, list), logs, cancel and preempt.
#include <chrono>
#include <deque>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/stat.h>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "core/page_token.h"
#include "core/validation.h"
#include "local/job_run_tracker.h"
#include "local/job_store.h"
#include "mlcore/jobs.h"
#include "slurm/slurm_backend.h"
#include "slurm/slurm_mapping.h"
#include "util/fs.h"

namespace mlcore::slurm {
namespace {

using google::protobuf::util::TimeUtil;

int64_t Number(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return 0;
  return j[key].get<int64_t>();
}

std::string Text(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return {};
  return j[key].get<std::string>();
}

// Whether the retry policy restarts a job that just ended FAILED.
bool ShouldRetry(const v1::Job& job) {
  if (!job.spec().has_retry() || job.restarts() >= job.spec().retry().max_restarts()) return false;
  const auto& codes = job.spec().retry().retry_exit_codes();
  if (codes.empty()) return true;
  return job.has_exit_code() &&
         std::find(codes.begin(), codes.end(), job.exit_code()) != codes.end();
}

std::string Argv0(const v1::JobSpec& spec) {
  if (!spec.entrypoint().empty()) return spec.entrypoint();
  return spec.command_size() > 0 ? spec.command(0) : std::string();
}

}  // namespace

void SlurmBackend::Move(Row* row, v1::JobState to, const std::string& reason) {
  v1::Job& job = row->job;
  if (job.state() == to) return;
  const int64_t now = local::NowMicros();
  const auto start = job.start_time();  // Slurm's, when it reported one
  // Steps Slurm took before we looked are dated when Slurm says they happened.
  const int64_t started_us = start.seconds() > 0 ? TimeUtil::TimestampToMicroseconds(start) : now;
  // Slurm may report a job only once it has already gone past STARTING and RUNNING: record the
  // steps it skipped so every job's history reads the same on every backend.
  if (to == v1::JOB_STATE_RUNNING || IsFinalJobState(to)) {
    if (job.state() == v1::JOB_STATE_PENDING && job.has_start_time()) {
      local::Transition(&job, v1::JOB_STATE_STARTING, "allocated by Slurm", started_us);
    }
    if (job.state() == v1::JOB_STATE_STARTING && to != v1::JOB_STATE_RUNNING &&
        job.has_start_time()) {
      local::Transition(&job, v1::JOB_STATE_RUNNING, "running in Slurm", started_us);
    }
  } else if (to == v1::JOB_STATE_STARTING && job.state() != v1::JOB_STATE_PENDING) {
    return;
  }
  local::Transition(&job, to, reason, now);
  if (start.seconds() > 0) *job.mutable_start_time() = start;  // keep Slurm's start time
}

Status SlurmBackend::EndRun(const v1::Job& job) {
  if (job.run_id().empty()) return Status::Ok();
  v1::UpdateRunRequest update;
  update.set_id(job.run_id());
  update.set_status(local::RunStatusOfJobState(job.state()));
  if (job.has_end_time()) *update.mutable_end_time() = job.end_time();
  auto updated = inner().UpdateRun(update);
  // FAILED_PRECONDITION: the run was ended already (by tracking code inside the job).
  if (!updated.ok() && updated.status().code() != StatusCode::kFailedPrecondition) {
    return updated.status();
  }
  return Status::Ok();
}

Status SlurmBackend::RefreshLocked(Row* row, bool admit) {
  v1::Job& job = row->job;
  if (IsFinalJobState(job.state()) || row->slurm_id <= 0) return Status::Ok();
  const std::string sid = std::to_string(row->slurm_id);
  auto answer =
      rest_->Get("/job/" + sid, "read job " + job.spec().name() + " (Slurm job " + sid + ")");
  if (!answer.ok()) {
    if (answer.status().code() != StatusCode::kNotFound) return answer.status();
    // Slurm forgot it (MinJobAge passed, or the controller lost its state) before we saw it end.
    Move(row, v1::JOB_STATE_LOST,
         "Slurm no longer knows job " + sid + " and mlcore never saw it end");
    MLC_RETURN_IF_ERROR(UpdateRowLocked(*row));
    return EndRun(job);
  }
  const auto& jobs = (*answer)["jobs"];
  if (!jobs.is_array() || jobs.empty()) return Status::Ok();
  const auto& s = jobs[0];
  ObservedState seen = MapSlurmState(Text(s, "job_state"), Text(s, "state_reason"),
                                     Number(s, "exit_code"), Argv0(job.spec()));
  const int64_t start = Number(s, "start_time");
  const int64_t end = Number(s, "end_time");
  // A job mlcore stopped for its deadline or ttl ends TIMED_OUT whatever Slurm calls it
  // (CANCELLED), with the signal that ended it (SIGKILL after KillWait when it ignored SIGTERM).
  // (deadline_time is set only when mlcore stops a job for its limits: the marker of that.)
  if (seen.state == v1::JOB_STATE_CANCELLED && job.has_deadline_time()) {
    const auto& spec = job.spec();
    const bool by_ttl = spec.has_ttl() && TimeUtil::DurationToMicroseconds(spec.ttl()) > 0 &&
                        TimeUtil::TimestampToMicroseconds(job.deadline_time()) >=
                            TimeUtil::TimestampToMicroseconds(job.create_time()) +
                                TimeUtil::DurationToMicroseconds(spec.ttl());
    seen.state = v1::JOB_STATE_TIMED_OUT;
    seen.message = by_ttl ? "ttl of " + FormatDurationText(spec.ttl()) + " reached"
                          : "deadline of " + FormatDurationText(spec.deadline()) + " reached";
  }
  if (!IsFinalJobState(seen.state) && !job.has_deadline_time()) {
    // Limits finer than Slurm's (minutes) or that Slurm lacks (ttl), enforced when mlcore looks.
    const int64_t now_us = local::NowMicros();
    const auto& spec = job.spec();
    std::string why;
    if (spec.has_ttl() && TimeUtil::DurationToMicroseconds(spec.ttl()) > 0 &&
        now_us > TimeUtil::TimestampToMicroseconds(job.create_time()) +
                     TimeUtil::DurationToMicroseconds(spec.ttl())) {
      why = seen.state == v1::JOB_STATE_PENDING
                ? "ttl of " + FormatDurationText(spec.ttl()) + " expired while pending"
                : "ttl of " + FormatDurationText(spec.ttl()) + " reached";
    } else if (seen.state == v1::JOB_STATE_RUNNING && start > 0 && spec.has_deadline() &&
               TimeUtil::DurationToMicroseconds(spec.deadline()) > 0 &&
               now_us > start * 1000000 + TimeUtil::DurationToMicroseconds(spec.deadline())) {
      why = "deadline of " + FormatDurationText(spec.deadline()) + " reached";
    }
    if (!why.empty()) {
      auto stopped = rest_->Delete(
          "/job/" + sid, "stop job " + job.spec().name() + " (" + why + ", Slurm job " + sid + ")");
      if (!stopped.ok() && stopped.status().code() != StatusCode::kNotFound &&
          stopped.status().code() != StatusCode::kFailedPrecondition) {
        return stopped.status();
      }
      *job.mutable_deadline_time() = TimeUtil::MicrosecondsToTimestamp(now_us);
      if (seen.state == v1::JOB_STATE_PENDING) {
        Move(row, v1::JOB_STATE_CANCELLED, why);
        MLC_RETURN_IF_ERROR(UpdateRowLocked(*row));
        MLC_RETURN_IF_ERROR(EndRun(job));
        if (admit) MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/false));
        return Status::Ok();
      }
      // Slurm stops it (SIGTERM, then SIGKILL after KillWait); the next look records the end.
      job.set_message(why + "; stopping");
      MLC_RETURN_IF_ERROR(UpdateRowLocked(*row));
      return Status::Ok();
    }
  }
  const v1::JobState before = job.state();
  const std::string before_reason = job.waiting_reason();
  if (seen.state == v1::JOB_STATE_PENDING) {
    job.set_waiting_reason(seen.message);
    job.set_message(seen.message);
  } else {
    if (start > 0 && seen.state != v1::JOB_STATE_PENDING) {
      *job.mutable_start_time() = TimeUtil::SecondsToTimestamp(start);
    }
    job.clear_nodes();
    if (!Text(s, "nodes").empty()) job.add_nodes(Text(s, "nodes"));
    if (seen.state != before) {
      std::string reason = seen.message;
      if (IsFinalJobState(seen.state) && reason.empty()) {
        reason = seen.exit_code ? "exited with code " + std::to_string(*seen.exit_code)
                                : "ended in Slurm";
      }
      if (reason.empty()) reason = "Slurm job " + sid + " " + Text(s, "job_state");
      Move(row, seen.state, reason);
    }
    if (IsFinalJobState(job.state())) {
      if (seen.exit_code) job.set_exit_code(*seen.exit_code);
      if (seen.signal) job.set_signal(*seen.signal);
      if (end > 0) *job.mutable_end_time() = TimeUtil::SecondsToTimestamp(end);
      job.clear_nodes();
      if (job.has_start_time()) {
        *job.mutable_resources_used()->mutable_wall_time() = TimeUtil::MicrosecondsToDuration(
            std::max<int64_t>(0, TimeUtil::TimestampToMicroseconds(job.end_time()) -
                                     TimeUtil::TimestampToMicroseconds(job.start_time())));
      }
    }
  }
  if (job.state() == before && job.waiting_reason() == before_reason &&
      !IsFinalJobState(job.state())) {
    return Status::Ok();
  }
  if (job.state() == v1::JOB_STATE_FAILED && ShouldRetry(job)) {
    // The retry policy, as on local://: the same mlcore job goes back to PENDING and is handed
    // to Slurm again as a new Slurm job (attempt + 1, its own output files).
    job.set_restarts(job.restarts() + 1);
    const int64_t backoff = local::RetryBackoffUs(job.spec().retry(), job.restarts());
    std::ostringstream after;
    after << static_cast<double>(backoff) / 1e6;
    local::Transition(&job, v1::JOB_STATE_PENDING,
                      "restart " + std::to_string(job.restarts()) + " of " +
                          std::to_string(job.spec().retry().max_restarts()) +
                          (backoff > 0 ? " after " + after.str() + " s" : "") +
                          ", after: " + job.message(),
                      local::NowMicros());
    job.clear_start_time();
    row->slurm_id = 0;
    MLC_RETURN_IF_ERROR(UpdateRowLocked(*row));
    if (admit) MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/false));
    MLC_ASSIGN_OR_RETURN(*row, LoadRowLocked(job.id(), ""));
    return Status::Ok();
  }
  MLC_RETURN_IF_ERROR(UpdateRowLocked(*row));
  if (IsFinalJobState(job.state())) {
    MLC_RETURN_IF_ERROR(EndRun(job));
    if (admit) MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/false));  // its room is free again
  }
  return Status::Ok();
}

Result<v1::Job> SlurmBackend::GetJob(const v1::GetJobRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Row row, LoadRowLocked(request.id().empty() ? request.name() : request.id(),
                                              request.project()));
  if (row.slurm_id == 0 && row.job.state() == v1::JOB_STATE_PENDING) {
    MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/true));
    MLC_ASSIGN_OR_RETURN(row, LoadRowLocked(row.job.id(), ""));
  }
  MLC_RETURN_IF_ERROR(RefreshLocked(&row));
  if (request.view() == v1::JOB_VIEW_BASIC) row.job.clear_events();
  return row.job;
}

Result<v1::ListJobsResponse> SlurmBackend::ListJobs(const v1::ListJobsRequest& request) {
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(request.page_size()));
  MLC_ASSIGN_OR_RETURN(std::string after, DecodePageToken(request.page_token(), "jobs"));
  std::lock_guard lock(mu_);
  // Bring active jobs up to date first, so the state filter sees what Slurm sees.
  MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/true));
  // Newest first; the cursor is "create_us/id" of the last row returned.
  MLC_ASSIGN_OR_RETURN(
      auto select,
      db_->Prepare("SELECT body, create_us || '/' || id AS cursor FROM slurm_jobs WHERE "
                   "(?1 = '' OR project = ?1) AND (?2 = '' OR name = ?2) AND (?3 = '' OR "
                   "(create_us < CAST(substr(?3, 1, instr(?3, '/') - 1) AS INTEGER) OR "
                   "(create_us = CAST(substr(?3, 1, instr(?3, '/') - 1) AS INTEGER) AND id < "
                   "substr(?3, instr(?3, '/') + 1)))) ORDER BY create_us DESC, id DESC"));
  select.Bind(1, request.project()).Bind(2, request.name()).Bind(3, after);
  v1::ListJobsResponse response;
  std::string last;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, select.Step());
    if (!more) break;
    v1::Job job;
    if (!job.ParseFromString(select.ColumnBlob(0))) continue;
    if (request.states_size() > 0 && std::find(request.states().begin(), request.states().end(),
                                               job.state()) == request.states().end()) {
      continue;
    }
    if (!request.user().empty() && job.user() != request.user()) continue;
    bool labels_match = true;
    for (const auto& [k, v] : request.labels()) {
      auto it = job.spec().labels().find(k);
      labels_match = labels_match && it != job.spec().labels().end() && it->second == v;
    }
    if (!labels_match) continue;
    if (response.jobs_size() == page_size) {
      response.set_next_page_token(EncodePageToken(last, "jobs"));
      break;
    }
    if (request.view() != v1::JOB_VIEW_FULL) job.clear_events();
    last = select.ColumnText(1);
    *response.add_jobs() = std::move(job);
  }
  return response;
}

Status SlurmBackend::StreamJobLogs(const v1::StreamJobLogsRequest& request,
                                   const std::function<bool(const v1::LogLine&)>& sink,
                                   const std::function<bool()>& keep_following) {
  v1::Job job;
  {
    std::lock_guard lock(mu_);
    MLC_ASSIGN_OR_RETURN(Row row, LoadRowLocked(request.id(), ""));
    job = row.job;
  }
  std::set<int> streams(request.streams().begin(), request.streams().end());
  if (streams.empty()) streams = {v1::LOG_STREAM_STDOUT, v1::LOG_STREAM_STDERR};
  std::optional<std::regex> grep;
  if (!request.grep().empty()) {
    try {
      grep.emplace(request.grep());
    } catch (const std::regex_error& e) {
      return InvalidArgumentError("--grep " + request.grep() +
                                  " is not a regular expression: " + e.what());
    }
  }
  const int64_t since_us =
      request.has_since() ? TimeUtil::TimestampToMicroseconds(request.since()) : 0;
  // Slurm writes each stream to its own file, per attempt; lines carry the time they were read
  // (the file's modification time for lines already written), so ordering is per stream.
  struct Source {
    std::string path;
    v1::LogStream stream;
    int attempt;
    int64_t offset = 0;
    std::string partial;
  };
  std::vector<Source> sources;
  for (int attempt = 0; attempt <= job.restarts(); ++attempt) {
    const std::string a = std::to_string(attempt);
    if (streams.count(v1::LOG_STREAM_STDOUT)) {
      sources.push_back(
          {JobDirOf(job.id()) + "/stdout." + a + ".log", v1::LOG_STREAM_STDOUT, attempt, 0, {}});
    }
    if (streams.count(v1::LOG_STREAM_STDERR)) {
      sources.push_back(
          {JobDirOf(job.id()) + "/stderr." + a + ".log", v1::LOG_STREAM_STDERR, attempt, 0, {}});
    }
  }
  // Reads what is new in `src`; complete lines only unless `final`.
  auto read_new = [&](Source& src, bool final, std::vector<v1::LogLine>* out) {
    std::ifstream in(src.path, std::ios::binary);
    if (!in) return;
    struct stat st {};
    int64_t mtime_us =
        ::stat(src.path.c_str(), &st) == 0
            ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 + st.st_mtim.tv_nsec / 1000
            : local::NowMicros();
    in.seekg(src.offset);
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    src.offset += static_cast<int64_t>(chunk.size());
    src.partial += chunk;
    size_t pos = 0;
    while (true) {
      size_t nl = src.partial.find('\n', pos);
      if (nl == std::string::npos) break;
      v1::LogLine line;
      *line.mutable_time() = TimeUtil::MicrosecondsToTimestamp(mtime_us);
      line.set_stream(src.stream);
      line.set_attempt(src.attempt);
      line.set_text(src.partial.substr(pos, nl - pos));
      out->push_back(std::move(line));
      pos = nl + 1;
    }
    src.partial.erase(0, pos);
    if (final && !src.partial.empty()) {
      v1::LogLine line;
      *line.mutable_time() = TimeUtil::MicrosecondsToTimestamp(mtime_us);
      line.set_stream(src.stream);
      line.set_attempt(src.attempt);
      line.set_text(src.partial);
      out->push_back(std::move(line));
      src.partial.clear();
    }
  };
  auto wanted = [&](const v1::LogLine& line) {
    if (since_us > 0 && TimeUtil::TimestampToMicroseconds(line.time()) < since_us) return false;
    return !grep || std::regex_search(line.text(), *grep);
  };
  bool ended = IsFinalJobState(job.state());
  std::vector<v1::LogLine> first;
  for (auto& src : sources) read_new(src, ended || !request.follow(), &first);
  std::deque<v1::LogLine> selected;
  for (auto& line : first) {
    if (!wanted(line)) continue;
    selected.push_back(std::move(line));
    if (request.tail() > 0 && selected.size() > static_cast<size_t>(request.tail())) {
      selected.pop_front();
    }
  }
  for (const auto& line : selected) {
    if (!sink(line)) return Status::Ok();
  }
  if (!request.follow()) return Status::Ok();
  while (!ended) {
    {
      v1::GetJobRequest get;
      get.set_id(job.id());
      get.set_view(v1::JOB_VIEW_BASIC);
      MLC_ASSIGN_OR_RETURN(job, GetJob(get));
      ended = IsFinalJobState(job.state());
    }
    std::vector<v1::LogLine> lines;
    for (auto& src : sources) read_new(src, ended, &lines);
    for (const auto& line : lines) {
      if (wanted(line) && !sink(line)) return Status::Ok();
    }
    if (ended) break;
    if (lines.empty() && keep_following && !keep_following()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Ok();
}

Result<v1::Job> SlurmBackend::CancelJob(const v1::CancelJobRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Row row, LoadRowLocked(request.id(), ""));
  MLC_RETURN_IF_ERROR(RefreshLocked(&row));
  if (IsFinalJobState(row.job.state())) {
    return FailedPreconditionError("job " + row.job.spec().name() + " already ended (" +
                                   JobStateName(row.job.state()) + "); there is nothing to cancel");
  }
  const bool was_running = row.slurm_id > 0 && row.job.state() != v1::JOB_STATE_PENDING;
  if (row.slurm_id > 0) {
    const std::string sid = std::to_string(row.slurm_id);
    auto done = rest_->Delete("/job/" + sid,
                              "cancel job " + row.job.spec().name() + " (Slurm job " + sid + ")");
    if (!done.ok() && done.status().code() != StatusCode::kNotFound &&
        done.status().code() != StatusCode::kFailedPrecondition) {
      return done.status();
    }
  }
  held_secrets_.erase(row.job.id());
  // Slurm stops a cancelled job with SIGTERM (SIGKILL after KillWait).
  if (was_running) row.job.set_signal(15);
  Move(&row, v1::JOB_STATE_CANCELLED,
       request.reason().empty() ? "cancelled by " + util::CurrentUser() : request.reason());
  MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
  MLC_RETURN_IF_ERROR(EndRun(row.job));
  MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/false));
  return row.job;
}

Result<v1::Job> SlurmBackend::PreemptJob(const v1::PreemptJobRequest& request) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Row row, LoadRowLocked(request.id(), ""));
  MLC_RETURN_IF_ERROR(RefreshLocked(&row));
  v1::Job& job = row.job;
  if (IsFinalJobState(job.state())) {
    return FailedPreconditionError("job " + job.spec().name() + " already ended (" +
                                   JobStateName(job.state()) + "); only active jobs are preempted");
  }
  if (!job.spec().preemptible()) {
    return FailedPreconditionError("job " + job.spec().name() +
                                   " is not preemptible (submit it with --preemptible)");
  }
  if (row.slurm_id > 0) {
    // slurmrestd v0.0.38 has no requeue call: mlcore stops the Slurm job and, when restarts
    // remain, hands the same mlcore job to Slurm again (a new Slurm job id, attempt + 1).
    const std::string sid = std::to_string(row.slurm_id);
    auto done = rest_->Delete("/job/" + sid,
                              "preempt job " + job.spec().name() + " (Slurm job " + sid + ")");
    if (!done.ok() && done.status().code() != StatusCode::kNotFound &&
        done.status().code() != StatusCode::kFailedPrecondition) {
      return done.status();
    }
  }
  const std::string reason =
      request.reason().empty() ? "preempted by " + util::CurrentUser() : request.reason();
  Move(&row, v1::JOB_STATE_PREEMPTED, reason);
  if (job.spec().has_retry() && job.restarts() < job.spec().retry().max_restarts()) {
    job.set_restarts(job.restarts() + 1);
    local::Transition(&job, v1::JOB_STATE_PENDING, "requeued after preemption", local::NowMicros());
    job.clear_start_time();
    job.clear_exit_code();
    job.clear_signal();
    row.slurm_id = 0;
    MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
    MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/false));
    MLC_ASSIGN_OR_RETURN(row, LoadRowLocked(job.id(), ""));
    return row.job;
  }
  MLC_RETURN_IF_ERROR(UpdateRowLocked(row));
  MLC_RETURN_IF_ERROR(EndRun(job));
  MLC_RETURN_IF_ERROR(AdmitHeldLocked(/*refresh=*/false));
  return job;
}

}  // namespace mlcore::slurm
