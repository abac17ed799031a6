/* The model registry through the C ABI from plain C, on the local backend: registering a local
 * directory (uploaded, READY), resolving models:/ URIs, loading a version's files through
 * mlc_data_load, and watching registry events with mlc_invoke_stream (replay, a callback that
 * stops the stream, heartbeats while idle); plus the errors of bad arguments and unknown names.
 * Exits non-zero on the first failed check. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "check.h"
#include "mlcore.h"

static int write_file(const char* path, const char* data) {
  FILE* f = fopen(path, "wb");
  size_t size = strlen(data);
  size_t written;
  if (f == NULL) return 0;
  written = fwrite(data, 1, size, f);
  return fclose(f) == 0 && written == size;
}

/* Collects streamed messages; stops after `want` of them, or at the first heartbeat when
 * `stop_when_idle` is set. */
struct collected {
  char messages[8][1024];
  int count;
  int want;
  int heartbeats;
  int stop_when_idle;
};

static int collect(const char* message_json, void* user_data) {
  struct collected* c = (struct collected*)user_data;
  if (message_json == NULL) {
    ++c->heartbeats;
    return !c->stop_when_idle;
  }
  if (c->count < 8) snprintf(c->messages[c->count], sizeof c->messages[0], "%s", message_json);
  ++c->count;
  return c->count < c->want;
}

