/* The data cache through the C ABI from plain C, on the local backend: a file loaded from the
 * origin and then from the hot tier (same path, same bytes, counters moving in mlc_data_stats), an
 * expected digest that matches and one that does not (nothing served), a directory artifact
 * loaded as a tree, and the errors of bad arguments, unknown schemes and missing objects. Exits
 * non-zero on the first failed check. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "check.h"
#include "mlcore.h"

/* check.h's CHECK_ST, also freeing the error after each call. */
#undef CHECK_ST
#define CHECK_ST(call, want)                                                                    \
  do {                                                                                          \
    mlc_status got_ = (call);                                                                   \
    ++checks;                                                                                   \
    if (got_ != (want)) {                                                                       \
      ++failures;                                                                               \
      fprintf(stderr, "%s:%d: %s returned %s, want %s: %s\n", __FILE__, __LINE__, #call,        \
              mlc_status_name(got_), mlc_status_name(want), mlc_error_message(err));            \
    }                                                                                           \
    last_message[0] = '\0';                                                                     \
    if (err != NULL) snprintf(last_message, sizeof last_message, "%s", mlc_error_message(err)); \
    mlc_error_free(&err);                                                                       \
  } while (0)

static char last_message[1024];

/* SHA-256 of "abc" (FIPS 180-2, appendix B.1). */
static const char* kAbcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/* 1 when `json` has "key": n, as a JSON number or as proto3 JSON's int64 string. */
static int has_number(const char* json, const char* key, int n) {
  char quoted[128];
  char bare[128];
  snprintf(quoted, sizeof quoted, "\"%s\":\"%d\"", key, n);
  snprintf(bare, sizeof bare, "\"%s\":%d", key, n);
  return contains(json, quoted) || contains(json, bare);
}

static int write_file(const char* path, const char* data, size_t size) {
  FILE* f = fopen(path, "wb");
  size_t written;
  if (f == NULL) return 0;
  written = fwrite(data, 1, size, f);
  return fclose(f) == 0 && written == size;
}

/* 1 when the file at `path` holds exactly `size` bytes equal to `data`. */
static int same_bytes(const char* path, const char* data, size_t size) {
  char buf[256];
  size_t got;
  FILE* f = fopen(path, "rb");
  if (f == NULL || size > sizeof buf - 1) {
    if (f != NULL) fclose(f);
    return 0;
  }
  got = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return got == size && memcmp(buf, data, size) == 0;
}

