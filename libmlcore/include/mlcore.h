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

#ifdef __cplusplus
}
#endif

#endif /* MLCORE_H_ */
