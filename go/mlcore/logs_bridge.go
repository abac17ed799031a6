package mlcore

// The C side of Logs: a file of its own because a cgo preamble holding definitions must not sit
// next to an //export (jobs.go exports mlcgoLogLine). The handle travels as uintptr_t so no Go
// pointer is converted to void* on the Go side.

/*
#include <stdint.h>
#include "mlcore.h"

extern int mlcgoLogLine(char* line_json, void* user_data);

static int mlcgo_log_trampoline(const char* line_json, void* user_data) {
  return mlcgoLogLine((char*)line_json, user_data);
}

mlc_status mlcgo_job_logs(mlc_client* client, const char* request_json, uintptr_t handle,
                          mlc_error** err) {
  return mlc_job_logs(client, request_json, mlcgo_log_trampoline, (void*)handle, err);
}
*/
import "C"
