/* Jobs through the C ABI from plain C, run for real on the local backend (a supervisor process per
 * job): submit, wait, get, list, logs (plain, tail, follow with heartbeats), rerun, cancel,
 * preempt, lint, quota and flavors, and the errors of bad input. Exits non-zero on the first
 * failed check. Needs mlc-supervisor next to the library's ../cli or in MLC_SUPERVISOR. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "mlcore.h"

/* What a log callback saw. */
typedef struct {
  int lines;
  int heartbeats;
  int stop_after_lines;      /* stop after this many lines; 0 = never */
  int stop_after_heartbeats; /* stop after this many heartbeats; 0 = never */
  char text[4096];           /* every line's JSON, concatenated */
} log_sink;

static int collect(const char* line_json, void* user_data) {
  log_sink* sink = (log_sink*)user_data;
  if (line_json == NULL) {
    ++sink->heartbeats;
    return sink->stop_after_heartbeats == 0 || sink->heartbeats < sink->stop_after_heartbeats;
  }
  ++sink->lines;
  if (strlen(sink->text) + strlen(line_json) + 2 < sizeof sink->text) {
    strcat(sink->text, line_json);
    strcat(sink->text, "\n");
  }
  return sink->stop_after_lines == 0 || sink->lines < sink->stop_after_lines;
}

/* What a watch callback saw: transitions (each a WatchJobsResponse with the job, too long to
 * keep), which states they reached, and whether they named the job. */
typedef struct {
  int transitions;
  int pending, failed, named;
} watch_sink;

static int on_transition(const char* json, void* user_data) {
  watch_sink* sink = (watch_sink*)user_data;
  if (json == NULL) return 1;
  ++sink->transitions;
  sink->pending += contains(json, "\"toState\":\"JOB_STATE_PENDING\"");
  sink->failed += contains(json, "\"toState\":\"JOB_STATE_FAILED\"");
  sink->named += contains(json, "\"name\":\"fails-3\"");
  return !contains(json, "\"toState\":\"JOB_STATE_FAILED\"");
}

/* Polls until the job's JSON contains `state` or ~10 s pass; returns 1 when it did. */
static int wait_for_state(mlc_client* client, const char* id, const char* state) {
  int i;
  for (i = 0; i < 200; ++i) {
    char* json = NULL;
    int found = 0;
    if (mlc_job_get(client, id, &json, NULL) == MLC_OK) found = contains(json, state);
    mlc_string_free(&json);
    if (found) return 1;
    sleep_ms(50);
  }
  return 0;
}

