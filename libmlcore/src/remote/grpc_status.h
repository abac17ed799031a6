// Translating between mlcore's Status and gRPC's, in one place for the client and the server.
// mlcore's codes are gRPC's canonical codes, so the mapping is one-to-one; what this adds is
// messages that name the server when the transport fails.
#pragma once

#include <string_view>

#include <grpcpp/support/status.h>

#include "mlcore/status.h"

namespace mlcore::remote {

// A call's gRPC status as a Status. Transport failures (UNAVAILABLE, and DEADLINE_EXCEEDED with
// no server message) name `target` ("grpc://127.0.0.1:7070") and say what to check.
Status FromGrpc(const grpc::Status& status, std::string_view target);

// A Status as the gRPC status a server returns.
grpc::Status ToGrpc(const Status& status);

}  // namespace mlcore::remote
