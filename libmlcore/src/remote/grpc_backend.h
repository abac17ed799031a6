// The remote backend: every Backend call as an rpc of proto/mlcore/v1 to an `mlc server`.
//
// URIs: `grpc://HOST:PORT` (TCP), `grpcs://HOST:PORT` (TLS) and `grpc+unix:///abs/path.sock` (a
// Unix socket). Query keys:
//   timeout_ms=N   deadline of each unary call (default 60000; streams have none)
//   token=SECRET   API token sent as `authorization: Bearer` (else $MLC_TOKEN, else the token
//                  `mlc login` stored for the target: mlcore/credentials.h)
//   ca=FILE, cert=FILE, key=FILE, server_name=NAME   (grpcs only) CA bundle to trust (default:
//                  the system's; $MLC_TLS_CA), client certificate and key ($MLC_TLS_CERT,
//                  $MLC_TLS_KEY), and the name to verify instead of HOST
//
// Behaviour on the wire:
// - Idempotent calls (reads, and writes made idempotent by an id: SubmitJob with a request id,
//   LogBatch with its batch id) are retried by gRPC on UNAVAILABLE with exponential backoff
//   (0.2 s doubling to 2 s, 5 attempts), through the channel's service config; the channel
//   reconnects at least every second, so a restarted server is reached within that window.
// - Keep-alive pings every 30 s on idle connections, so a dead peer is noticed.
// - Metric batches of the tracking buffer (LogBatches) go over one long-lived IngestMetrics
//   stream per backend, acknowledged batch by batch once durable (remote/ingest_stream.h).
// - Artifact trees move as blobs (remote/grpc_upload.h): digests of unchanged files come from the
//   client's digest cache (artifacts/digest_cache.h) and are not read again, the server says which
//   blobs it lacks (FindMissingBlobs) and only those are streamed (UploadBlob, 1 MiB chunks, no
//   size ceiling); large files not in the cache are streamed at once, in one read, the server's
//   digest checked by the CRC-32C of what it received. Then the manifest is recorded. Downloads
//   stream each blob (DownloadBlob) into a temporary file, verified against its digest before it is
//   renamed into place.
// - A server that cannot be reached is UNAVAILABLE naming the address; nothing is reported as a
//   generic failure.
//
// Thread safety: safe to call from several threads (gRPC stubs are).
#pragma once

#include <memory>
#include <string>

#include "mlcore/backend.h"
#include "mlcore/status.h"
#include "mlcore/uri.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace mlcore::remote {

// Builds the backend for a grpc:// or grpc+unix:// URI. The connection is made lazily: an
// unreachable server fails the first call, not this one. Errors: INVALID_ARGUMENT (malformed URI
// or query).
Result<std::unique_ptr<Backend>> OpenGrpcBackend(const Uri& uri);

// The backend over a channel made elsewhere (an in-process channel to a server in this process);
// `target` is how it names itself in BackendInfo.
std::unique_ptr<Backend> GrpcBackendOnChannel(const std::string& target,
                                              const std::shared_ptr<grpc::Channel>& channel,
                                              const std::string& token = {});

}  // namespace mlcore::remote
