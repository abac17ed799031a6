/* Experiment tracking from C through the C ABI: create a run, log params and a metric from a
 * training loop, end the run, read the metric back downsampled.
 * Build: cc examples/tracking.c -Ilibmlcore/include -Lbuild/dev/libmlcore -lmlcore */
#include <stdio.h>
#include <string.h>

#include "mlcore.h"

static int fail(const char* what, mlc_error** err) {
  fprintf(stderr, "%s: %s\n", what, mlc_error_message(*err));
  mlc_error_free(err);
  return 1;
}

int main(void) {
  mlc_client* client = NULL;
  mlc_run_logger* logger = NULL;
  mlc_error* err = NULL;
  char* json = NULL;
  char run_id[64] = {0};
  const char* id;
  const char* keys[2] = {"lr", "optimizer"};
  const char* values[2] = {"0.001", "adam"};
  mlc_run_logger_options options;
  mlc_history_options history;
  mlc_run_logger_stats stats;
  int64_t* steps = NULL;
  double* losses = NULL;
  size_t n = 0;
  int step;
  mlc_status st;

  if (mlc_client_open(NULL, "demo-c", &client, &err) != MLC_OK) return fail("open", &err);
  st = mlc_project_create(client, "{\"name\":\"demo-c\"}", &json, &err);
  if (st != MLC_OK && st != MLC_ALREADY_EXISTS) return fail("mlc_project_create", &err);
  mlc_error_free(&err);
  mlc_string_free(&json);

  /* A run in experiment "mnist" (created on first use); its id is the first "id" of the JSON. */
  if (mlc_run_create(client, NULL, "mnist", NULL, &json, &err) != MLC_OK) {
    return fail("mlc_run_create", &err);
  }
  id = strstr(json, "\"id\":\"");
  if (id != NULL) sscanf(id + 6, "%63[^\"]", run_id);
  mlc_string_free(&json);

  memset(&options, 0, sizeof options); /* zero = defaults */
  options.flush_interval_ms = 500;
  if (mlc_run_logger_open(client, run_id, &options, &logger, &err) != MLC_OK) {
    return fail("mlc_run_logger_open", &err);
  }
  if (mlc_run_log_params(logger, keys, values, 2, &err) != MLC_OK) {
    return fail("mlc_run_log_params", &err);
  }
  for (step = 0; step < 10000; ++step) { /* the training loop: no JSON, no allocation */
    mlc_run_log_metric(logger, "loss", 2.0 / (1.0 + step * 0.01), step, NULL);
  }
  if (mlc_run_logger_close(logger, MLC_RUN_STATUS_FINISHED, &err) != MLC_OK) {
    return fail("mlc_run_logger_close", &err); /* durable, run FINISHED */
  }
  mlc_run_logger_get_stats(logger, &stats);
  mlc_run_logger_free(&logger);
  printf("logged %llu points, %llu written\n", (unsigned long long)stats.points_logged,
         (unsigned long long)stats.points_written);

  memset(&history, 0, sizeof history);
  history.method = MLC_DOWNSAMPLING_METHOD_LTTB;
  history.max_points = 50;
  if (mlc_metric_history(client, run_id, "loss", &history, &steps, &losses, NULL, &n, &err) !=
      MLC_OK) {
    return fail("mlc_metric_history", &err);
  }
  if (n > 0) {
    printf("loss: %zu points shown, step %lld = %.4f ... step %lld = %.4f\n", n,
           (long long)steps[0], losses[0], (long long)steps[n - 1], losses[n - 1]);
  }
  mlc_metric_history_free(&steps, &losses, NULL);

  if (mlc_run_get(client, run_id, &json, &err) != MLC_OK) return fail("mlc_run_get", &err);
  printf("%s\n", json); /* "status":"RUN_STATUS_FINISHED", params, the loss summary */
  mlc_string_free(&json);
  mlc_client_close(&client);
  return 0;
}
