/* Artifacts through the C ABI from plain C, on the local backend: a project and a run, a small
 * directory logged for the run, downloaded whole and partially and compared byte for byte, a
 * duplicate path, and the errors of NULL arguments. Exits non-zero on the first failed check. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "check.h"
#include "mlcore.h"

/* check.h's CHECK_ST, also freeing the error after each call. */
#undef CHECK_ST
#define CHECK_ST(call, want)                                                             \
  do {                                                                                   \
    mlc_status got_ = (call);                                                            \
    ++checks;                                                                            \
    if (got_ != (want)) {                                                                \
      ++failures;                                                                        \
      fprintf(stderr, "%s:%d: %s returned %s, want %s: %s\n", __FILE__, __LINE__, #call, \
              mlc_status_name(got_), mlc_status_name(want), mlc_error_message(err));     \
    }                                                                                    \
    mlc_error_free(&err);                                                                \
  } while (0)

static int write_file(const char* path, const char* data, size_t size) {
  FILE* f = fopen(path, "wb");
  size_t written;
  if (f == NULL) return 0;
  written = fwrite(data, 1, size, f);
  return fclose(f) == 0 && written == size;
}

/* 1 when the file at `path` holds exactly `size` bytes equal to `data`. */
static int same_bytes(const char* path, const char* data, size_t size) {
  FILE* f = fopen(path, "rb");
  char* buf;
  size_t got;
  int same;
  if (f == NULL) return 0;
  buf = (char*)malloc(size + 1);
  if (buf == NULL) {
    fclose(f);
    return 0;
  }
  got = fread(buf, 1, size + 1, f);
  fclose(f);
  same = got == size && memcmp(buf, data, size) == 0;
  free(buf);
  return same;
}

static int exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int main(void) {
  char root[4096];
  char uri[4200];
  char src[4200];
  char path[4400];
  char out[4200];
  char part[4200];
  char run_id[128];
  char artifact_id[128];
  char* json = NULL;
  char* manifest = NULL;
  mlc_client* client = NULL;
  mlc_error* err = NULL;
  static char weights[300000];
  const char* config = "{\"layers\": 4}\n";
  size_t i;

  if (make_test_root("capi-artifacts", root, sizeof root) != 0) return 1;
  for (i = 0; i < sizeof weights; ++i) weights[i] = (char)(i * 131u % 251u);
  snprintf(src, sizeof src, "%s/model", root);
  snprintf(out, sizeof out, "%s/out", root);
  snprintf(part, sizeof part, "%s/part", root);
  CHECK(mkdir(src, 0755) == 0);
  snprintf(path, sizeof path, "%s/weights", src);
  CHECK(mkdir(path, 0755) == 0);
  snprintf(path, sizeof path, "%s/config.json", src);
  CHECK(write_file(path, config, strlen(config)));
  snprintf(path, sizeof path, "%s/weights/w.bin", src);
  CHECK(write_file(path, weights, sizeof weights));

  snprintf(uri, sizeof uri, "local://%s/state", root);
  CHECK_ST(mlc_client_open(uri, "ml", &client, &err), MLC_OK);
  CHECK_ST(mlc_project_create(client, "{\"name\":\"ml\"}", &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_run_create(client, NULL, NULL, "train", &json, &err), MLC_OK);
  json_string(json, "id", run_id, sizeof run_id);
  CHECK(run_id[0] == 'r');
  mlc_string_free(&json);

  /* Log the directory for the run, by name. */
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, "train", src, NULL, &json, &err), MLC_OK);
  json_string(json, "id", artifact_id, sizeof artifact_id);
  CHECK(artifact_id[0] != '\0');
  CHECK(contains(json, "\"path\":\"model\""));
  CHECK(contains(json, "\"fileCount\":\"2\"") || contains(json, "\"fileCount\":2"));
  CHECK(contains(json, run_id));
  mlc_string_free(&json);

  /* The same path again for the same owner with other content: ALREADY_EXISTS. */
  snprintf(path, sizeof path, "%s/config.json", src);
  CHECK(write_file(path, "{}", 2));
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, run_id, src, "model", &json, &err),
           MLC_ALREADY_EXISTS);
  CHECK(json == NULL);
  CHECK(write_file(path, config, strlen(config)));

  /* Whole download, byte for byte. */
  CHECK_ST(mlc_artifact_download(client, artifact_id, out, NULL, &manifest, &err), MLC_OK);
  CHECK(contains(manifest, "config.json"));
  CHECK(contains(manifest, "weights/w.bin"));
  mlc_string_free(&manifest);
  snprintf(path, sizeof path, "%s/config.json", out);
  CHECK(same_bytes(path, config, strlen(config)));
  snprintf(path, sizeof path, "%s/weights/w.bin", out);
  CHECK(same_bytes(path, weights, sizeof weights));

  /* Partial download: only the subtree asked for. */
  CHECK_ST(mlc_artifact_download(client, artifact_id, part, "weights", &manifest, &err), MLC_OK);
  CHECK(contains(manifest, "weights/w.bin"));
  CHECK(!contains(manifest, "config.json"));
  mlc_string_free(&manifest);
  snprintf(path, sizeof path, "%s/weights/w.bin", part);
  CHECK(same_bytes(path, weights, sizeof weights));
  snprintf(path, sizeof path, "%s/config.json", part);
  CHECK(!exists(path));

  /* Errors. */
  CHECK_ST(mlc_artifact_log(NULL, MLC_OBJECT_KIND_RUN, run_id, src, NULL, &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, NULL, src, NULL, &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, run_id, NULL, NULL, &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, run_id, src, NULL, NULL, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_log(client, 7, run_id, src, NULL, &json, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, run_id, src, "../x", &json, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, "no-such-run", src, NULL, &json, &err),
           MLC_NOT_FOUND);
  CHECK_ST(mlc_artifact_download(NULL, artifact_id, out, NULL, &manifest, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_download(client, NULL, out, NULL, &manifest, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_download(client, artifact_id, NULL, NULL, &manifest, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_download(client, artifact_id, out, NULL, NULL, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_download(client, artifact_id, out, "../etc", &manifest, &err),
           MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_artifact_download(client, "a-missing", out, NULL, &manifest, &err), MLC_NOT_FOUND);
  CHECK(json == NULL && manifest == NULL);

  mlc_client_close(&client);
  {
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", root);
    if (failures == 0 && system(rm) != 0) fprintf(stderr, "could not remove %s\n", root);
  }
  fprintf(stderr, "%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
