// Following a run's metrics (TrackingService.WatchMetrics): the Client call, and the polling
// implementation every backend with a tracking store inherits.
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "mlcore/tracking.h"

namespace mlcore {
namespace {

// How often the default implementation looks for new points.
constexpr auto kPollInterval = std::chrono::milliseconds(250);
constexpr auto kIdleStep = std::chrono::milliseconds(50);

}  // namespace

Status Backend::WatchMetrics(const v1::WatchMetricsRequest& request,
                             const std::function<bool(const v1::WatchMetricsResponse&)>& sink,
                             const std::function<bool()>& keep_watching) {
  const std::set<std::string> wanted(request.keys().begin(), request.keys().end());
  // The highest step sent per key: points above it are new.
  std::map<std::string, int64_t> sent;
  bool first = true;
  v1::GetRunRequest get;
  get.set_id(request.run_id());
  while (true) {
    MLC_ASSIGN_OR_RETURN(v1::Run run, GetRun(get));
    const bool ended = IsFinalRunStatus(run.status());
    for (const v1::MetricSummary& summary : run.metrics()) {
      if (!wanted.empty() && wanted.count(summary.key()) == 0) continue;
      auto [at, added] = sent.try_emplace(summary.key(), std::numeric_limits<int64_t>::min());
      if (added) {
        if (request.has_after_step()) {
          at->second = request.after_step();
        } else if (first) {
          at->second = summary.latest_step();  // only what is logged after the call
        }
      }
      if (summary.count() == 0 || summary.latest_step() <= at->second) continue;
      v1::GetMetricHistoryRequest history;
      history.set_run_id(request.run_id());
      history.set_key(summary.key());
      if (at->second != std::numeric_limits<int64_t>::min()) history.set_min_step(at->second + 1);
      while (true) {
        MLC_ASSIGN_OR_RETURN(v1::GetMetricHistoryResponse page, GetMetricHistory(history));
        if (page.series().steps_size() > 0) {
          v1::WatchMetricsResponse out;
          *out.mutable_series() = std::move(*page.mutable_series());
          out.mutable_series()->set_key(summary.key());
          for (int64_t step : out.series().steps()) at->second = std::max(at->second, step);
          if (!sink(out)) return Status::Ok();
        }
        if (page.next_page_token().empty()) break;
        history.set_page_token(page.next_page_token());
      }
    }
    first = false;
    if (ended) {
      v1::WatchMetricsResponse last;
      last.set_run_status(run.status());
      (void)sink(last);
      return Status::Ok();
    }
    for (auto waited = std::chrono::milliseconds(0); waited < kPollInterval; waited += kIdleStep) {
      if (!keep_watching()) return Status::Ok();
      std::this_thread::sleep_for(kIdleStep);
    }
  }
}

Status Client::WatchMetrics(const v1::WatchMetricsRequest& request,
                            const std::function<bool(const v1::WatchMetricsResponse&)>& sink,
                            const std::function<bool()>& keep_watching) {
  if (request.run_id().empty()) {
    return InvalidArgumentError("WatchMetrics needs the run to follow (run_id)");
  }
  return backend_->WatchMetrics(request, sink, keep_watching);
}

}  // namespace mlcore
