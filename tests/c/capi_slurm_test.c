/* Jobs through the C ABI on a real Slurm cluster (slurm+http://, the dev cluster that
 * tests/slurm/with-cluster.sh starts): submit, wait, exit code decoded, logs read back from the
 * job's output file, list, a job cancelled while it runs, and a submit Slurm refuses (with
 * Slurm's own words). Needs MLC_SLURM_URI and SLURM_JWT; exits 77 (skipped) without them. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "mlcore.h"

typedef struct {
  int lines;
  char text[4096];
} log_sink;

static int collect(const char* line_json, void* user_data) {
  log_sink* sink = (log_sink*)user_data;
  if (line_json == NULL) return 1;
  ++sink->lines;
  if (strlen(sink->text) + strlen(line_json) + 2 < sizeof sink->text) {
    strcat(sink->text, line_json);
    strcat(sink->text, "\n");
  }
  return 1;
}

int main(void) {
  const char* base = getenv("MLC_SLURM_URI");
  const char* jwt = getenv("SLURM_JWT");
  char root[4096];
  char uri[8192];
  char bad_uri[8400];
  char config[4200];
  char spec[8192];
  char id[128];
  mlc_client* client = NULL;
  mlc_client* bad = NULL;
  mlc_error* err = NULL;
  char* json = NULL;
  log_sink sink;
  int i;

  if (base == NULL || *base == '\0' || jwt == NULL || *jwt == '\0') {
    printf("SKIPPED: capi_slurm_test: no Slurm dev cluster (MLC_SLURM_URI, SLURM_JWT unset)\n");
    return 77;
  }
  if (make_test_root("capi-slurm", root, sizeof root) != 0) return 2;
  /* The job's files live in its working directory, which Slurm's node must see: here the same
   * machine. The token comes from SLURM_JWT (the environment), not the URI. */
  snprintf(uri, sizeof uri, "%s&state=%s/state", base, root);
  snprintf(config, sizeof config, "%s/config.yaml", root);
  setenv("MLC_CONFIG", config, 1);
  unsetenv("MLC_BACKEND");
  unsetenv("MLC_PROJECT");
  unsetenv("MLC_CONTEXT");

  if (mlc_client_open(uri, "ml", &client, &err) != MLC_OK) {
    fprintf(stderr, "cannot open %s: %s\n", uri, mlc_error_message(err));
    mlc_error_free(&err);
    return 1;
  }
  CHECK_ST(mlc_project_create(client, "{\"name\":\"ml\"}", &json, &err), MLC_OK);
  mlc_string_free(&json);

  /* A job that fails with code 3: the exit code is decoded from Slurm's wait status. */
  snprintf(spec, sizeof spec,
           "{\"name\":\"c-fails-3\",\"command\":[\"sh\",\"-c\",\"echo from slurm; exit 3\"],"
           "\"workingDir\":\"%s\",\"resources\":{\"cpuMillis\":\"1000\",\"memoryBytes\":\"%d\"}}",
           root, 64 << 20);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_OK);
  json_string(json, "id", id, sizeof id);
  CHECK(strlen(id) > 0);
  mlc_string_free(&json);
  CHECK_ST(mlc_job_wait(client, "c-fails-3", 60000, &json, &err), MLC_OK);
  CHECK(contains(json, "\"state\":\"JOB_STATE_FAILED\""));
  CHECK(contains(json, "\"exitCode\":3"));
  mlc_string_free(&json);

  memset(&sink, 0, sizeof sink);
  snprintf(spec, sizeof spec, "{\"id\":\"%s\"}", id);
  CHECK_ST(mlc_job_logs(client, spec, collect, &sink, &err), MLC_OK);
  CHECK(sink.lines == 1);
  CHECK(contains(sink.text, "\"text\":\"from slurm\""));

  CHECK_ST(mlc_job_list(client, NULL, &json, &err), MLC_OK);
  CHECK(contains(json, "c-fails-3"));
  mlc_string_free(&json);

  /* A running job cancelled: CANCELLED once Slurm has stopped it. */
  snprintf(spec, sizeof spec,
           "{\"name\":\"c-long\",\"command\":[\"sleep\",\"300\"],\"workingDir\":\"%s\","
           "\"resources\":{\"cpuMillis\":\"1000\",\"memoryBytes\":\"%d\"}}",
           root, 64 << 20);
  CHECK_ST(mlc_job_submit(client, spec, &json, &err), MLC_OK);
  mlc_string_free(&json);
  for (i = 0; i < 600; ++i) {
    int running = 0;
    if (mlc_job_get(client, "c-long", &json, NULL) == MLC_OK) {
      running = contains(json, "JOB_STATE_RUNNING");
    }
    mlc_string_free(&json);
    if (running) break;
    sleep_ms(50);
  }
  CHECK(i < 600);
  CHECK_ST(mlc_job_cancel(client, "c-long", "done with it", &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_job_wait(client, "c-long", 60000, &json, &err), MLC_OK);
  CHECK(contains(json, "\"state\":\"JOB_STATE_CANCELLED\""));
  mlc_string_free(&json);

  /* A partition Slurm does not have: refused at submit, with Slurm's words kept. */
  snprintf(bad_uri, sizeof bad_uri, "%s&partition=no-such-partition", uri);
  CHECK_ST(mlc_client_open(bad_uri, "ml", &bad, &err), MLC_OK);
  snprintf(spec, sizeof spec, "{\"command\":[\"true\"],\"workingDir\":\"%s\"}", root);
  CHECK(mlc_job_submit(bad, spec, &json, &err) != MLC_OK);
  CHECK(json == NULL);
  CHECK(contains(mlc_error_message(err), "Invalid partition name specified"));
  mlc_error_free(&err);
  mlc_client_close(&bad);

  mlc_error_free(&err);
  mlc_client_close(&client);
  printf("capi_slurm_test: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