static int is_directory(const char* path) {
  struct stat st;
  return path != NULL && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(void) {
  char root[4096];
  char uri[4200];
  char abc[4200];
  char other[4200];
  char missing[4200];
  char model[4200];
  char path[4400];
  char artifact_id[128];
  char artifact_uri[256];
  char* local = NULL;
  char* again = NULL;
  char* json = NULL;
  mlc_client* client = NULL;
  mlc_error* err = NULL;

  if (make_test_root("capi-data", root, sizeof root) != 0) return 1;
  /* The cache lives under the state directory, whatever the caller's environment says. */
  unsetenv("MLC_CACHE_DIR");
  unsetenv("MLC_CACHE_COLD_DIR");
  unsetenv("MLC_CACHE_CAPACITY");
  snprintf(abc, sizeof abc, "%s/abc.txt", root);
  snprintf(other, sizeof other, "file://%s/other.txt", root);
  snprintf(missing, sizeof missing, "%s/missing.bin", root);
  snprintf(model, sizeof model, "%s/model", root);
  CHECK(write_file(abc, "abc", 3));
  snprintf(path, sizeof path, "%s/other.txt", root);
  CHECK(write_file(path, "not abc", 7));
  CHECK(mkdir(model, 0755) == 0);
  snprintf(path, sizeof path, "%s/config.json", model);
  CHECK(write_file(path, "{\"layers\": 4}\n", 14));
  snprintf(path, sizeof path, "%s/weights.bin", model);
  CHECK(write_file(path, "0123456789", 10));

  snprintf(uri, sizeof uri, "local://%s/state", root);
  CHECK_ST(mlc_client_open(uri, "ml", &client, &err), MLC_OK);
  CHECK_ST(mlc_project_create(client, "{\"name\":\"ml\"}", &json, &err), MLC_OK);
  mlc_string_free(&json);

  /* A miss fetches from the origin into the hot tier. */
  CHECK_ST(mlc_data_load(client, abc, NULL, &local, &err), MLC_OK);
  CHECK(local != NULL && strcmp(local, abc) != 0);
  CHECK(same_bytes(local, "abc", 3));
  CHECK_ST(mlc_data_stats(client, &json, &err), MLC_OK);
  CHECK(has_number(json, "originFetches", 1));
  CHECK(contains(json, "\"tier\":\"CACHE_TIER_HOT\""));
  CHECK(!contains(json, "\"hits\""));
  mlc_string_free(&json);

  /* A hit, with the digest it must have: the same path, no new fetch. */
  CHECK_ST(mlc_data_load(client, abc, kAbcDigest, &again, &err), MLC_OK);
  CHECK(again != NULL && local != NULL && strcmp(again, local) == 0);
  mlc_string_free(&again);
  CHECK_ST(mlc_data_stats(client, &json, &err), MLC_OK);
  CHECK(has_number(json, "originFetches", 1));
  CHECK(has_number(json, "hits", 1));
  mlc_string_free(&json);
  mlc_string_free(&local);

  /* Content that does not match the expected digest is never served. */
  CHECK_ST(mlc_data_load(client, other, kAbcDigest, &local, &err), MLC_FAILED_PRECONDITION);
  CHECK(local == NULL);
  CHECK_ST(mlc_data_load(client, abc, "abc", &local, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(last_message, "digest"));
  CHECK_ST(mlc_data_load(client, "s3://bucket/key", NULL, &local, &err), MLC_INVALID_ARGUMENT);
  CHECK(contains(last_message, "supported schemes") && contains(last_message, "artifact"));
  CHECK_ST(mlc_data_load(client, missing, NULL, &local, &err), MLC_NOT_FOUND);
  CHECK_ST(mlc_data_load(client, "artifact://a-missing", NULL, &local, &err), MLC_NOT_FOUND);
  CHECK(local == NULL);

  /* A directory artifact loads as a directory of links to its verified files. */
  CHECK_ST(mlc_run_create(client, NULL, NULL, "train", &json, &err), MLC_OK);
  mlc_string_free(&json);
  CHECK_ST(mlc_artifact_log(client, MLC_OBJECT_KIND_RUN, "train", model, NULL, &json, &err),
           MLC_OK);
  json_string(json, "id", artifact_id, sizeof artifact_id);
  mlc_string_free(&json);
  CHECK(artifact_id[0] != '\0');
  snprintf(artifact_uri, sizeof artifact_uri, "artifact://%s", artifact_id);
  CHECK_ST(mlc_data_load(client, artifact_uri, NULL, &local, &err), MLC_OK);
  CHECK(is_directory(local));
  if (local != NULL) {
    snprintf(path, sizeof path, "%s/config.json", local);
    CHECK(same_bytes(path, "{\"layers\": 4}\n", 14));
    snprintf(path, sizeof path, "%s/weights.bin", local);
    CHECK(same_bytes(path, "0123456789", 10));
  }
  mlc_string_free(&local);
  snprintf(artifact_uri, sizeof artifact_uri, "artifact://%s/weights.bin", artifact_id);
  CHECK_ST(mlc_data_load(client, artifact_uri, NULL, &local, &err), MLC_OK);
  CHECK(same_bytes(local, "0123456789", 10));
  mlc_string_free(&local);

  /* NULL arguments. */
  CHECK_ST(mlc_data_load(NULL, abc, NULL, &local, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_data_load(client, NULL, NULL, &local, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_data_load(client, abc, NULL, NULL, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_data_load(client, "", NULL, &local, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_data_stats(NULL, &json, &err), MLC_INVALID_ARGUMENT);
  CHECK_ST(mlc_data_stats(client, NULL, &err), MLC_INVALID_ARGUMENT);
  CHECK(local == NULL && json == NULL);

  mlc_client_close(&client);
  {
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", root);
    if (failures == 0 && system(rm) != 0) fprintf(stderr, "could not remove %s\n", root);
  }
  fprintf(stderr, "%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
