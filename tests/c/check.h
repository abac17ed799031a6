/* The checks shared by the plain-C tests of the C ABI: count checks and failures, print where a
 * check failed (with the error message for a status check; CHECK_ST expects an `mlc_error* err`
 * in scope), and let main() exit non-zero when any failed. */
#ifndef MLCORE_TESTS_C_CHECK_H_
#define MLCORE_TESTS_C_CHECK_H_

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlcore.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++checks;                                                                  \
    if (!(cond)) {                                                             \
      ++failures;                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* Checks a call's status; on a mismatch prints the error message too. */
#define CHECK_ST(call, want)                                                             \
  do {                                                                                   \
    mlc_status got_ = (call);                                                            \
    ++checks;                                                                            \
    if (got_ != (want)) {                                                                \
      ++failures;                                                                        \
      fprintf(stderr, "%s:%d: %s returned %s, want %s: %s\n", __FILE__, __LINE__, #call, \
              mlc_status_name(got_), mlc_status_name(want), mlc_error_message(err));     \
    }                                                                                    \
  } while (0)

#if defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 199309L
#include <time.h>

/* Sleeps `ms` milliseconds (for tests that poll; needs _POSIX_C_SOURCE before any include). */
static inline void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}
#endif

/* True when `haystack` is not NULL and contains `needle`. */
static inline int contains(const char* haystack, const char* needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* Copies the first string value of "key" in `json` into `out` ("" when absent). The first "id"
 * of a message's JSON is its own id (fields are printed in field order). */
static inline const char* json_string(const char* json, const char* key, char* out, size_t size) {
  char pattern[128];
  const char* start;
  size_t n = 0;
  out[0] = '\0';
  if (json == NULL) return out;
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  start = strstr(json, pattern);
  if (start == NULL) return out;
  start += strlen(pattern);
  while (start[n] != '\0' && start[n] != '"' && n + 1 < size) {
    out[n] = start[n];
    ++n;
  }
  out[n] = '\0';
  return out;
}

/* Makes a fresh directory `$MLC_TEST_TMP/<name>-XXXXXX` (or under /tmp) into `root`; returns 0
 * on success. Needs _POSIX_C_SOURCE >= 200809L for mkdtemp. */
static inline int make_test_root(const char* name, char* root, size_t size) {
  const char* base = getenv("MLC_TEST_TMP");
  char mk[4200];
  if (base == NULL || *base == '\0') base = "/tmp";
  snprintf(root, size, "%s/%s-XXXXXX", base, name);
  snprintf(mk, sizeof mk, "mkdir -p '%s'", base);
  if (system(mk) != 0 || mkdtemp(root) == NULL) {
    fprintf(stderr, "cannot create a temporary directory under %s\n", base);
    return -1;
  }
  return 0;
}

#endif /* MLCORE_TESTS_C_CHECK_H_ */
