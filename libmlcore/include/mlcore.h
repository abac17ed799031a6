/*
 * mlcore.h: the C ABI of mlcore, for Go and any language with a C FFI.
 *
 * Conventions (every function follows them):
 * - Handles are opaque (mlc_client). Destroy functions take a pointer to the handle and set it to
 *   NULL, so a double destroy is harmless.
 * - Every fallible call returns an mlc_status (MLC_OK == 0) and fills its out-parameters only on
 *   success (they are set to NULL on failure). When `err` is not NULL and the call fails, *err
 *   receives an error object that the caller owns and frees with mlc_error_free.
 * - Strings returned through `char**` are NUL-terminated UTF-8, owned by the caller, freed with
 *   mlc_string_free. Strings passed in are borrowed for the duration of the call.
 * - Entities travel as proto3 JSON (lowerCamelCase field names) of the messages in
 *   proto/mlcore/v1, so no entity is declared twice; mlc_invoke reaches every API method.
 * - No C++ exception crosses this boundary.
 * - Thread safety: one mlc_client may be used from several threads at once; error objects and
 *   strings belong to the thread that received them.
 */
#ifndef MLCORE_H_
#define MLCORE_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MLC_BUILDING_CAPI)
#define MLC_API __attribute__((visibility("default")))
#else
#define MLC_API
#endif

/* Status codes: gRPC's canonical codes, same values. */
typedef enum mlc_status {
  MLC_OK = 0,
  MLC_CANCELLED = 1,
  MLC_UNKNOWN = 2,
  MLC_INVALID_ARGUMENT = 3,
  MLC_DEADLINE_EXCEEDED = 4,
  MLC_NOT_FOUND = 5,
  MLC_ALREADY_EXISTS = 6,
  MLC_PERMISSION_DENIED = 7,
  MLC_RESOURCE_EXHAUSTED = 8, /* quota or rate limit */
  MLC_FAILED_PRECONDITION = 9,
  MLC_ABORTED = 10,
  MLC_OUT_OF_RANGE = 11,
  MLC_UNIMPLEMENTED = 12,
  MLC_INTERNAL = 13,
  MLC_UNAVAILABLE = 14,
  MLC_DATA_LOSS = 15,
  MLC_UNAUTHENTICATED = 16
} mlc_status;

typedef struct mlc_client mlc_client;
typedef struct mlc_error mlc_error;

/* The library version ("0.1.0"); static storage, never freed. */
MLC_API const char* mlc_version(void);

/* The canonical name of a status ("NOT_FOUND"); static storage. */
MLC_API const char* mlc_status_name(mlc_status status);

/* The code of an error (MLC_OK for NULL). */
MLC_API mlc_status mlc_error_code(const mlc_error* err);

/* The message of an error, valid until mlc_error_free ("" for NULL). */
MLC_API const char* mlc_error_message(const mlc_error* err);

/* Frees an error and sets *err to NULL; NULL and *err == NULL are accepted. */
MLC_API void mlc_error_free(mlc_error** err);

/* Frees a string returned by this library and sets *str to NULL. */
MLC_API void mlc_string_free(char** str);

/*
 * Opens a client. `backend_uri` (e.g. "local:///var/lib/mlcore") and `project` may be NULL or ""
 * to resolve them from MLC_BACKEND / MLC_PROJECT, the config file, then the default.
 * Errors: MLC_INVALID_ARGUMENT (bad URI, unknown scheme, malformed config), MLC_NOT_FOUND (unknown
 * context), MLC_PERMISSION_DENIED / MLC_FAILED_PRECONDITION (unusable state directory).
 */
MLC_API mlc_status mlc_client_open(const char* backend_uri, const char* project, mlc_client** out,
                                   mlc_error** err);

/* Closes a client and sets *client to NULL; NULL is accepted. */
MLC_API void mlc_client_close(mlc_client** client);

/* The client's default project (may be ""), as a new string. */
MLC_API mlc_status mlc_client_project(mlc_client* client, char** out, mlc_error** err);

/*
 * Calls any API method by name ("mlcore.v1.ProjectService/ListProjects" or
 * "ProjectService/ListProjects") with the proto3 JSON of its request (NULL or "" = empty request);
 * *response_json receives the JSON of the response.
 */
MLC_API mlc_status mlc_invoke(mlc_client* client, const char* method, const char* request_json,
                              char** response_json, mlc_error** err);

/* Creates a project from the JSON of an mlcore.v1.Project; *project_json gets the stored one. */
MLC_API mlc_status mlc_project_create(mlc_client* client, const char* project_json,
                                      char** out_project_json, mlc_error** err);

/* Describes a project by name. Errors: MLC_NOT_FOUND, MLC_INVALID_ARGUMENT. */
MLC_API mlc_status mlc_project_get(mlc_client* client, const char* name, char** out_project_json,
                                   mlc_error** err);

/* Lists all projects: *out_json is the JSON of an mlcore.v1.ListProjectsResponse (every page). */
MLC_API mlc_status mlc_project_list(mlc_client* client, char** out_json, mlc_error** err);

/* Deletes an empty project. Errors: MLC_NOT_FOUND, MLC_FAILED_PRECONDITION. */
MLC_API mlc_status mlc_project_delete(mlc_client* client, const char* name, mlc_error** err);

#ifdef __cplusplus
}
#endif

#endif /* MLCORE_H_ */
