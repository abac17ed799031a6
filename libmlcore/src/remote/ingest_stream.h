// The grpc:// backend's metric ingest: one long-lived TrackingService.IngestMetrics stream (a
// bidirectional stream that acknowledges each batch once it is durable on the server), shared by
// every RunLogger of the backend.
//
// Send() writes its batches onto the open stream (opening one when there is none) and waits for
// their acknowledgements, which the server sends in order; a reader thread per stream matches
// them to the waiting batches. When the stream breaks (server killed or restarted, connection
// lost, no acknowledgement within the timeout), every batch not acknowledged is answered
// UNAVAILABLE: the caller resends it (its batch id makes that safe) or spools it; the next Send
// opens a new stream. Batches a server refuses (bad run, rate limit, ...) are answered with that
// error and the stream goes on.
//
// Thread safety: Send may be called from several threads at once; their batches interleave on the
// one stream and each caller gets the acknowledgements of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "mlcore/status.h"
#include "mlcore/v1/tracking.grpc.pb.h"

namespace mlcore::remote {

class IngestStream {
 public:
  // `stub` is borrowed and must outlive this object; `prepare` adds the call's metadata (it must
  // not set a deadline: the stream lives as long as the backend). `ack_timeout`: longest wait for
  // the next acknowledgement while batches are outstanding before the stream is given up.
  IngestStream(v1::TrackingService::Stub* stub, std::function<void(grpc::ClientContext*)> prepare,
               std::string target, std::chrono::milliseconds ack_timeout);
  // Half-closes the open stream and waits for the server to end it.
  ~IngestStream();
  IngestStream(const IngestStream&) = delete;
  IngestStream& operator=(const IngestStream&) = delete;

  // Sends `batches` and waits for their answers (one per batch, in order). std::nullopt when the
  // server does not serve IngestMetrics (older than this rpc): send them with LogBatch instead;
  // every later call says the same without trying again.
  std::optional<std::vector<Result<v1::LogBatchResponse>>> Send(
      const std::vector<v1::MetricBatch>& batches);

 private:
  struct Waiting {
    std::string batch_id;
    std::optional<Result<v1::LogBatchResponse>> answer;
  };
  // One IngestMetrics call.
  struct Connection {
    grpc::ClientContext ctx;
    std::unique_ptr<
        grpc::ClientReaderWriter<v1::LogMetricsStreamRequest, v1::IngestMetricsResponse>>
        rw;
    std::thread reader;
    std::deque<std::shared_ptr<Waiting>> waiting;  // written, not yet answered (guarded by mu_)
    bool broken = false;                           // no more writes (guarded by mu_)
    uint64_t answers = 0;                          // acknowledgements received (guarded by mu_)
    bool ended = false;  // the reader has the call's status and answered everything (mu_)
  };

  std::shared_ptr<Connection> OpenLocked();
  void ReadLoop(const std::shared_ptr<Connection>& conn);
  void Close(const std::shared_ptr<Connection>& conn);

  v1::TrackingService::Stub* stub_;
  std::function<void(grpc::ClientContext*)> prepare_;
  const std::string target_;
  const std::chrono::milliseconds ack_timeout_;

  std::mutex write_mu_;  // one writer at a time; held while opening and closing streams
  std::mutex mu_;
  std::condition_variable answered_;
  std::shared_ptr<Connection> conn_;  // the open stream, or null (guarded by write_mu_)
  std::vector<std::shared_ptr<Connection>> retired_;  // broken, reader still to be joined
  bool unimplemented_ = false;                        // guarded by mu_
};

}  // namespace mlcore::remote
