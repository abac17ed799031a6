/*
 * mlcore.h: the C ABI of mlcore, for Go and any language with a C FFI.
 *
 * Conventions (every function follows them):
 * - Handles are opaque (mlc_client). Destroy functions take a pointer to the handle and set it to
 *   NULL, so a double destroy is harmless.
 * - Every fallible call returns an mlc_status (MLC_OK == 0) and fills its out-parameters only on
 *   success (they are set to NULL on failure). When `err` is not NULL and the call fails, *err
 *   receives an error object that the caller owns and frees with mlc_error_free.
 * - Strings returned through `char**` are NUL-terminated UTF-8, owned by the caller, freed with
 *   mlc_string_free. Strings passed in are borrowed for the duration of the call.
 * - Entities travel as proto3 JSON (lowerCamelCase field names) of the messages in
 *   proto/mlcore/v1, so no entity is declared twice; mlc_invoke reaches every API method.
 * - No C++ exception crosses this boundary.
 * - Thread safety: one mlc_client may be used from several threads at once; error objects and
 *   strings belong to the thread that received them.
 * - JSON passed in is parsed strictly: an unknown field, a wrong type or a bad enum value is
 *   MLC_INVALID_ARGUMENT with a message naming the parameter, the message type and the field.
 */
#ifndef MLCORE_H_
#define MLCORE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MLC_BUILDING_CAPI)
#define MLC_API __attribute__((visibility("default")))
#else
#define MLC_API
#endif

/* Status codes: gRPC's canonical codes, same values. */
typedef enum mlc_status {
  MLC_OK = 0,
  MLC_CANCELLED = 1,
  MLC_UNKNOWN = 2,
  MLC_INVALID_ARGUMENT = 3,
  MLC_DEADLINE_EXCEEDED = 4,
  MLC_NOT_FOUND = 5,
  MLC_ALREADY_EXISTS = 6,
  MLC_PERMISSION_DENIED = 7,
  MLC_RESOURCE_EXHAUSTED = 8, /* quota or rate limit */
  MLC_FAILED_PRECONDITION = 9,
  MLC_ABORTED = 10,
  MLC_OUT_OF_RANGE = 11,
  MLC_UNIMPLEMENTED = 12,
  MLC_INTERNAL = 13,
  MLC_UNAVAILABLE = 14,
  MLC_DATA_LOSS = 15,
  MLC_UNAUTHENTICATED = 16
} mlc_status;

typedef struct mlc_client mlc_client;
typedef struct mlc_error mlc_error;

/* The library version ("0.1.0"); static storage, never freed. */
MLC_API const char* mlc_version(void);

/* The canonical name of a status ("NOT_FOUND"); static storage. */
MLC_API const char* mlc_status_name(mlc_status status);

/* The code of an error (MLC_OK for NULL). */
MLC_API mlc_status mlc_error_code(const mlc_error* err);

/* The message of an error, valid until mlc_error_free ("" for NULL). */
MLC_API const char* mlc_error_message(const mlc_error* err);

/* Frees an error and sets *err to NULL; NULL and *err == NULL are accepted. */
MLC_API void mlc_error_free(mlc_error** err);

/* Frees a string returned by this library and sets *str to NULL. */
MLC_API void mlc_string_free(char** str);

/*
 * Opens a client. `backend_uri` (e.g. "local:///var/lib/mlcore") and `project` may be NULL or ""
 * to resolve them from MLC_BACKEND / MLC_PROJECT, the config file, then the default.
 * Errors: MLC_INVALID_ARGUMENT (bad URI, unknown scheme, malformed config), MLC_NOT_FOUND (unknown
 * context), MLC_PERMISSION_DENIED / MLC_FAILED_PRECONDITION (unusable state directory).
 */
MLC_API mlc_status mlc_client_open(const char* backend_uri, const char* project, mlc_client** out,
                                   mlc_error** err);

/* Closes a client and sets *client to NULL; NULL is accepted. */
MLC_API void mlc_client_close(mlc_client** client);

/* The client's default project (may be ""), as a new string. */
MLC_API mlc_status mlc_client_project(mlc_client* client, char** out, mlc_error** err);

/*
 * Calls any API method by name ("mlcore.v1.ProjectService/ListProjects" or
 * "ProjectService/ListProjects") with the proto3 JSON of its request (NULL or "" = empty request);
 * *response_json receives the JSON of the response.
 */
