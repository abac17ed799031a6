// Persistence of jobs in the local store: the serialized Job (spec, state, events, usage) plus the
// columns that queries and the runtime need. All functions expect the caller to hold the
// connection (LocalBackend's mutex) and, for read-modify-write, a Transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "local/process.h"
#include "local/sqlite_store.h"
#include "mlcore/status.h"
#include "mlcore/v1/jobs.pb.h"
#include "mlcore/v1/scheduling.pb.h"

namespace mlcore::local {

// What a user asked the supervisor of a running job to do.
enum class StopRequest : int { kNone = 0, kCancel = 1, kPreempt = 2 };

// A job row: the entity plus runtime bookkeeping that is not part of the API.
struct JobRecord {
  v1::Job job;
  int64_t not_before_us = 0;  // earliest start (retry backoff)
  // The job's supervisor. pid 0 when none runs; while one has been launched for a STARTING job
  // but has not claimed it yet, pid 0 with the boot id and the time of the launch in start_ticks
  // (ticks since boot: how long a claim has been awaited, immune to wall-clock steps).
  ProcessIdentity supervisor;
  pid_t pgid = 0;  // the job's process group, once started
  StopRequest stop = StopRequest::kNone;
  int64_t grace_ms = 0;  // for a stop request
};

// The migrations that add jobs to the store (appended to the store's list): the jobs table, then
// the scheduling columns and the runtime's bookkeeping table.
extern const char* const kJobsMigrationSql;
extern const char* const kSchedulingColumnsMigrationSql;
extern const char* const kAttachmentsMigrationSql;
extern const char* const kExpiryMigrationSql;

// Ids of PENDING jobs whose ttl expired at or before `now_us`.
Result<std::vector<std::string>> ExpiredPendingJobs(sqlite::Db& db, int64_t now_us);

// Writes the job's attachments (git diff, spec) from the store into `dir`.
Status MaterializeAttachments(sqlite::Db& db, const std::string& job_id, const std::string& dir);

// A pending job as the scheduler needs it, read from columns (no body parsing), with the waiting
// reason last recorded.
struct PendingRow {
  v1::SchedulableJob job;
  std::string waiting_reason;
};

// Pending jobs due by `now_us` (retry backoff elapsed), oldest first.
Result<std::vector<PendingRow>> LoadPendingRows(sqlite::Db& db, int64_t now_us);
// Whether a PENDING job is due (not_before_us <= now_us), and whether one became due in
// (from_us, to_us]: the cheap checks of SchedulingPassNeeded (no record is loaded).
Result<bool> AnyPendingDue(sqlite::Db& db, int64_t now_us);
Result<bool> AnyPendingDueBetween(sqlite::Db& db, int64_t from_us, int64_t to_us);
// PENDING jobs summed per (project, user), from the store's columns: what GetQuotaUsage counts as
// pending without loading 10,000 records.
struct PendingSum {
  std::string project, user;
  int64_t jobs = 0, cpu_millis = 0, memory_bytes = 0, gpu = 0;  // resources x replicas
};
Result<std::vector<PendingSum>> SumPendingByProjectUser(sqlite::Db& db);

// Small integer/text settings of the runtime (runtime_meta table).
Result<int64_t> GetMetaInt(sqlite::Db& db, const std::string& key);
Status SetMetaInt(sqlite::Db& db, const std::string& key, int64_t value);
Result<std::string> GetMetaText(sqlite::Db& db, const std::string& key);
Status SetMetaText(sqlite::Db& db, const std::string& key, const std::string& value);

// Inserts a new job. Errors: ALREADY_EXISTS when the name is taken in the project.
Status InsertJob(sqlite::Db& db, const JobRecord& record);

// Rewrites a job row (entity and runtime columns).
Status UpdateJob(sqlite::Db& db, const JobRecord& record);

// Loads by id. Errors: NOT_FOUND.
Result<JobRecord> LoadJob(sqlite::Db& db, const std::string& id);

// Finds a job id by project and name; nullopt when absent.
Result<std::optional<std::string>> FindJobId(sqlite::Db& db, const std::string& project,
                                             const std::string& name);

// Jobs in any of `states` (all when empty), oldest first, optionally only one project.
Result<std::vector<JobRecord>> LoadJobsInStates(sqlite::Db& db,
                                                const std::vector<v1::JobState>& states,
                                                const std::string& project = {});

// Jobs created at or after `create_us` (unix microseconds), oldest first, optionally only one
// project (a watch's look for new jobs).
Result<std::vector<JobRecord>> LoadJobsCreatedSince(sqlite::Db& db, int64_t create_us,
                                                    const std::string& project = {});

// A page of jobs for listing: newest first, after `after_key` ("create_us/id" of the last row).
struct JobPage {
  std::vector<JobRecord> records;
  bool more = false;
};
Result<JobPage> ListJobRows(sqlite::Db& db, const v1::ListJobsRequest& request, int page_size,
                            const std::string& after_key);

// "create_us/id" cursor of a row, for page tokens.
std::string JobCursor(const JobRecord& record);

// Counts a project's jobs (any state).
Result<int64_t> CountProjectJobs(sqlite::Db& db, const std::string& project);

// Records a state change: sets the state, start/end times as appropriate, appends an event.
void Transition(v1::Job* job, v1::JobState to, const std::string& reason, int64_t now_us);

// The wait before restart number `restarts` (1 = the first) under `retry`: initial_backoff
// (default 10 s) times backoff_multiplier (default 2) for each earlier restart, at most
// max_backoff (default 10 min). Shared by every backend's retry policy.
int64_t RetryBackoffUs(const v1::RetryPolicy& retry, int restarts);

// Unix microseconds now.
int64_t NowMicros();

// Adds `times` x `r` to `total`.
void AddTo(v1::Resources* total, const v1::Resources& r, int times);

// Counts `job` (all its replicas) into a quota report, for the project and for the job's user in
// `users`: as pending, or as used (and used preemptible) and running.
void CountJobUsage(const v1::Job& job, bool pending, v1::QuotaUsage* usage,
                   std::map<std::string, v1::UserUsage>* users);
// The same for a sum of pending jobs (SumPendingByProjectUser).
void CountPending(const PendingSum& sum, v1::QuotaUsage* usage,
                  std::map<std::string, v1::UserUsage>* users);

}  // namespace mlcore::local