int main(void) {
  char root[4096];
  char uri[4200];
  char config[4200];
  char spec[8192];
  char id[128];
  char name[128];
  char other[128];
  mlc_client* client = NULL;
  mlc_error* err = NULL;
  char* json = NULL;
  log_sink sink;

  if (make_test_root("capi-jobs", root, sizeof root) != 0) return 2;
  snprintf(uri, sizeof uri, "local://%s/state", root);
  snprintf(config, sizeof config, "%s/config.yaml", root);
  setenv("MLC_CONFIG", config, 1);
  setenv("MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0", 1);
  unsetenv("MLC_BACKEND");
  unsetenv("MLC_PROJECT");
  unsetenv("MLC_CONTEXT");

  if (mlc_client_open(uri, "ml-research", &client, &err) != MLC_OK) {
    fprintf(stderr, "cannot open client: %s\n", mlc_error_message(err));
    mlc_error_free(&err);
    return 1;
  }

  /* NULL handles, out-pointers and callbacks are errors, not crashes; out-params end up NULL. */
  json = (char*)"stale";
  CHECK_ST(mlc_job_get(NULL, "x", &json, &err), MLC_INVALID_ARGUMENT);
  CHECK(json == NULL);
  CHECK(contains(mlc_error_message(err), "client handle is NULL"));
  mlc_error_free(&err);
  CHECK(mlc_job_submit(client, "{}", NULL, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_job_wait(client, "x", 0, NULL, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_job_list(NULL, NULL, &json, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_job_lint(client, "name: x\n", NULL, NULL, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_flavor_list(NULL, &json, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_quota_usage(client, NULL, NULL, NULL) == MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"x\"}", NULL, NULL, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "callback is NULL"));
  mlc_error_free(&err);
  CHECK(mlc_job_logs(NULL, "{\"id\":\"x\"}", collect, &sink, NULL) == MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_job_get(client, "", &json, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_job_submit(client, NULL, &json, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "spec_json"));
  mlc_error_free(&err);

  /* Bad JSON names the parameter and the field. */
  CHECK_ST(mlc_job_submit(client, "{\"command\":[\"true\"],\"comand\":1}", &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(json == NULL);
  CHECK(contains(mlc_error_message(err), "spec_json"));
  CHECK(contains(mlc_error_message(err), "comand"));
  mlc_error_free(&err);
  CHECK_ST(mlc_job_list(client, "{\"states\":[\"JOB_STATE_BOGUS\"]}", &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "request_json"));
  mlc_error_free(&err);
  CHECK_ST(mlc_job_submit(client, "{not json", &json, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);

  /* An unknown project is NOT_FOUND, naming it. */
  snprintf(spec, sizeof spec,
           "{\"command\":[\"true\"],\"project\":\"ml-research\",\"workingDir\":\"%s\"}", root);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_NOT_FOUND);
  CHECK(json == NULL);
  CHECK(mlc_error_code(err) == MLC_NOT_FOUND);
  CHECK(contains(mlc_error_message(err), "ml-research"));
  mlc_error_free(&err);

  CHECK_ST(mlc_project_create(client, "{\"name\":\"ml-research\"}", &json, &err), MLC_OK);
  mlc_string_free(&json);
  mlc_error_free(&err);

  /* An unknown flavor is INVALID_ARGUMENT listing the known ones. */
  snprintf(spec, sizeof spec,
           "{\"command\":[\"true\"],\"flavor\":\"gpu-huge\",\"workingDir\":\"%s\"}", root);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "gpu-huge"));
  CHECK(contains(mlc_error_message(err), "cpu-2-8"));
  mlc_error_free(&err);

  /* A failing job: submit, wait, FAILED with exit code 3, and its output in the logs. */
  snprintf(spec, sizeof spec,
           "{\"name\":\"fails-3\",\"command\":[\"sh\",\"-c\",\"echo hi; echo oops >&2; exit 3\"],"
           "\"workingDir\":\"%s\",\"labels\":{\"suite\":\"capi\"}}",
           root);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_OK);
  json_string(json, "id", id, sizeof id);
  CHECK(strlen(id) > 0);
  CHECK(contains(json, "\"project\":\"ml-research\""));
  mlc_string_free(&json);

  CHECK_ST(mlc_job_wait(client, "fails-3", 30000, &json, &err), MLC_OK);
  CHECK(contains(json, "\"state\":\"JOB_STATE_FAILED\""));
  CHECK(contains(json, "\"exitCode\":3"));
  CHECK(contains(json, "\"events\"")); /* the FULL view */
  mlc_string_free(&json);

  CHECK_ST(mlc_job_get(client, id, &json, &err), MLC_OK);
  CHECK(strcmp(json_string(json, "name", name, sizeof name), "fails-3") == 0);
  mlc_string_free(&json);

  CHECK_ST(mlc_job_get(client, "absent-job", &json, &err), MLC_NOT_FOUND);
  CHECK(json == NULL);
  mlc_error_free(&err);

  memset(&sink, 0, sizeof sink);
  snprintf(spec, sizeof spec, "{\"id\":\"%s\"}", id);
  CHECK_ST(mlc_job_logs(client, spec, collect, &sink, &err), MLC_OK);
  CHECK(sink.lines == 2);
  CHECK(sink.heartbeats == 0);
  CHECK(contains(sink.text, "\"text\":\"hi\""));
  CHECK(contains(sink.text, "LOG_STREAM_STDOUT"));
  CHECK(contains(sink.text, "\"text\":\"oops\""));
  CHECK(!contains(sink.text, "LOG_STREAM_SYSTEM")); /* only when named */
  memset(&sink, 0, sizeof sink);
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"fails-3\",\"streams\":[\"LOG_STREAM_SYSTEM\"]}", collect,
                        &sink, &err),
           MLC_OK);
  CHECK(sink.lines >= 1 && contains(sink.text, "LOG_STREAM_SYSTEM"));

  /* Its state transitions through the generic stream call (JobService/WatchJobs), replayed by
   * name from the start of time; the watch would go on, so the callback stops at the end. */
  {
    watch_sink watch;
    memset(&watch, 0, sizeof watch);
    CHECK_ST(mlc_invoke_stream(client, "JobService/WatchJobs",
                               "{\"ids\":[\"fails-3\"],\"since\":\"1970-01-01T00:00:01Z\"}",
                               on_transition, &watch, &err),
             MLC_OK);
    CHECK(watch.transitions == 4);
    CHECK(watch.pending == 1 && watch.failed == 1 && watch.named == 4);
  }
  CHECK_ST(mlc_invoke_stream(client, "JobService/WatchJobs", "{\"ids\":[\"absent-job\"]}", collect,
                             &sink, &err),
           MLC_NOT_FOUND);
  mlc_error_free(&err);

  /* Filters, stopping early, and a follow of an ended job (returns at once). */
  memset(&sink, 0, sizeof sink);
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"fails-3\",\"streams\":[\"LOG_STREAM_STDERR\"]}", collect,
                        &sink, &err),
           MLC_OK);
  CHECK(sink.lines == 1 && contains(sink.text, "oops") && !contains(sink.text, "\"hi\""));
  memset(&sink, 0, sizeof sink);
  sink.stop_after_lines = 1;
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"fails-3\"}", collect, &sink, &err), MLC_OK);
  CHECK(sink.lines == 1);
  memset(&sink, 0, sizeof sink);
  CHECK_ST(
      mlc_job_logs(client, "{\"id\":\"fails-3\",\"follow\":true,\"tail\":1}", collect, &sink, &err),
      MLC_OK);
  CHECK(sink.lines == 1 && contains(sink.text, "oops"));
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"fails-3\",\"grep\":\"(\"}", collect, &sink, &err),
           MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"fails-3\",\"tail\":-1}", collect, &sink, &err),
           MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"absent-job\"}", collect, &sink, &err), MLC_NOT_FOUND);
  mlc_error_free(&err);
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"fails-3\",\"folow\":true}", collect, &sink, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "folow"));
  mlc_error_free(&err);

  /* List: the client's project by default, filters by state and label. */
  CHECK_ST(mlc_job_list(client, NULL, &json, &err), MLC_OK);
  CHECK(contains(json, "\"name\":\"fails-3\""));
  mlc_string_free(&json);
  CHECK_ST(mlc_job_list(client, "{\"states\":[\"JOB_STATE_SUCCEEDED\"]}", &json, &err), MLC_OK);
  CHECK(!contains(json, "fails-3"));
  mlc_string_free(&json);
  CHECK_ST(mlc_job_list(client, "{\"project\":\"*\",\"labels\":{\"suite\":\"capi\"}}", &json, &err),
           MLC_OK);
  CHECK(contains(json, "fails-3"));
  mlc_string_free(&json);

  /* Rerun: a new job from the recorded spec, same outcome. */
  CHECK_ST(mlc_job_rerun(client, "fails-3", "fails-3-again", &json, &err), MLC_OK);
  CHECK(contains(json, "\"name\":\"fails-3-again\""));
  CHECK(contains(json, id)); /* rerunOf */
  mlc_string_free(&json);
  CHECK_ST(mlc_job_wait(client, "fails-3-again", 30000, &json, &err), MLC_OK);
  CHECK(contains(json, "JOB_STATE_FAILED") && contains(json, "\"exitCode\":3"));
  mlc_string_free(&json);
  CHECK_ST(mlc_job_rerun(client, "fails-3", "fails-3-again", &json, &err), MLC_ALREADY_EXISTS);
  mlc_error_free(&err);
  CHECK_ST(mlc_job_rerun(client, "fails-3", NULL, &json, &err), MLC_OK);
  CHECK(contains(json, "\"name\":\"fails-3-r"));
  mlc_string_free(&json);

  /* A long job: a bounded wait times out, a follow with heartbeats can stop while the job is
   * silent, cancel ends it CANCELLED with the reason recorded. */
  snprintf(spec, sizeof spec,
           "{\"name\":\"sleeper\",\"command\":[\"sh\",\"-c\",\"echo started; exec sleep 60\"],"
           "\"workingDir\":\"%s\",\"terminationGracePeriod\":\"2s\"}",
           root);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_OK);
  json_string(json, "id", other, sizeof other);
  mlc_string_free(&json);
  CHECK(wait_for_state(client, other, "JOB_STATE_RUNNING"));
  CHECK_ST(mlc_job_wait(client, "sleeper", 200, &json, &err), MLC_DEADLINE_EXCEEDED);
  CHECK(json == NULL);
  mlc_error_free(&err);
  CHECK_ST(mlc_job_wait(client, "sleeper", -1, &json, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);

  memset(&sink, 0, sizeof sink);
  sink.stop_after_heartbeats = 3;
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"sleeper\",\"follow\":true}", collect, &sink, &err),
           MLC_OK);
  CHECK(sink.heartbeats == 3);
  CHECK(contains(sink.text, "\"text\":\"started\""));

  CHECK_ST(mlc_job_preempt(client, "sleeper", NULL, &json, &err), MLC_FAILED_PRECONDITION);
  CHECK(json == NULL);
  mlc_error_free(&err);

  CHECK_ST(mlc_job_cancel(client, "sleeper", "no longer needed", &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_job_wait(client, other, 30000, &json, &err), MLC_OK);
  CHECK(contains(json, "JOB_STATE_CANCELLED"));
  CHECK(contains(json, "cancelled: no longer needed"));
  mlc_string_free(&json);
  CHECK_ST(mlc_job_cancel(client, "fails-3", NULL, &json, &err), MLC_FAILED_PRECONDITION);
  mlc_error_free(&err);

  /* A follow started on a running job ends by itself when the job ends. */
  snprintf(spec, sizeof spec,
           "{\"name\":\"chatty\",\"command\":[\"sh\",\"-c\","
           "\"for i in 1 2 3; do echo line$i; sleep 0.2; done\"],\"workingDir\":\"%s\"}",
           root);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_OK);
  mlc_string_free(&json);
  memset(&sink, 0, sizeof sink);
  CHECK_ST(mlc_job_logs(client, "{\"id\":\"chatty\",\"follow\":true}", collect, &sink, &err),
           MLC_OK);
  CHECK(sink.lines == 3);
  CHECK(contains(sink.text, "line1") && contains(sink.text, "line3"));
  CHECK_ST(mlc_job_get(client, "chatty", &json, &err), MLC_OK);
  CHECK(contains(json, "JOB_STATE_SUCCEEDED"));
  mlc_string_free(&json);

  /* Preempt a preemptible job by hand: without restarts it ends PREEMPTED. */
  snprintf(spec, sizeof spec,
           "{\"name\":\"spot\",\"command\":[\"sleep\",\"60\"],\"preemptible\":true,"
           "\"workingDir\":\"%s\",\"terminationGracePeriod\":\"2s\"}",
           root);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK(wait_for_state(client, "spot", "JOB_STATE_RUNNING"));
  CHECK_ST(mlc_job_preempt(client, "spot", "make room", &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_job_wait(client, "spot", 30000, &json, &err), MLC_OK);
  CHECK(contains(json, "JOB_STATE_PREEMPTED"));
  mlc_string_free(&json);

  /* Lint reports every problem, with did-you-mean, in the response (not the status). */
  CHECK_ST(
      mlc_job_lint(client, "name: t1\nprojct: ml-research\ncommand: [\"true\"]\nflavor: gpu-huge\n",
                   "train.yaml", &json, &err),
      MLC_OK);
  CHECK(contains(json, "projct"));
  CHECK(contains(json, "\"suggestion\":\"did you mean \\\"project\\\"?\""));
  CHECK(contains(json, "\"code\":\"unknown_flavor\""));
  CHECK(contains(json, "gpu-huge"));
  CHECK(contains(json, "\"file\":\"train.yaml\""));
  CHECK(contains(json, "\"line\":2"));
  CHECK(!contains(json, "resolvedSpec"));
  mlc_string_free(&json);
  CHECK_ST(mlc_job_lint(client, "name: ok\ncommand: [\"true\"]\n", NULL, &json, &err), MLC_OK);
  CHECK(!contains(json, "problems") && contains(json, "resolvedSpec"));
  mlc_string_free(&json);
  CHECK_ST(mlc_job_lint(client, NULL, NULL, &json, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);

  /* Scheduling facts. */
  CHECK_ST(mlc_flavor_list(client, &json, &err), MLC_OK);
  CHECK(contains(json, "\"name\":\"cpu-2-8\""));
  mlc_string_free(&json);
  CHECK_ST(mlc_quota_usage(client, NULL, &json, &err), MLC_OK);
  CHECK(contains(json, "ml-research"));
  mlc_string_free(&json);
  CHECK_ST(mlc_quota_usage(client, "{\"project\":\"ml-research\",\"perUser\":true}", &json, &err),
           MLC_OK);
  CHECK(contains(json, "ml-research"));
  mlc_string_free(&json);
  CHECK_ST(mlc_quota_usage(client, "{\"projet\":\"x\"}", &json, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "projet"));
  mlc_error_free(&err);

  /* Errors are optional. */
  CHECK(mlc_job_get(client, "absent-job", &json, NULL) == MLC_NOT_FOUND);
  CHECK(json == NULL);

  mlc_client_close(&client);
  CHECK(client == NULL);

  {
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", root);
    if (system(rm) != 0) fprintf(stderr, "warning: could not remove %s\n", root);
  }
  printf("capi_jobs_test: %d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
