/* Experiment tracking through the C ABI from plain C, on the local backend: runs (create, get,
 * search), the buffered logger (100,000 points one by one, columns, params, tags, stats, close),
 * columnar history reads (whole, by step range, downsampled), the spool and mlc_sync, and the
 * errors of bad input. Exits non-zero on the first failed check. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "mlcore.h"

#define N_POINTS 100000
#define N_BATCH 1000

/* The integer after "key": in `json` (-1 when absent). */
static long long json_int(const char* json, const char* key) {
  char pattern[128];
  const char* start;
  if (json == NULL) return -1;
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  start = strstr(json, pattern);
  if (start == NULL) return -1;
  return strtoll(start + strlen(pattern), NULL, 10);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value logged at point i of "loss": exact in binary, so it must come back bit for bit. */
static double loss_at(int i) { return 1.0 / (double)(i + 1); }

int main(void) {
  char root[4096];
  char uri[4200];
  char config[4200];
  char spool[4200];
  char request[8192];
  char run_id[128];
  char other_id[128];
  char absent_id[128];
  mlc_client* client = NULL;
  mlc_run_logger* logger = NULL;
  mlc_run_logger* other = NULL;
  mlc_error* err = NULL;
  char* json = NULL;
  int64_t* steps = NULL;
  double* values = NULL;
  int64_t* times = NULL;
  size_t n = 0;
  size_t i;
  int ok;
  mlc_run_logger_options options;
  mlc_history_options history;
  mlc_run_logger_stats stats;
  int64_t batch_steps[N_BATCH];
  double batch_values[N_BATCH];
  int64_t batch_times[N_BATCH];
  const char* param_keys[2] = {"lr", "batch_size"};
  const char* param_values[2] = {"0.01", "64"};
  const char* conflict_values[1] = {"0.02"};
  const char* tag_keys[2] = {"team", "mlc.reserved"};
  const char* tag_values[2] = {"recsys", "x"};
  const char* null_keys[1] = {NULL};
  double started;
  double per_point_ns;

  if (make_test_root("capi-tracking", root, sizeof root) != 0) return 2;
  snprintf(uri, sizeof uri, "local://%s/state", root);
  snprintf(config, sizeof config, "%s/config.yaml", root);
  snprintf(spool, sizeof spool, "%s/spool", root);
  setenv("MLC_CONFIG", config, 1);
  setenv("MLC_SPOOL_DIR", spool, 1); /* nothing may land in the user's own spool */
  unsetenv("MLC_BACKEND");
  unsetenv("MLC_PROJECT");
  unsetenv("MLC_CONTEXT");

  if (mlc_client_open(uri, "vision", &client, &err) != MLC_OK) {
    fprintf(stderr, "cannot open client: %s\n", mlc_error_message(err));
    mlc_error_free(&err);
    return 1;
  }
  memset(&options, 0, sizeof options);
  memset(&history, 0, sizeof history);

  /* NULL handles, arguments and out-pointers are errors, not crashes; out-params end up NULL. */
  json = (char*)"stale";
  CHECK_ST(mlc_run_create(NULL, NULL, NULL, NULL, &json, &err), MLC_INVALID_ARGUMENT);
  CHECK(json == NULL);
  CHECK(contains(mlc_error_message(err), "client handle is NULL"));
  mlc_error_free(&err);
  CHECK(mlc_run_create(client, NULL, NULL, NULL, NULL, NULL) == MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_run_get(client, NULL, &json, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "id_or_name"));
  mlc_error_free(&err);
  CHECK(mlc_run_get(client, "", &json, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_get(NULL, "r0", &json, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_search(NULL, NULL, NULL, NULL, &json, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_search(client, NULL, NULL, NULL, NULL, NULL) == MLC_INVALID_ARGUMENT);
  logger = (mlc_run_logger*)&client; /* stale garbage must be overwritten */
  CHECK_ST(mlc_run_logger_open(NULL, "r0", NULL, &logger, &err), MLC_INVALID_ARGUMENT);
  CHECK(logger == NULL);
  mlc_error_free(&err);
  CHECK(mlc_run_logger_open(client, NULL, NULL, &logger, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_logger_open(client, "r0", NULL, NULL, NULL) == MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_run_log_metric(NULL, "loss", 1.0, 0, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "run logger handle is NULL"));
  mlc_error_free(&err);
  CHECK(mlc_run_log_metrics(NULL, "loss", batch_steps, batch_values, 1, NULL, NULL) ==
        MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_log_params(NULL, param_keys, param_values, 2, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_set_tags(NULL, tag_keys, tag_values, 1, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_flush(NULL, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_logger_close(NULL, MLC_RUN_STATUS_FINISHED, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_run_logger_get_stats(NULL, &stats) == MLC_INVALID_ARGUMENT);
  CHECK(strcmp(mlc_run_logger_run_id(NULL), "") == 0);
  mlc_run_logger_free(NULL);
  mlc_run_logger_free(&other); /* *logger == NULL */
  CHECK(mlc_metric_history(NULL, "r0", "loss", NULL, &steps, &values, &times, &n, NULL) ==
        MLC_INVALID_ARGUMENT);
  CHECK(mlc_metric_history(client, NULL, "loss", NULL, &steps, &values, &times, &n, NULL) ==
        MLC_INVALID_ARGUMENT);
  CHECK(mlc_metric_history(client, "r0", NULL, NULL, &steps, &values, &times, &n, NULL) ==
        MLC_INVALID_ARGUMENT);
  CHECK(mlc_metric_history(client, "r0", "loss", NULL, &steps, &values, &times, NULL, NULL) ==
        MLC_INVALID_ARGUMENT);
  CHECK(steps == NULL && values == NULL && times == NULL && n == 0);
  mlc_metric_history_free(NULL, NULL, NULL);
  CHECK(mlc_sync(NULL, spool, &json, NULL) == MLC_INVALID_ARGUMENT);
  CHECK(mlc_sync(client, spool, NULL, NULL) == MLC_INVALID_ARGUMENT);

  /* A run needs an existing project. */
  CHECK_ST(mlc_run_create(client, NULL, "resnet", "baseline", &json, &err), MLC_NOT_FOUND);
  CHECK(json == NULL);
  CHECK(contains(mlc_error_message(err), "vision"));
  mlc_error_free(&err);
  CHECK_ST(mlc_project_create(client, "{\"name\":\"vision\"}", &json, &err), MLC_OK);
  mlc_string_free(&json);

  /* Create: the client's project, an experiment created by name, RUNNING. */
  CHECK_ST(mlc_run_create(client, NULL, "resnet", "baseline", &json, &err), MLC_OK);
  json_string(json, "id", run_id, sizeof run_id);
  CHECK(run_id[0] == 'r' && strlen(run_id) == 13);
  CHECK(contains(json, "\"project\":\"vision\""));
  CHECK(contains(json, "\"name\":\"baseline\""));
  CHECK(contains(json, "\"status\":\"RUN_STATUS_RUNNING\""));
  mlc_string_free(&json);
  CHECK_ST(mlc_run_get(client, run_id, &json, &err), MLC_OK);
  CHECK(contains(json, "\"name\":\"baseline\""));
  mlc_string_free(&json);
  CHECK_ST(mlc_run_get(client, "baseline", &json, &err), MLC_OK); /* by name */
  CHECK(contains(json, run_id));
  mlc_string_free(&json);

  /* Unknown runs are NOT_FOUND: an id that does not exist, and a name. */
  strcpy(absent_id, run_id);
  absent_id[12] = absent_id[12] == '0' ? '1' : '0';
  CHECK_ST(mlc_run_get(client, absent_id, &json, &err), MLC_NOT_FOUND);
  CHECK(json == NULL);
  CHECK(contains(mlc_error_message(err), absent_id));
  mlc_error_free(&err);
  CHECK(mlc_run_get(client, "no-such-run", &json, NULL) == MLC_NOT_FOUND);
  CHECK_ST(mlc_run_logger_open(client, absent_id, NULL, &logger, &err), MLC_NOT_FOUND);
  CHECK(logger == NULL);
  mlc_error_free(&err);
  CHECK_ST(mlc_metric_history(client, absent_id, "loss", NULL, &steps, &values, &times, &n, &err),
           MLC_NOT_FOUND);
  mlc_error_free(&err);

  /* Bad options are refused before anything starts. */
  options.flush_interval_ms = -1;
  CHECK_ST(mlc_run_logger_open(client, run_id, &options, &logger, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "flush_interval_ms"));
  mlc_error_free(&err);
  options.flush_interval_ms = 0;
  options.system_metrics_interval_ms = 50;
  CHECK_ST(mlc_run_logger_open(client, run_id, &options, &logger, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "system_metrics_interval_ms"));
  mlc_error_free(&err);

  /* The logger: 100,000 points one call each, two keys by columns. */
  memset(&options, 0, sizeof options);
  options.flush_interval_ms = 200;
  options.spool_dir = spool;
  CHECK_ST(mlc_run_logger_open(client, run_id, &options, &logger, &err), MLC_OK);
  CHECK(logger != NULL);
  CHECK(strcmp(mlc_run_logger_run_id(logger), run_id) == 0);
  if (logger == NULL) return 1;

  ok = 1;
  started = now_seconds();
  for (i = 0; i < N_POINTS; ++i) {
    if (mlc_run_log_metric(logger, "loss", loss_at((int)i), (int64_t)i * 2, NULL) != MLC_OK) {
      ok = 0;
    }
  }
  per_point_ns = (now_seconds() - started) * 1e9 / N_POINTS;
  CHECK(ok);
  printf("capi_tracking_test: mlc_run_log_metric %.1f ns/point\n", per_point_ns);

  for (i = 0; i < N_BATCH; ++i) {
    batch_steps[i] = (int64_t)i;
    batch_values[i] = (double)i * 0.25;
    batch_times[i] = 1700000000000000LL + (int64_t)i * 1000;
  }
  CHECK_ST(mlc_run_log_metrics(logger, "acc", batch_steps, batch_values, N_BATCH, NULL, &err),
           MLC_OK);
  CHECK_ST(
      mlc_run_log_metrics(logger, "val/lr", batch_steps, batch_values, N_BATCH, batch_times, &err),
      MLC_OK);
  CHECK_ST(mlc_run_log_metrics(logger, "acc", NULL, NULL, 0, NULL, &err), MLC_OK);
  CHECK_ST(mlc_run_log_metrics(logger, "acc", NULL, batch_values, 3, NULL, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "steps is NULL"));
  mlc_error_free(&err);
  CHECK_ST(mlc_run_log_metric(logger, NULL, 1.0, 0, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "key is NULL"));
  mlc_error_free(&err);
  CHECK_ST(mlc_run_log_metric(logger, "bad key!", 1.0, 0, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "bad key!"));
  mlc_error_free(&err);
  CHECK(mlc_run_log_metric(logger, "bad key!", 1.0, 0, NULL) == MLC_INVALID_ARGUMENT);

  CHECK_ST(mlc_run_flush(logger, &err), MLC_OK);
  CHECK_ST(mlc_run_logger_get_stats(logger, &stats), MLC_OK);
  CHECK(stats.points_logged == N_POINTS + 2 * N_BATCH);
  CHECK(stats.points_written == N_POINTS + 2 * N_BATCH);
  CHECK(stats.points_dropped == 0);
  CHECK(stats.points_spooled == 0);
  CHECK(stats.batches_written >= 1);
  CHECK(mlc_run_logger_get_stats(logger, NULL) == MLC_INVALID_ARGUMENT);

  /* The whole history, exact. */
  CHECK_ST(mlc_metric_history(client, run_id, "loss", NULL, &steps, &values, &times, &n, &err),
           MLC_OK);
  CHECK(n == N_POINTS);
  if (n == N_POINTS && steps != NULL && values != NULL && times != NULL) {
    ok = 1;
    for (i = 0; i < n; ++i) {
      if (steps[i] != (int64_t)i * 2 || values[i] != loss_at((int)i) || times[i] <= 0 ||
          (i > 0 && times[i] < times[i - 1])) {
        fprintf(stderr, "loss point %lu: step %lld value %.17g time %lld\n", (unsigned long)i,
                (long long)steps[i], values[i], (long long)times[i]);
        ok = 0;
        break;
      }
    }
    CHECK(ok);
  }
  mlc_metric_history_free(&steps, &values, &times);
  CHECK(steps == NULL && values == NULL && times == NULL);

  CHECK_ST(mlc_metric_history(client, run_id, "acc", NULL, &steps, &values, NULL, &n, &err),
           MLC_OK);
  CHECK(n == N_BATCH);
  if (n == N_BATCH && steps != NULL && values != NULL) {
    ok = 1;
    for (i = 0; i < n; ++i) ok = ok && steps[i] == (int64_t)i && values[i] == (double)i * 0.25;
    CHECK(ok);
  }
  mlc_metric_history_free(&steps, &values, NULL);
  CHECK_ST(mlc_metric_history(client, run_id, "val/lr", NULL, NULL, NULL, &times, &n, &err),
           MLC_OK);
  CHECK(n == N_BATCH);
  if (n == N_BATCH && times != NULL) CHECK(memcmp(times, batch_times, sizeof batch_times) == 0);
  mlc_metric_history_free(NULL, NULL, &times);

  /* A step range. */
  history.has_min_step = 1;
  history.min_step = 1000;
  history.has_max_step = 1;
  history.max_step = 1999;
  CHECK_ST(mlc_metric_history(client, run_id, "loss", &history, &steps, &values, NULL, &n, &err),
           MLC_OK);
  CHECK(n == 500);
  if (n == 500 && steps != NULL && values != NULL) {
    CHECK(steps[0] == 1000 && steps[499] == 1998);
    CHECK(values[0] == loss_at(500) && values[499] == loss_at(999));
  }
  mlc_metric_history_free(&steps, &values, NULL);
  history.min_step = 10000000;
  history.max_step = 20000000;
  CHECK_ST(mlc_metric_history(client, run_id, "loss", &history, &steps, &values, NULL, &n, &err),
           MLC_OK);
  CHECK(n == 0 && steps == NULL && values == NULL);

  /* Downsampled: at most max_points, the first and the last step kept. */
  memset(&history, 0, sizeof history);
  history.method = MLC_DOWNSAMPLING_METHOD_LTTB;
  history.max_points = 500;
  CHECK_ST(mlc_metric_history(client, run_id, "loss", &history, &steps, &values, &times, &n, &err),
           MLC_OK);
  CHECK(n > 0 && n <= 500);
  if (n > 0 && steps != NULL) CHECK(steps[0] == 0 && steps[n - 1] == (N_POINTS - 1) * 2);
  if (n > 0 && steps != NULL && values != NULL) {
    ok = 1;
    for (i = 0; i < n; ++i) ok = ok && values[i] == loss_at((int)(steps[i] / 2));
    CHECK(ok); /* downsampling picks real points */
  }
  mlc_metric_history_free(&steps, &values, &times);
  history.method = MLC_DOWNSAMPLING_METHOD_MINMAX;
  history.max_points = 100;
  CHECK_ST(mlc_metric_history(client, run_id, "loss", &history, &steps, NULL, NULL, &n, &err),
           MLC_OK);
  CHECK(n > 0 && n <= 100);
  if (n > 0 && steps != NULL) CHECK(steps[0] == 0 && steps[n - 1] == (N_POINTS - 1) * 2);
  mlc_metric_history_free(&steps, NULL, NULL);

  /* Bad history reads. */
  history.max_points = 2;
  CHECK_ST(mlc_metric_history(client, run_id, "loss", &history, &steps, &values, &times, &n, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "max_points"));
  mlc_error_free(&err);
  history.max_points = 0;
  history.method = 9;
  CHECK_ST(mlc_metric_history(client, run_id, "loss", &history, &steps, &values, &times, &n, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "downsampling method 9"));
  mlc_error_free(&err);
  memset(&history, 0, sizeof history);
  history.has_min_step = 1;
  history.min_step = 10;
  history.has_max_step = 1;
  history.max_step = 5;
  CHECK_ST(mlc_metric_history(client, run_id, "loss", &history, &steps, &values, &times, &n, &err),
           MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_metric_history(client, run_id, "absent", NULL, &steps, &values, &times, &n, &err),
           MLC_NOT_FOUND);
  CHECK(contains(mlc_error_message(err), "absent") && contains(mlc_error_message(err), "loss"));
  CHECK(steps == NULL && values == NULL && times == NULL && n == 0);
  mlc_error_free(&err);

  /* Params: set once; the same value again is fine; another value is refused naming both. */
  CHECK_ST(mlc_run_log_params(logger, param_keys, param_values, 2, &err), MLC_OK);
  CHECK_ST(mlc_run_log_params(logger, param_keys, param_values, 1, &err), MLC_OK);
  CHECK_ST(mlc_run_log_params(logger, param_keys, conflict_values, 1, &err),
           MLC_FAILED_PRECONDITION);
  CHECK(mlc_error_code(err) == MLC_FAILED_PRECONDITION);
  CHECK(contains(mlc_error_message(err), "\"0.01\"") &&
        contains(mlc_error_message(err), "\"0.02\""));
  mlc_error_free(&err);
  CHECK_ST(mlc_run_log_params(logger, NULL, param_values, 1, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_run_log_params(logger, null_keys, param_values, 1, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "keys[0] is NULL"));
  mlc_error_free(&err);
  CHECK_ST(mlc_run_log_params(logger, NULL, NULL, 0, &err), MLC_OK);
  {
    const char* twice_keys[2] = {"depth", "depth"};
    const char* twice_values[2] = {"50", "101"};
    CHECK_ST(mlc_run_log_params(logger, twice_keys, twice_values, 2, &err), MLC_INVALID_ARGUMENT);
    CHECK(contains(mlc_error_message(err), "given twice"));
    mlc_error_free(&err);
  }

  /* Tags: set and overwrite; reserved keys refused. */
  CHECK_ST(mlc_run_set_tags(logger, tag_keys, tag_values, 1, &err), MLC_OK);
  CHECK_ST(mlc_run_set_tags(logger, tag_keys, tag_values, 2, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "mlc.reserved"));
  mlc_error_free(&err);

  CHECK_ST(mlc_run_get(client, run_id, &json, &err), MLC_OK);
  CHECK(contains(json, "\"lr\":\"0.01\"") && contains(json, "\"batch_size\":\"64\""));
  CHECK(!contains(json, "0.02") && !contains(json, "depth"));
  CHECK(contains(json, "\"team\":\"recsys\"") && !contains(json, "mlc.reserved"));
  CHECK(contains(json, "\"key\":\"loss\""));
  mlc_string_free(&json);

  /* Close: the run ends FINISHED; the logger refuses more points; closing again is harmless. */
  CHECK_ST(mlc_run_logger_close(logger, 42, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_run_logger_close(logger, MLC_RUN_STATUS_RUNNING, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_run_log_metric(logger, "loss", 0.5, N_POINTS * 2, &err), MLC_OK); /* still open */
  CHECK_ST(mlc_run_logger_close(logger, MLC_RUN_STATUS_FINISHED, &err), MLC_OK);
  CHECK_ST(mlc_run_get(client, run_id, &json, &err), MLC_OK);
  CHECK(contains(json, "\"status\":\"RUN_STATUS_FINISHED\""));
  CHECK(contains(json, "\"endTime\""));
  CHECK(contains(json, "\"latestStep\":\"200000\""));
  CHECK(contains(json, "\"count\":\"100001\""));
  mlc_string_free(&json);
  CHECK_ST(mlc_run_log_metric(logger, "loss", 1.0, 0, &err), MLC_FAILED_PRECONDITION);
  mlc_error_free(&err);
  CHECK_ST(mlc_run_log_metrics(logger, "acc", batch_steps, batch_values, 2, NULL, &err),
           MLC_FAILED_PRECONDITION);
  mlc_error_free(&err);
  CHECK_ST(mlc_run_logger_close(logger, MLC_RUN_STATUS_FAILED, &err), MLC_OK);
  CHECK_ST(mlc_run_logger_get_stats(logger, &stats), MLC_OK);
  CHECK(stats.points_logged == N_POINTS + 2 * N_BATCH + 1);
  CHECK(stats.points_written == stats.points_logged);
  mlc_run_logger_free(&logger);
  CHECK(logger == NULL);
  CHECK_ST(mlc_run_get(client, run_id, &json, &err), MLC_OK);
  CHECK(contains(json, "RUN_STATUS_FINISHED")); /* the second close changed nothing */
  mlc_string_free(&json);
  CHECK_ST(mlc_run_logger_open(client, run_id, NULL, &logger, &err), MLC_FAILED_PRECONDITION);
  CHECK(logger == NULL && contains(mlc_error_message(err), "already ended"));
  mlc_error_free(&err);

  /* Search. */
  CHECK_ST(mlc_run_create(client, "vision", "resnet", "second", &json, &err), MLC_OK);
  json_string(json, "id", other_id, sizeof other_id);
  mlc_string_free(&json);
  CHECK_ST(mlc_run_search(client, NULL, "params.lr < 0.05 and tags.team = \"recsys\"", NULL, &json,
                          &err),
           MLC_OK);
  CHECK(contains(json, run_id) && !contains(json, other_id));
  CHECK(contains(json, "\"metrics\"")); /* summaries included */
  mlc_string_free(&json);
  CHECK_ST(mlc_run_search(client, "vision", "metrics.loss = 0.5 and status = \"FINISHED\"",
                          "metrics.loss asc, start_time desc", &json, &err),
           MLC_OK);
  CHECK(contains(json, run_id));
  mlc_string_free(&json);
  CHECK_ST(mlc_run_search(client, "vision", NULL, "start_time asc", &json, &err), MLC_OK);
  CHECK(contains(json, run_id) && contains(json, other_id));
  CHECK(json != NULL && strstr(json, run_id) < strstr(json, other_id));
  mlc_string_free(&json);
  CHECK_ST(mlc_run_search(client, "vision", "params.lr > 1", NULL, &json, &err), MLC_OK);
  CHECK(!contains(json, run_id));
  mlc_string_free(&json);
  CHECK_ST(mlc_run_search(client, "vision", "params.lr <<< 3", NULL, &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(json == NULL);
  CHECK(contains(mlc_error_message(err), "column"));
  mlc_error_free(&err);
  CHECK_ST(mlc_run_search(client, "vision", NULL, "start_time, metrics.loss up", &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "order_by[1]") &&
        contains(mlc_error_message(err), "column"));
  mlc_error_free(&err);
  CHECK_ST(mlc_run_search(client, "absent-project", NULL, NULL, &json, &err), MLC_NOT_FOUND);
  mlc_error_free(&err);

  /* Drop instead of block: a 2-point buffer loses points, and counts them. */
  memset(&options, 0, sizeof options);
  options.flush_interval_ms = 60000;
  options.max_buffered_points = 2;
  options.drop_when_full = 1;
  CHECK_ST(mlc_run_logger_open(client, other_id, &options, &other, &err), MLC_OK);
  ok = 1;
  for (i = 0; i < N_POINTS; ++i) {
    ok = ok && mlc_run_log_metric(other, "x", 1.0, (int64_t)i, NULL) == MLC_OK;
  }
  CHECK(ok);
  CHECK_ST(mlc_run_flush(other, &err), MLC_OK);
  CHECK_ST(mlc_run_logger_get_stats(other, &stats), MLC_OK);
  CHECK(stats.points_logged + stats.points_dropped == N_POINTS);
  CHECK(stats.points_dropped > 0);
  CHECK(stats.points_written == stats.points_logged);
  CHECK_ST(mlc_metric_history(client, other_id, "x", NULL, &steps, NULL, NULL, &n, &err), MLC_OK);
  CHECK(n == stats.points_logged);
  mlc_metric_history_free(&steps, NULL, NULL);
  mlc_run_logger_free(&other);
  CHECK(other == NULL);

  /* System metrics, and a logger that outlives its client: free flushes, the run stays open. */
  memset(&options, 0, sizeof options);
  options.system_metrics = 1;
  options.system_metrics_interval_ms = 100;
  CHECK_ST(mlc_run_logger_open(client, other_id, &options, &other, &err), MLC_OK);
  sleep_ms(500);
  mlc_client_close(&client);
  CHECK(client == NULL);
  CHECK_ST(mlc_run_log_metric(other, "after-close", 7.0, 1, &err), MLC_OK);
  CHECK_ST(mlc_run_flush(other, &err), MLC_OK);
  mlc_run_logger_free(&other);
  CHECK_ST(mlc_client_open(uri, "vision", &client, &err), MLC_OK);
  if (client == NULL) return 1;
  CHECK_ST(mlc_metric_history(client, other_id, "system/cpu_percent", NULL, &steps, &values, NULL,
                              &n, &err),
           MLC_OK);
  CHECK(n >= 2);
  if (n > 0 && values != NULL) CHECK(values[0] >= 0.0);
  mlc_metric_history_free(&steps, &values, NULL);
  CHECK_ST(
      mlc_metric_history(client, other_id, "after-close", NULL, &steps, &values, NULL, &n, &err),
      MLC_OK);
  CHECK(n == 1 && values != NULL && values[0] == 7.0);
  mlc_metric_history_free(&steps, &values, NULL);
  CHECK_ST(mlc_run_get(client, other_id, &json, &err), MLC_OK);
  CHECK(contains(json, "RUN_STATUS_RUNNING"));
  mlc_string_free(&json);

  /* The spool and mlc_sync: over the project's stored-bytes limit, points go to the spool; once
   * the limit is raised, a sync uploads them exactly once. */
  CHECK_ST(mlc_sync(client, spool, &json, &err), MLC_OK);
  CHECK(json_int(json, "files") == 0 && json_int(json, "filesLeft") == 0);
  CHECK(contains(json, "\"errors\":[]"));
  mlc_string_free(&json);
  CHECK_ST(mlc_project_create(client, "{\"name\":\"capped\"}", &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(
      mlc_invoke(client, "TrackingService/UpdateTrackingPolicy",
                 "{\"policy\":{\"project\":\"capped\",\"maxStoredBytes\":\"1\"}}", &json, &err),
      MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_run_create(client, "capped", NULL, "capped-run", &json, &err), MLC_OK);
  json_string(json, "id", other_id, sizeof other_id);
  mlc_string_free(&json);
  memset(&options, 0, sizeof options);
  options.spool_dir = spool;
  CHECK_ST(mlc_run_logger_open(client, other_id, &options, &other, &err), MLC_OK);
  CHECK_ST(mlc_run_log_metrics(other, "loss", batch_steps, batch_values, 10, NULL, &err), MLC_OK);
  CHECK_ST(mlc_run_flush(other, &err), MLC_OK); /* under the limit when it started */
  CHECK_ST(mlc_run_log_metrics(other, "loss", batch_steps + 10, batch_values + 10, 10, NULL, &err),
           MLC_OK);
  CHECK_ST(mlc_run_flush(other, &err), MLC_RESOURCE_EXHAUSTED);
  CHECK(contains(mlc_error_message(err), spool));
  CHECK(contains(mlc_error_message(err), "mlc sync"));
  mlc_error_free(&err);
  CHECK_ST(mlc_run_logger_get_stats(other, &stats), MLC_OK);
  CHECK(stats.points_written == 10 && stats.points_spooled == 10);
  CHECK_ST(mlc_run_logger_close(other, MLC_RUN_STATUS_UNSPECIFIED, &err), MLC_OK);
  mlc_run_logger_free(&other);

  CHECK_ST(mlc_sync(client, spool, &json, &err), MLC_OK); /* still over the limit: kept */
  CHECK(json_int(json, "files") == 1 && json_int(json, "filesLeft") == 1);
  CHECK(json_int(json, "points") == 0);
  CHECK(contains(json, ".spool: ") && contains(json, "limit"));
  mlc_string_free(&json);
  CHECK_ST(mlc_invoke(client, "TrackingService/UpdateTrackingPolicy",
                      "{\"policy\":{\"project\":\"capped\"}}", &json, &err),
           MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_sync(client, NULL, &json, &err), MLC_OK); /* NULL = $MLC_SPOOL_DIR */
  CHECK(json_int(json, "files") == 1 && json_int(json, "filesLeft") == 0);
  CHECK(json_int(json, "batchesSent") == 1 && json_int(json, "points") == 10);
  CHECK(contains(json, "\"errors\":[]"));
  mlc_string_free(&json);
  CHECK_ST(mlc_sync(client, spool, &json, &err), MLC_OK); /* nothing left */
  CHECK(json_int(json, "files") == 0 && json_int(json, "points") == 0);
  mlc_string_free(&json);
  CHECK_ST(mlc_metric_history(client, other_id, "loss", NULL, &steps, &values, NULL, &n, &err),
           MLC_OK);
  CHECK(n == 20);
  if (n == 20 && steps != NULL && values != NULL) {
    ok = 1;
    for (i = 0; i < n; ++i) ok = ok && steps[i] == (int64_t)i && values[i] == (double)i * 0.25;
    CHECK(ok);
  }
  mlc_metric_history_free(&steps, &values, NULL);

  /* The rest of TrackingService is one mlc_invoke away. */
  snprintf(request, sizeof request, "{\"id\":\"%s\",\"status\":\"RUN_STATUS_KILLED\"}", other_id);
  CHECK_ST(mlc_invoke(client, "TrackingService/UpdateRun", request, &json, &err), MLC_OK);
  CHECK(contains(json, "RUN_STATUS_KILLED"));
  mlc_string_free(&json);

  /* Errors are optional. */
  CHECK(mlc_run_get(client, absent_id, &json, NULL) == MLC_NOT_FOUND);
  CHECK(json == NULL);

  mlc_client_close(&client);
  {
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", root);
    if (system(rm) != 0) fprintf(stderr, "warning: could not remove %s\n", root);
  }
  printf("capi_tracking_test: %d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
