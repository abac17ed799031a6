// ExecJob and PortForward over gRPC: each session is one bidirectional call. The first request
// starts it; the server answers with an empty message once the command runs (the connection is
// open), so start errors (NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE) come back from Start*.
// A thread per session reads responses into a small bounded queue, so Read can poll its
// keep_going while the call is idle and a slow reader slows the stream down.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "mlcore/attach.h"
#include "mlcore/status.h"
#include "mlcore/v1/jobs.grpc.pb.h"

namespace mlcore::remote {

// `ctx` is prepared (metadata, no deadline); the session owns it.
Result<std::unique_ptr<ExecSession>> StartRemoteExec(v1::JobService::Stub* stub,
                                                     std::unique_ptr<grpc::ClientContext> ctx,
                                                     const v1::ExecJobRequest& first,
                                                     const std::string& target);

Result<std::unique_ptr<PortConnection>> StartRemotePortForward(
    v1::JobService::Stub* stub, std::unique_ptr<grpc::ClientContext> ctx,
    const v1::PortForwardRequest& first, const std::string& target);

}  // namespace mlcore::remote
