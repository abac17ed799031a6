/* The C ABI from plain C: open a client, create and list projects, get an error with its code and
 * message, free everything, close. Exits non-zero on the first failed check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlcore.h"

int main(void) {
  char root[4096];
  char uri[4200];
  char config[4200];
  mlc_client* client = NULL;
  mlc_error* err = NULL;
  char* json = NULL;
  mlc_status st;

  if (make_test_root("capi", root, sizeof root) != 0) return 2;
  snprintf(uri, sizeof uri, "local://%s/state", root);
  snprintf(config, sizeof config, "%s/config.yaml", root);
  setenv("MLC_CONFIG", config, 1);
  unsetenv("MLC_BACKEND");
  unsetenv("MLC_PROJECT");
  unsetenv("MLC_CONTEXT");

  CHECK(strlen(mlc_version()) > 0);
  CHECK(strcmp(mlc_status_name(MLC_NOT_FOUND), "NOT_FOUND") == 0);

  /* An unknown scheme fails with INVALID_ARGUMENT and a message listing the known ones. */
  st = mlc_client_open("s3://bucket", NULL, &client, &err);
  CHECK(st == MLC_INVALID_ARGUMENT);
  CHECK(client == NULL);
  CHECK(mlc_error_code(err) == MLC_INVALID_ARGUMENT);
  CHECK(strstr(mlc_error_message(err), "known schemes: ") != NULL);
  CHECK(strstr(mlc_error_message(err), "local") != NULL);
  mlc_error_free(&err);
  CHECK(err == NULL);
  mlc_error_free(&err); /* double free is harmless */

  st = mlc_client_open(uri, "ml-research", &client, &err);
  CHECK(st == MLC_OK);
  CHECK(err == NULL);
  if (client == NULL) {
    fprintf(stderr, "cannot open client: %s\n", mlc_error_message(err));
    return 1;
  }

  st = mlc_client_project(client, &json, &err);
  CHECK(st == MLC_OK && strcmp(json, "ml-research") == 0);
  mlc_string_free(&json);
  CHECK(json == NULL);

  st = mlc_project_create(client, "{\"name\":\"ml-research\",\"description\":\"from C\"}", &json,
                          &err);
  CHECK(st == MLC_OK);
  CHECK(json != NULL && strstr(json, "\"name\":\"ml-research\"") != NULL);
  mlc_string_free(&json);

  st = mlc_project_create(client, "{\"name\":\"ml-research\"}", &json, &err);
  CHECK(st == MLC_ALREADY_EXISTS);
  CHECK(json == NULL);
  CHECK(strstr(mlc_error_message(err), "already exists") != NULL);
  mlc_error_free(&err);

  st = mlc_project_create(client, "{\"name\":\"x\",\"bogus\":1}", &json, &err);
  CHECK(st == MLC_INVALID_ARGUMENT);
  CHECK(strstr(mlc_error_message(err), "bogus") != NULL);
  mlc_error_free(&err);

  st = mlc_project_list(client, &json, &err);
  CHECK(st == MLC_OK);
  CHECK(json != NULL && strstr(json, "from C") != NULL);
  mlc_string_free(&json);

  st = mlc_project_get(client, "absent", &json, &err);
  CHECK(st == MLC_NOT_FOUND);
  CHECK(mlc_error_code(err) == MLC_NOT_FOUND);
  CHECK(strstr(mlc_error_message(err), "\"absent\" does not exist") != NULL);
  mlc_error_free(&err);

  st = mlc_invoke(client, "ProjectService/GetProject", "{\"name\":\"ml-research\"}", &json, &err);
  CHECK(st == MLC_OK && strstr(json, "from C") != NULL);
  mlc_string_free(&json);

  st = mlc_invoke(client, "PipelineService/RunPipeline", "{}", &json, &err);
  CHECK(st == MLC_INVALID_ARGUMENT);
  CHECK(strstr(mlc_error_message(err), "no pipeline given") != NULL);
  mlc_error_free(&err);
  st = mlc_invoke(client, "PipelineService/ListPipelineRuns", "{}", &json, &err);
  CHECK(st == MLC_OK);
  mlc_string_free(&json);

  /* Errors are optional: passing NULL for err still returns the code. */
  CHECK(mlc_project_delete(client, "absent", NULL) == MLC_NOT_FOUND);
  CHECK(mlc_project_delete(client, "ml-research", &err) == MLC_OK);
  CHECK(mlc_project_get(client, "ml-research", &json, NULL) == MLC_NOT_FOUND);

  /* Bad handles and out-pointers are errors, not crashes. */
  CHECK(mlc_project_list(NULL, &json, &err) == MLC_INVALID_ARGUMENT);
  mlc_error_free(&err);
  CHECK(mlc_project_list(client, NULL, NULL) == MLC_INVALID_ARGUMENT);

  mlc_client_close(&client);
  CHECK(client == NULL);
  mlc_client_close(&client);

  {
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", root);
    if (system(rm) != 0) fprintf(stderr, "warning: could not remove %s\n", root);
  }
  printf("capi_test: %d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
