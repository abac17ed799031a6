package mlcore

// The C side of Stream: a file of its own because a cgo preamble holding definitions must not sit
// next to an //export (registry.go exports mlcgoStreamMessage). The handle travels as uintptr_t so
// no Go pointer is converted to void* on the Go side.

/*
#include <stdint.h>
#include "mlcore.h"

extern int mlcgoStreamMessage(char* message_json, void* user_data);

static int mlcgo_stream_trampoline(const char* message_json, void* user_data) {
  return mlcgoStreamMessage((char*)message_json, user_data);
}

mlc_status mlcgo_invoke_stream(mlc_client* client, const char* method, const char* request_json,
                               uintptr_t handle, mlc_error** err) {
  return mlc_invoke_stream(client, method, request_json, mlcgo_stream_trampoline, (void*)handle,
                           err);
}
*/
import "C"
