/* The main job from C through the C ABI: create a project and list projects.
 * Build: cc examples/quickstart.c -Ilibmlcore/include -Lbuild/dev/libmlcore -lmlcore */
#include <stdio.h>

#include "mlcore.h"

int main(void) {
  mlc_client* client = NULL;
  mlc_error* err = NULL;
  char* json = NULL;
  if (mlc_client_open(NULL, NULL, &client, &err) != MLC_OK) {
    fprintf(stderr, "mlc_client_open: %s\n", mlc_error_message(err));
    mlc_error_free(&err);
    return 1;
  }
  mlc_status st = mlc_project_create(client, "{\"name\":\"demo-c\"}", &json, &err);
  if (st != MLC_OK && st != MLC_ALREADY_EXISTS) {
    fprintf(stderr, "mlc_project_create: %s\n", mlc_error_message(err));
    mlc_error_free(&err);
    mlc_client_close(&client);
    return 1;
  }
  mlc_error_free(&err);
  mlc_string_free(&json);
  if (mlc_project_list(client, &json, &err) != MLC_OK) {
    fprintf(stderr, "mlc_project_list: %s\n", mlc_error_message(err));
    mlc_error_free(&err);
    mlc_client_close(&client);
    return 1;
  }
  printf("%s\n", json);
  mlc_string_free(&json);
  mlc_client_close(&client);
  return 0;
}