MLC_API mlc_status mlc_invoke(mlc_client* client, const char* method, const char* request_json,
                              char** response_json, mlc_error** err);

/* Creates a project from the JSON of an mlcore.v1.Project; *project_json gets the stored one. */
MLC_API mlc_status mlc_project_create(mlc_client* client, const char* project_json,
                                      char** out_project_json, mlc_error** err);

/* Describes a project by name. Errors: MLC_NOT_FOUND, MLC_INVALID_ARGUMENT. */
MLC_API mlc_status mlc_project_get(mlc_client* client, const char* name, char** out_project_json,
                                   mlc_error** err);

/* Lists all projects: *out_json is the JSON of an mlcore.v1.ListProjectsResponse (every page). */
MLC_API mlc_status mlc_project_list(mlc_client* client, char** out_json, mlc_error** err);

/* Deletes an empty project. Errors: MLC_NOT_FOUND, MLC_FAILED_PRECONDITION. */
MLC_API mlc_status mlc_project_delete(mlc_client* client, const char* name, mlc_error** err);

/* --- Jobs (proto/mlcore/v1/jobs.proto; the spec format is docs/job-spec.md) ---
 *
 * `id_or_name` is a job id ("j27c8924a99e9") or a job name, looked up in the client's project and
 * then in every project where the name is unique. Jobs come back as the JSON of an mlcore.v1.Job
 * (FULL view: spec, state, events, exitCode, resourcesUsed, waitingReason, ...).
 * Common errors: MLC_INVALID_ARGUMENT (NULL handle or out-pointer, empty id, malformed JSON),
 * MLC_NOT_FOUND (no such job).
 */

/*
 * Submits a job from the JSON of an mlcore.v1.JobSpec; *out_job_json receives the stored job
 * (usually PENDING or STARTING). What the spec leaves empty is filled like `mlc job submit` does:
 * the project (the client's default), a generated name, the working directory (the caller's
 * current one), the base environment and the git source of the working directory.
 * Errors: MLC_INVALID_ARGUMENT (every spec problem at once, e.g. an unknown flavor listing the
 * known ones; no project), MLC_NOT_FOUND (project, working directory), MLC_ALREADY_EXISTS (name
 * taken), MLC_RESOURCE_EXHAUSTED (exceeds the project's limit quota), MLC_FAILED_PRECONDITION (no
 * node could ever hold it; an ENV secret is unset).
 */
MLC_API mlc_status mlc_job_submit(mlc_client* client, const char* spec_json, char** out_job_json,
                                  mlc_error** err);

/* Describes a job (FULL view). Errors: MLC_NOT_FOUND, MLC_INVALID_ARGUMENT (empty id_or_name). */
MLC_API mlc_status mlc_job_get(mlc_client* client, const char* id_or_name, char** out_job_json,
                               mlc_error** err);

/*
 * Lists jobs, newest first: `request_json` is an mlcore.v1.ListJobsRequest (NULL or "" = the
 * client's project, first page; "project":"*" = every project); *out_json receives one page, an
 * mlcore.v1.ListJobsResponse (pass its nextPageToken as pageToken for the next page).
 * Errors: MLC_INVALID_ARGUMENT (bad page token or size), MLC_NOT_FOUND (project).
 */
MLC_API mlc_status mlc_job_list(mlc_client* client, const char* request_json, char** out_json,
                                mlc_error** err);

/*
 * Cancels a job: a pending job ends CANCELLED at once; an active one gets SIGTERM on its process
 * group, SIGKILL after its grace period. `reason` (NULL or "" = "cancelled by USER") is recorded in
 * the job's events. Idempotent on a cancelled job. *out_job_json receives the job after the call
 * (it may still be RUNNING while the grace period runs; mlc_job_wait for the end).
 * Errors: MLC_NOT_FOUND, MLC_FAILED_PRECONDITION (already ended otherwise).
 */
MLC_API mlc_status mlc_job_cancel(mlc_client* client, const char* id_or_name, const char* reason,
                                  char** out_job_json, mlc_error** err);

/*
 * Preempts a running preemptible job by hand, as the scheduler would: stop it, then requeue it
 * while restarts remain. Errors: MLC_NOT_FOUND, MLC_FAILED_PRECONDITION (not STARTING or RUNNING,
 * or not preemptible).
 */
