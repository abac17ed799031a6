#include "remote/grpc_status.h"

#include <string>

namespace mlcore::remote {

Status FromGrpc(const grpc::Status& status, std::string_view target) {
  if (status.ok()) return Status::Ok();
  const auto code = static_cast<StatusCode>(status.error_code());
  std::string message = status.error_message();
  if (code == StatusCode::kUnavailable) {
    return Status(code, "cannot reach the mlcore server at " + std::string(target) + " (" +
                            message + "); check that `mlc server` is running there and the " +
                            "address is right");
  }
  if (code == StatusCode::kDeadlineExceeded &&
      (message.empty() || message == "Deadline Exceeded")) {
    return Status(code, "the mlcore server at " + std::string(target) +
                            " did not answer in time; it may be overloaded or unreachable: "
                            "check that `mlc server` is running there");
  }
  if (code == StatusCode::kUnauthenticated && message.empty()) {
    message = "the server at " + std::string(target) + " needs a token; run `mlc login`";
  }
  return Status(code, std::move(message));
}

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return {static_cast<grpc::StatusCode>(status.code()), status.message()};
}

}  // namespace mlcore::remote
