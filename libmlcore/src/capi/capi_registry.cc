// The C ABI's streaming call and model-registry helpers (mlcore.h).
#include <string>

#include "capi/capi_internal.h"
#include "mlcore/v1/registry.pb.h"

using namespace mlc_capi;  // NOLINT(google-build-using-namespace): this file is the ABI

extern "C" {

mlc_status mlc_invoke_stream(mlc_client* client, const char* method, const char* request_json,
                             mlc_stream_callback callback, void* user_data, mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckClient(client, err); s != MLC_OK) return s;
    if (method == nullptr) return Fail(mlcore::InvalidArgumentError("method is NULL"), err);
    if (callback == nullptr) return Fail(mlcore::InvalidArgumentError("callback is NULL"), err);
    mlcore::Status status = mlcore::InvokeStreamJson(
        *client->client, method, Str(request_json),
        [&](const std::string& json) { return callback(json.c_str(), user_data) != 0; },
        [&] { return callback(nullptr, user_data) != 0; });
    if (!status.ok()) return Fail(status, err);
    return MLC_OK;
  });
}

mlc_status mlc_model_resolve(mlc_client* client, const char* uri, char** out_version_json,
                             mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_version_json, err); s != MLC_OK) return s;
    mlcore::v1::ResolveModelUriRequest request;
    request.set_uri(Str(uri));
    return ReturnResult(client->client->ResolveModelUri(request), out_version_json, err);
  });
}

mlc_status mlc_model_register(mlc_client* client, const char* request_json, char** out_version_json,
                              mlc_error** err) {
  return Guard(err, [&]() -> mlc_status {
    if (auto s = CheckHandle(client, out_version_json, err); s != MLC_OK) return s;
    mlcore::v1::CreateModelVersionRequest request;
    mlcore::Status parsed = ParseParam(request_json, "request_json", &request);
    if (!parsed.ok()) return Fail(parsed, err);
    return ReturnResult(client->client->RegisterModelVersion(request), out_version_json, err);
  });
}

}  // extern "C"