MLC_API mlc_status mlc_job_preempt(mlc_client* client, const char* id_or_name, const char* reason,
                                   char** out_job_json, mlc_error** err);

/*
 * Submits a new job from the recorded spec and environment of `id_or_name`; `new_name` NULL or ""
 * = the old name plus "-r" and a random suffix. *out_job_json receives the new job (its rerunOf is
 * the old id). Errors: MLC_NOT_FOUND, MLC_ALREADY_EXISTS (new_name taken),
 * MLC_FAILED_PRECONDITION (a recorded input is gone; an ENV secret is unset).
 */
MLC_API mlc_status mlc_job_rerun(mlc_client* client, const char* id_or_name, const char* new_name,
                                 char** out_job_json, mlc_error** err);

/*
 * Blocks until the job reaches a final state (SUCCEEDED, FAILED, CANCELLED, PREEMPTED, TIMED_OUT,
 * LOST) and returns it (FULL view). `timeout_ms` 0 waits forever. A job ending FAILED is a
 * successful wait: read its state and exitCode from the JSON.
 * Errors: MLC_DEADLINE_EXCEEDED (still active after timeout_ms), MLC_NOT_FOUND,
 * MLC_INVALID_ARGUMENT (negative timeout_ms).
 */
MLC_API mlc_status mlc_job_wait(mlc_client* client, const char* id_or_name, int64_t timeout_ms,
                                char** out_job_json, mlc_error** err);

/*
 * Receives one log line as the JSON of an mlcore.v1.LogLine ({"time":...,"stream":
 * "LOG_STREAM_STDOUT","text":"hi",...}), or NULL as a heartbeat while following (see
 * mlc_job_logs). Return non-zero to continue, 0 to stop. It runs on the thread that called
 * mlc_job_logs; `line_json` is borrowed and valid only during the call (copy what you keep). It
 * must not call mlc_client_close on the client being read.
 */
typedef int (*mlc_log_callback)(const char* line_json, void* user_data);

/*
 * Streams a job's log lines in capture order to `callback`. `request_json` is an
 * mlcore.v1.StreamJobLogsRequest: {"id": ID_OR_NAME} plus optional follow, since, tail, grep,
 * streams (default stdout and stderr), replica. Without follow it returns after the lines
 * captured so far; with "follow":true it keeps delivering new lines until the job reaches a final
 * state, and while no line arrives it calls the callback with line_json == NULL every
 * 50-250 ms, so the caller can stop (return 0) on a user interrupt or a deadline even when the
 * job prints nothing. Returning 0 from the callback ends the call with MLC_OK.
 * Errors: MLC_INVALID_ARGUMENT (NULL callback, malformed request, bad regular expression, tail <
 * 0), MLC_NOT_FOUND (job).
 */
MLC_API mlc_status mlc_job_logs(mlc_client* client, const char* request_json,
                                mlc_log_callback callback, void* user_data, mlc_error** err);

/*
 * Checks a job spec without submitting it. `spec_text` is a preset file's text (YAML or JSON);
 * `file_name` (NULL or "") is the name problems are reported against. *out_json receives an
 * mlcore.v1.LintJobSpecResponse: every problem with line, column, message and suggestion (a
 * "did you mean" for unknown fields, the known flavors for an unknown one), plus resolvedSpec when
 * there are no errors. Problems are in the response, not the status.
 * Errors: MLC_INVALID_ARGUMENT (NULL spec_text; text that is not YAML at all).
 */
MLC_API mlc_status mlc_job_lint(mlc_client* client, const char* spec_text, const char* file_name,
                                char** out_json, mlc_error** err);

/* --- Scheduling facts --- */

/*
 * Quota usage per project: `request_json` is an mlcore.v1.GetQuotaUsageRequest (NULL or "" = every
 * project); *out_json receives an mlcore.v1.GetQuotaUsageResponse (guaranteed, limit and used,
 * per user when asked). Errors: MLC_INVALID_ARGUMENT, MLC_NOT_FOUND (project).
 */
MLC_API mlc_status mlc_quota_usage(mlc_client* client, const char* request_json, char** out_json,
                                   mlc_error** err);

/* The flavor catalogs of every region: *out_json receives an mlcore.v1.ListFlavorsResponse. */
MLC_API mlc_status mlc_flavor_list(mlc_client* client, char** out_json, mlc_error** err);

