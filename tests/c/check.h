/* The checks shared by the plain-C tests of the C ABI: count checks and failures, print where a
 * check failed (with the error message for a status check; CHECK_ST expects an `mlc_error* err`
 * in scope), and let main() exit non-zero when any failed. */
#ifndef MLCORE_TESTS_C_CHECK_H_
#define MLCORE_TESTS_C_CHECK_H_

#include <stdio.h>
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

/* True when `haystack` is not NULL and contains `needle`. */
static inline int contains(const char* haystack, const char* needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}

#endif /* MLCORE_TESTS_C_CHECK_H_ */
