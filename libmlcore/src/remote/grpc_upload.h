// Uploading a file or directory tree to an `mlc server`'s artifact store (the grpc:// backend's
// UploadTree), in as few reads of the local files and as few bytes on the wire as it can:
//
// - A file whose digest the client's digest cache (artifacts/digest_cache.h) knows is not read to
//   be hashed. Those digests, and those of small files (under kSpeculativeMinBytes, hashed here
//   first), are asked about with FindMissingBlobs in batches of 10,000; only missing blobs are
//   sent, each once, with their expected digest (the server verifies it).
// - A larger file the cache does not know is sent at once with an empty expected digest
//   ("speculatively"), hashed here in the same read pass; the server computes the digest too and
//   the two must agree (else DATA_LOSS). Content the server already has is then sent again, which
//   is the price of reading such a file only once; the server just adds a reference.
// - Files over one chunk are read and hashed on a thread of their own, a few chunks ahead of the
//   stream, so reading and hashing overlap sending.
// - A cached digest the server refuses (DATA_LOSS: the file changed without its stat showing it)
//   is forgotten and the file is sent again speculatively, so a wrong cache entry never fails an
//   upload. A file that changes while it is read (size, mtime or ctime differ afterwards) is not
//   published: DATA_LOSS, upload again.
// - Progress counts the bytes sent against the bytes to send; returning false cancels the upload
//   (CANCELLED; blobs already finished stay, unreferenced, for the server's GC).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "artifacts/blob_store.h"
#include "artifacts/digest_cache.h"
#include "mlcore/status.h"
#include "mlcore/v1/artifacts.grpc.pb.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace mlcore::remote {

// Files at least this large are sent while being hashed when their digest is not cached.
inline constexpr uint64_t kSpeculativeMinBytes = uint64_t{4} << 20;

// What an upload did (for tests and benchmarks).
struct UploadStats {
  int64_t files = 0;
  int64_t files_cached = 0;       // digest from the digest cache, not read to be hashed
  int64_t files_hashed = 0;       // hashed before asking the server (small files)
  int64_t files_speculative = 0;  // sent while being hashed
  int64_t blobs_sent = 0;         // UploadBlob streams completed, speculative ones included
  uint64_t bytes_read = 0;        // read from local files, every pass counted
  uint64_t bytes_sent = 0;        // blob bytes put on the wire
};

// How to reach the server's ArtifactService.
struct UploadChannel {
  v1::ArtifactService::StubInterface* stub = nullptr;  // borrowed; outlives the upload
  // Adds metadata (and, when `unary`, the deadline) to a call's context.
  std::function<void(grpc::ClientContext*, bool unary)> prepare;
  std::string target;  // names the server in transport errors
};

// Uploads `local_path` (a regular file, recorded under its own name, or a directory) for
// `project` and records its manifest (PutManifest). `cache` supplies and receives digests.
// Errors: INVALID_ARGUMENT (path neither a file nor a directory, and the tree rules of
// artifacts/manifest.h), NOT_FOUND, DATA_LOSS (a file changed while it was uploaded; the server's
// digest differs from ours), CANCELLED, RESOURCE_EXHAUSTED, UNAVAILABLE, and the server's others.
Result<v1::Manifest> UploadTreeToServer(const UploadChannel& channel, const std::string& project,
                                        const std::string& local_path,
                                        const artifacts::ProgressFn& progress,
                                        artifacts::DigestCache& cache,
                                        UploadStats* stats = nullptr);

}  // namespace mlcore::remote