/* --- Experiment tracking (proto/mlcore/v1/tracking.proto) ---
 *
 * Runs come back as the JSON of an mlcore.v1.Run; every TrackingService method is also reachable
 * through mlc_invoke ("TrackingService/UpdateRun", ...). Logging goes through an mlc_run_logger,
 * which buffers points in memory and writes them in batches from a background thread, so the
 * per-point call costs tens of nanoseconds and no JSON. Metric history comes back in columns.
 * Common errors: MLC_INVALID_ARGUMENT (NULL handle, argument or out-pointer), MLC_NOT_FOUND (no
 * such run or project).
 */

/* The status of a run: the values of mlcore.v1.RunStatus. */
typedef enum mlc_run_status {
  MLC_RUN_STATUS_UNSPECIFIED = 0, /* "leave the status alone" where a status is optional */
  MLC_RUN_STATUS_SCHEDULED = 1,
  MLC_RUN_STATUS_RUNNING = 2,
  MLC_RUN_STATUS_FINISHED = 3,
  MLC_RUN_STATUS_FAILED = 4,
  MLC_RUN_STATUS_KILLED = 5
} mlc_run_status;

/*
 * Creates a RUNNING run; *out_run_json receives the stored mlcore.v1.Run (its "id" is what the
 * other calls take). `project` NULL or "" = the client's default project; `experiment` NULL or
 * "" = the project's "default" experiment, otherwise an experiment id or name (an unknown name is
 * created); `name` NULL or "" = a generated name. The user is the caller. For params, tags, a
 * parent run or a request id at creation, call mlc_invoke("TrackingService/CreateRun", ...).
 * Errors: MLC_INVALID_ARGUMENT (no project given and no default, bad experiment name),
 * MLC_NOT_FOUND (project).
 */
MLC_API mlc_status mlc_run_create(mlc_client* client, const char* project, const char* experiment,
                                  const char* name, char** out_run_json, mlc_error** err);

/*
 * Describes a run with its params, tags and metric summaries. `id_or_name` is a run id or a run
 * name unique within the client's project. Errors: MLC_NOT_FOUND, MLC_INVALID_ARGUMENT (empty
 * id; a name shared by several runs).
 */
MLC_API mlc_status mlc_run_get(mlc_client* client, const char* id_or_name, char** out_run_json,
                               mlc_error** err);

/*
 * Finds the runs of `project` (NULL or "" = the client's default) matching `filter` (NULL or "" =
 * every run), e.g. "params.lr < 0.01 and metrics.val_loss < 0.3 and tags.team = \"recsys\"", in
 * the order of `order_by` (NULL or "" = start_time desc): comma-separated sort keys, each a filter
 * operand with an optional " asc"/" desc" ("metrics.val_loss asc, params.lr desc"). *out_json
 * receives an mlcore.v1.SearchRunsResponse holding every matching run (all pages, with their
 * metric summaries); for one page at a time call mlc_invoke("TrackingService/SearchRuns", ...).
 * Errors: MLC_INVALID_ARGUMENT (a filter or order_by problem, with its 1-based column: "filter
 * column 14: expected operator, got \"lr\"", "order_by[1] column 9: ..." for the second sort
 * key), MLC_NOT_FOUND (project).
 */
MLC_API mlc_status mlc_run_search(mlc_client* client, const char* project, const char* filter,
                                  const char* order_by, char** out_json, mlc_error** err);

/* A run logger: an open, buffered logging session on one run. */
typedef struct mlc_run_logger mlc_run_logger;

/*
 * Options of mlc_run_logger_open. Zero-initialize the struct ({0}) and set what you need: every
 * zero field means its default.
 */
typedef struct mlc_run_logger_options {
  /* Longest time a logged point stays only in memory (what a crash can lose); 0 = 1000 ms. */
  int64_t flush_interval_ms;
  /* Points buffered in memory at most (24 bytes each); 0 = 4,194,304. */
  size_t max_buffered_points;
  /* What a log call does when the buffer is full: 0 = wait for the background writer to make
   * room (nothing is lost); non-zero = drop the point and count it in points_dropped. */
  int drop_when_full;
  /* Non-zero: sample CPU, memory, disk and network of a process tree (and GPUs via nvidia-smi)
   * into "system/..." metrics. */
  int system_metrics;
  /* Time between system samples; 0 = 10000 ms, at least 100 ms. */
  int64_t system_metrics_interval_ms;
  /* Root process of the sampled tree; 0 = the calling process. */
  int system_metrics_pid;
  /* Where batches that cannot reach the backend are kept for mlc_sync; NULL or "" =
   * $MLC_SPOOL_DIR, else $XDG_DATA_HOME/mlcore/spool (or ~/.local/share/mlcore/spool). Copied. */
  const char* spool_dir;
} mlc_run_logger_options;