int main(void) {
  char root[4096];
  char uri[4200];
  char model_dir[4200];
  char path[4400];
  char request[8800];
  char* json = NULL;
  char* local = NULL;
  mlc_client* client = NULL;
  mlc_error* err = NULL;
  struct collected events;

  if (make_test_root("capi-registry", root, sizeof root) != 0) return 1;
  unsetenv("MLC_CACHE_DIR");
  unsetenv("MLC_CACHE_COLD_DIR");
  unsetenv("MLC_CACHE_CAPACITY");
  snprintf(model_dir, sizeof model_dir, "%s/model", root);
  CHECK(mkdir(model_dir, 0755) == 0);
  snprintf(path, sizeof path, "%s/weights.bin", model_dir);
  CHECK(write_file(path, "0123456789"));

  snprintf(uri, sizeof uri, "local://%s/state", root);
  CHECK_ST(mlc_client_open(uri, "ml", &client, &err), MLC_OK);
  mlc_error_free(&err);
  CHECK_ST(mlc_project_create(client, "{\"name\":\"ml\"}", &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_invoke(client, "RegistryService/CreateRegisteredModel",
                      "{\"model\":{\"project\":\"ml\",\"name\":\"ranker\"}}", &json, &err),
           MLC_OK);
  mlc_string_free(&json);

  /* A local directory: created PENDING_UPLOAD, uploaded, READY. */
  snprintf(
      request, sizeof request,
      "{\"model\":\"ranker\",\"source\":{\"kind\":\"MODEL_SOURCE_KIND_UPLOAD\",\"path\":\"%s\"},"
      "\"metrics\":{\"auc\":0.91}}",
      model_dir);
  CHECK_ST(mlc_model_register(client, request, &json, &err), MLC_OK);
  CHECK(contains(json, "\"status\":\"MODEL_VERSION_STATUS_READY\""));
  CHECK(contains(json, "\"version\":\"1\""));
  mlc_string_free(&json);
  CHECK_ST(mlc_invoke(client, "RegistryService/SetModelAlias",
                      "{\"project\":\"ml\",\"model\":\"ranker\",\"alias\":\"champion\","
                      "\"version\":\"1\"}",
                      &json, &err),
           MLC_OK);
  mlc_string_free(&json);

  CHECK_ST(mlc_model_resolve(client, "models:/ranker@champion", &json, &err), MLC_OK);
  CHECK(contains(json, "\"version\":\"1\"") && contains(json, "\"model\":\"ranker\""));
  mlc_string_free(&json);
  CHECK_ST(mlc_model_resolve(client, "models:/ranker@nope", &json, &err), MLC_NOT_FOUND);
  CHECK(contains(mlc_error_message(err), "champion"));
  CHECK(json == NULL);
  mlc_error_free(&err);
  CHECK_ST(mlc_model_resolve(client, "ranker", &json, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);

  /* The version's files, through the data cache. */
  CHECK_ST(mlc_data_load(client, "models:/ranker@champion", NULL, &local, &err), MLC_OK);
  snprintf(path, sizeof path, "%s/weights.bin", local == NULL ? "" : local);
  {
    struct stat st;
    CHECK(local != NULL && stat(path, &st) == 0 && st.st_size == 10);
  }
  mlc_string_free(&local);

  /* Events: model created, version created, version ready, alias set; stop after three. */
  memset(&events, 0, sizeof events);
  events.want = 3;
  CHECK_ST(
      mlc_invoke_stream(client, "RegistryService/WatchRegistryEvents",
                        "{\"project\":\"ml\",\"afterSequence\":\"0\"}", collect, &events, &err),
      MLC_OK);
  CHECK(events.count == 3);
  CHECK(contains(events.messages[0], "REGISTRY_EVENT_TYPE_MODEL_CREATED"));
  CHECK(contains(events.messages[1], "REGISTRY_EVENT_TYPE_VERSION_CREATED"));
  CHECK(contains(events.messages[2], "REGISTRY_EVENT_TYPE_VERSION_READY"));

  /* Only alias events, then idle: the heartbeat lets the caller stop. */
  memset(&events, 0, sizeof events);
  events.want = 100;
  events.stop_when_idle = 1;
  CHECK_ST(mlc_invoke_stream(client, "RegistryService/WatchRegistryEvents",
                             "{\"project\":\"ml\",\"afterSequence\":\"0\","
                             "\"types\":[\"REGISTRY_EVENT_TYPE_ALIAS_SET\"]}",
                             collect, &events, &err),
           MLC_OK);
  CHECK(events.count == 1 && contains(events.messages[0], "\"alias\":\"champion\""));
  CHECK(events.heartbeats == 1);

  /* A unary method streams its one response. */
  memset(&events, 0, sizeof events);
  events.want = 100;
  CHECK_ST(mlc_invoke_stream(client, "RegistryService/GetRegisteredModel",
                             "{\"project\":\"ml\",\"name\":\"ranker\"}", collect, &events, &err),
           MLC_OK);
  CHECK(events.count == 1 && contains(events.messages[0], "\"latestVersion\":\"1\""));

  CHECK_ST(mlc_invoke_stream(client, "RegistryService/WatchRegistryEvents",
                             "{\"project\":\"nope\"}", collect, &events, &err),
           MLC_NOT_FOUND);
  mlc_error_free(&err);
  CHECK_ST(mlc_invoke_stream(client, "RegistryService/WatchRegistryEvents", "{}", NULL, NULL, &err),
           MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK_ST(mlc_invoke_stream(client, "NoService/Nope", "{}", collect, &events, &err),
           MLC_NOT_FOUND);
  mlc_error_free(&err);
  snprintf(request, sizeof request,
           "{\"model\":\"ranker\",\"source\":{\"kind\":\"MODEL_SOURCE_KIND_UPLOAD\",\"path\":\"%s/"
           "missing\"}}",
           root);
  CHECK_ST(mlc_model_register(client, request, &json, &err), MLC_NOT_FOUND);
  mlc_error_free(&err);
  CHECK_ST(mlc_model_register(client, "{\"bogus\":1}", &json, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(mlc_error_message(err), "request_json"));
  mlc_error_free(&err);
  CHECK_ST(mlc_model_resolve(NULL, "models:/ranker/1", &json, &err), MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);

  mlc_client_close(&client);
  if (failures > 0) {
    fprintf(stderr, "%d of %d checks failed\n", failures, checks);
    return 1;
  }
  printf("capi_registry_test: %d checks passed\n", checks);
  return 0;
}