/*
 * Starts logging to the existing run `run_id` (an id, or a name as in mlc_run_get) with
 * `options` (NULL = every default). *out receives the logger; free it with mlc_run_logger_free.
 * The logger keeps what it needs of `client`, so the client may be closed before the logger.
 * Thread safety: the logging, flush, stats and close functions may be called on one logger from
 * several threads at once; mlc_run_logger_free must not overlap any other call on it.
 * Errors: MLC_NOT_FOUND (run), MLC_FAILED_PRECONDITION (the run already ended),
 * MLC_INVALID_ARGUMENT (negative or too short intervals, pid < 0).
 */
MLC_API mlc_status mlc_run_logger_open(mlc_client* client, const char* run_id,
                                       const mlc_run_logger_options* options, mlc_run_logger** out,
                                       mlc_error** err);

/* The id of the logger's run, valid until mlc_run_logger_free ("" for NULL). */
MLC_API const char* mlc_run_logger_run_id(const mlc_run_logger* logger);

/*
 * Logs one point of metric `key` (1-250 of letters, digits and "_-./ ") at training step `step`,
 * timestamped now. The hot path: it appends to the in-memory buffer and returns; it builds no JSON
 * and, after the first use of a key, neither validates nor copies the key (the buffer itself
 * grows by amortized doubling). With drop_when_full = 0 it waits while the buffer is full.
 * Write errors surface in mlc_run_flush / mlc_run_logger_close, not here.
 * Errors: MLC_INVALID_ARGUMENT (NULL logger or key, bad key: checked the first time a key is
 * seen), MLC_FAILED_PRECONDITION (logger closed).
 */
MLC_API mlc_status mlc_run_log_metric(mlc_run_logger* logger, const char* key, double value,
                                      int64_t step, mlc_error** err);

/*
 * Logs `n` points of one metric key from columns: steps[i], values[i] and, when `times_us` is
 * not NULL, times_us[i] (microseconds since the Unix epoch; NULL = now for all). The arrays are
 * borrowed for the call. n == 0 does nothing (the arrays may then be NULL).
 * Errors: as mlc_run_log_metric, and MLC_INVALID_ARGUMENT for NULL steps or values with n > 0.
 */
MLC_API mlc_status mlc_run_log_metrics(mlc_run_logger* logger, const char* key,
                                       const int64_t* steps, const double* values, size_t n,
                                       const int64_t* times_us, mlc_error** err);

/*
 * Sets `n` params (keys[i] = values[i]) now, synchronously, so a conflict is reported by this
 * call. Params are immutable: re-setting the same value is accepted, another value is
 * MLC_FAILED_PRECONDITION with a message naming both values, and then none of the `n` is set.
 * Errors: MLC_INVALID_ARGUMENT (NULL array or element, bad key, a key given twice with different
 * values), MLC_FAILED_PRECONDITION (conflict; run ended), MLC_UNAVAILABLE (backend unreachable:
 * the params are kept in the spool for mlc_sync).
 */
MLC_API mlc_status mlc_run_log_params(mlc_run_logger* logger, const char* const* keys,
                                      const char* const* values, size_t n, mlc_error** err);

/*
 * Sets or overwrites `n` tags (keys[i] = values[i]) now, synchronously. Keys starting "mlc." are
 * reserved. To remove tags call mlc_invoke("TrackingService/SetRunTags", ...).
 * Errors: MLC_INVALID_ARGUMENT (NULL array or element, bad or reserved key), as
 * mlc_run_log_params otherwise.
 */
MLC_API mlc_status mlc_run_set_tags(mlc_run_logger* logger, const char* const* keys,
                                    const char* const* values, size_t n, mlc_error** err);

/*
 * Returns once every point logged before the call is durable, or kept in the spool. In the
 * second case the status says why (e.g. MLC_RESOURCE_EXHAUSTED: the project is over its
 * stored-bytes limit) and the message names the spool file to upload later with mlc_sync.
 * Over a rate limit or while the backend is briefly unreachable, it waits and retries instead.
 * Errors: the first unrecovered batch error since the previous flush.
 */
MLC_API mlc_status mlc_run_flush(mlc_run_logger* logger, mlc_error** err);

/* Counters of a logger since it was opened (all from one consistent snapshot). */
typedef struct mlc_run_logger_stats {
  uint64_t points_logged;   /* accepted by the log calls */
  uint64_t points_written;  /* acknowledged durable by the backend */
  uint64_t points_dropped;  /* dropped because the buffer was full (drop_when_full) */
  uint64_t points_spooled;  /* kept in the spool for mlc_sync */
  uint64_t batches_written; /* batches acknowledged */
  uint64_t retries;         /* batch sends retried after a transient error or a rate limit */
} mlc_run_logger_stats;

/* Fills *out with the logger's counters; valid on a closed logger too. Errors:
 * MLC_INVALID_ARGUMENT (NULL logger or out). */
MLC_API mlc_status mlc_run_logger_get_stats(const mlc_run_logger* logger,
                                            mlc_run_logger_stats* out);

/*
 * Flushes, stops the background writer (and sampler) and, unless `status` (an mlc_run_status)
 * is MLC_RUN_STATUS_UNSPECIFIED, ends the run with `status` (MLC_RUN_STATUS_FINISHED, _FAILED or
 * _KILLED). The logger is closed even when this fails; later log calls return
 * MLC_FAILED_PRECONDITION and a second close does nothing and returns MLC_OK. The handle stays
 * valid for mlc_run_logger_get_stats until mlc_run_logger_free.
 * Errors: MLC_INVALID_ARGUMENT (NULL logger; `status` not one of the four above: nothing is
 * closed then), the flush's error, MLC_FAILED_PRECONDITION (the run was ended elsewhere).
 */
MLC_API mlc_status mlc_run_logger_close(mlc_run_logger* logger, int status, mlc_error** err);

/*
 * Closes the logger if needed (flushing, leaving the run's status alone, ignoring errors: close
 * first to see them), frees it and sets *logger to NULL; NULL and *logger == NULL are accepted.
 */
MLC_API void mlc_run_logger_free(mlc_run_logger** logger);

/* How a metric history is thinned: the values of mlcore.v1.DownsamplingMethod. */
typedef enum mlc_downsampling_method {
  MLC_DOWNSAMPLING_METHOD_UNSPECIFIED = 0, /* the same as NONE */
  MLC_DOWNSAMPLING_METHOD_NONE = 1,        /* every point */
  MLC_DOWNSAMPLING_METHOD_MINMAX = 2,      /* equal step buckets keeping first, min, max and last */
  MLC_DOWNSAMPLING_METHOD_LTTB = 3         /* Largest-Triangle-Three-Buckets: keeps the shape */
} mlc_downsampling_method;

/* Options of mlc_metric_history; zero-initialize ({0}): zero fields mean "unbounded, every
 * point". */
typedef struct mlc_history_options {
  int has_min_step; /* non-zero: only points with step >= min_step */
  int64_t min_step;
  int has_max_step; /* non-zero: only points with step <= max_step */
  int64_t max_step;
  int method;         /* an mlc_downsampling_method; 0 = every point */
  int32_t max_points; /* MINMAX and LTTB: points at most, 4-100000; 0 = 1000 */
} mlc_history_options;

/*
 * Reads metric `key` of run `run_id` (an id, or a name as in mlc_run_get) in columns, ordered by
 * step then time: *n points, (*steps)[i], (*values)[i] and (*times_us)[i] (microseconds since the
 * Unix epoch). `options` NULL = every point. Downsampled reads keep the first and the last point
 * of the range. Any of steps, values and times_us may be NULL when that column is not wanted.
 * The arrays are allocated by the library and owned by the caller: free them with
 * mlc_metric_history_free. They are NULL (and *n 0) when no point is in the step range, and on
 * failure. A whole history is read however many pages the backend splits it into.
 * Errors: MLC_NOT_FOUND (run; key never logged, the message listing the run's keys),
 * MLC_INVALID_ARGUMENT (NULL client, run_id, key or n; bad key; min_step > max_step;
 * max_points out of range; unknown method), MLC_RESOURCE_EXHAUSTED (out of memory).
 */
MLC_API mlc_status mlc_metric_history(mlc_client* client, const char* run_id, const char* key,
                                      const mlc_history_options* options, int64_t** steps,
                                      double** values, int64_t** times_us, size_t* n,
                                      mlc_error** err);

/* Frees the arrays of mlc_metric_history and sets each pointer to NULL; any argument, and any
 * pointed-to array, may be NULL. */
MLC_API void mlc_metric_history_free(int64_t** steps, double** values, int64_t** times_us);

/*
 * Uploads the spool files of `spool_dir` (NULL or "" = the default, as in mlc_run_logger_options)
 * that belong to the client's backend, exactly once (a replayed batch is recognised by its id),
 * removing each file once all its records are acknowledged; what `mlc sync` does. Files of other
 * backends are left alone. A file that fails is kept for a later sync and named in the report:
 * such failures are in the report, not the status. *out_report_json receives
 * {"files":N,"runsCreated":N,"batchesSent":N,"duplicates":N,"points":N,"filesLeft":N,
 *  "errors":["<file>: <message>", ...]} (numbers are JSON numbers; errors may be empty).
 * Errors: MLC_INVALID_ARGUMENT (NULL client or out-pointer).
 */
MLC_API mlc_status mlc_sync(mlc_client* client, const char* spool_dir, char** out_report_json,
                            mlc_error** err);

/* ---- Artifacts ----------------------------------------------------------------------------------
 * Files and directory trees of runs and jobs in the content-addressed store (docs/artifacts.md).
 * Artifacts come back as the JSON of an mlcore.v1.Artifact, manifests as mlcore.v1.Manifest. Every
 * ArtifactService method but the streaming blob transfers is also reachable through mlc_invoke
 * ("ArtifactService/ListArtifacts", "ArtifactService/GetLineage", ...).
 */

/* Kinds of object an artifact's owner (or consumer) can be: values of mlcore.v1.ObjectKind. */
typedef enum mlc_object_kind {
  MLC_OBJECT_KIND_UNSPECIFIED = 0,
  MLC_OBJECT_KIND_JOB = 1,
  MLC_OBJECT_KIND_RUN = 2
} mlc_object_kind;

/*
 * Stores the file or directory `local_path` as artifact `path_or_null` (NULL or "" = the base name
 * of local_path) of the run or job `owner_id` (an id or a name; `owner_kind` MLC_OBJECT_KIND_RUN or
 * MLC_OBJECT_KIND_JOB), in the owner's project. Only content the store lacks is transferred, and a
 * directory's unchanged files are not read again. *out_artifact_json receives the stored
 * mlcore.v1.Artifact (its "id" is what mlc_artifact_download takes). The kind is inferred (FILE or
 * DIRECTORY); for another kind or labels call mlc_invoke("ArtifactService/CreateArtifact", ...)
 * after uploading. Errors: MLC_INVALID_ARGUMENT (NULL argument, owner_kind neither RUN nor JOB,
 * unsafe path, a symlink escaping the tree, a special file), MLC_NOT_FOUND (owner, local path),
 * MLC_ALREADY_EXISTS (the owner has an artifact at that path), MLC_RESOURCE_EXHAUSTED.
 */
MLC_API mlc_status mlc_artifact_log(mlc_client* client, int owner_kind, const char* owner_id,
                                    const char* local_path, const char* path_or_null,
                                    char** out_artifact_json, mlc_error** err);

/*
 * Writes artifact `artifact_id` below directory `dest` (created when missing), or only its file or
 * subtree `only_path_or_null` (NULL or "" = all of it), verifying every file's digest; file modes
 * are kept. *out_manifest_json receives the mlcore.v1.Manifest written (only the entries under
 * only_path for a partial download). To record a consumer for lineage, call
 * mlc_invoke("ArtifactService/RecordArtifactUse", ...). Errors: MLC_INVALID_ARGUMENT (NULL
 * argument, unsafe only_path), MLC_NOT_FOUND (artifact; nothing under only_path), MLC_DATA_LOSS
 * (stored content no longer matches its digest).
 */
MLC_API mlc_status mlc_artifact_download(mlc_client* client, const char* artifact_id,
                                         const char* dest, const char* only_path_or_null,
                                         char** out_manifest_json, mlc_error** err);

/* ---- Data cache ---------------------------------------------------------------------------------
 * The data-load cache (docs/data.md): a hot and an optional cold tier in front of origins, every
 * object verified against its SHA-256 before it is served and fetched once however many callers
 * (threads or processes) ask. Local paths are paths on the machine serving the call. Listing,
 * pins, eviction and prefetch are mlc_invoke("DataService/ListCacheEntries" | "DataService/Pin" |
 * "DataService/Unpin" | "DataService/Evict" | "DataService/Prefetch", ...); a load with a pin,
 * revalidation or a timeout is mlc_invoke("DataService/Load", ...).
 */

/*
 * Sets *out_local_path to a local path to verified content of `uri` (a path, file://, http(s)://
 * or artifact://ID[/PATH]; a directory artifact gives a directory of links to its files),
 * fetching it on a miss, charged to the client's project. `digest_or_null`: the expected SHA-256
 * (64 lowercase hex), NULL or "" = accept what the origin serves. Errors: MLC_INVALID_ARGUMENT
 * (NULL argument, unsupported scheme (the message lists the supported ones), malformed digest, no
 * project), MLC_NOT_FOUND (no such file, URL or artifact), MLC_FAILED_PRECONDITION (the content
 * does not match the digest; nothing is served), MLC_RESOURCE_EXHAUSTED (the hot tier cannot hold
 * it beside its pinned objects, disk full), MLC_DEADLINE_EXCEEDED (after 30 min), MLC_UNAVAILABLE
 * (origin unreachable after retries), MLC_DATA_LOSS (the origin's body does not match its length).
 */
MLC_API mlc_status mlc_data_load(mlc_client* client, const char* uri, const char* digest_or_null,
                                 char** out_local_path, mlc_error** err);

/*
 * Sets *out_stats_json to the JSON of an mlcore.v1.CacheStats: per tier (hot first) hits, misses,
 * bytes served and written, used/capacity/pinned bytes, entries, evictions; origin fetches and
 * bytes, single-flight waits, verification failures. Errors: MLC_INVALID_ARGUMENT (NULL argument).
 */
MLC_API mlc_status mlc_data_stats(mlc_client* client, char** out_stats_json, mlc_error** err);

/* --- Streaming calls and the model registry (proto/mlcore/v1/registry.proto) ---
 *
 * Every RegistryService method is reachable through mlc_invoke ("RegistryService/SetModelAlias",
 * ...); a version's files load through mlc_data_load("models:/NAME@ALIAS", ...), cached.
 */

/*
 * Receives one streamed message as proto3 JSON, or NULL as a heartbeat while the stream is idle
 * (at least every 250 ms). Return non-zero to continue, 0 to stop. Runs on the calling thread;
 * `message_json` is borrowed for the duration of the call.
 */
typedef int (*mlc_stream_callback)(const char* message_json, void* user_data);

/*
 * Calls a server-streaming method ("RegistryService/WatchRegistryEvents", "JobService/
 * StreamJobLogs" with follow) and passes each message to `callback` until the stream ends or the
 * callback returns 0 (then MLC_OK). A unary method delivers its one response. Errors: as
 * mlc_invoke's, and MLC_INVALID_ARGUMENT for a NULL method or callback.
 */
MLC_API mlc_status mlc_invoke_stream(mlc_client* client, const char* method,
                                     const char* request_json, mlc_stream_callback callback,
                                     void* user_data, mlc_error** err);

/*
 * Resolves a models:/ URI (models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME@latest; the
 * client's project unless models:/PROJECT/...) to the JSON of the mlcore.v1.ModelVersion it names
 * now. Errors: MLC_INVALID_ARGUMENT (malformed URI, listing the forms), MLC_NOT_FOUND (model,
 * version or alias; the message lists the aliases), MLC_FAILED_PRECONDITION (not READY).
 */
MLC_API mlc_status mlc_model_resolve(mlc_client* client, const char* uri, char** out_version_json,
                                     mlc_error** err);

/*
 * Registers a version from the JSON of an mlcore.v1.CreateModelVersionRequest. With source
 * {"kind": "MODEL_SOURCE_KIND_UPLOAD", "path": LOCAL_DIR} the directory is uploaded too (only
 * content the store lacks) and the version returned READY, or FAILED with the upload's error
 * returned. Errors: as CreateModelVersion's (registry.proto), MLC_NOT_FOUND for a missing
 * directory.
 */
MLC_API mlc_status mlc_model_register(mlc_client* client, const char* request_json,
                                      char** out_version_json, mlc_error** err);

#ifdef __cplusplus
}
#endif

#endif /* MLCORE_H_ */
