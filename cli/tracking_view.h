// How mlc shows experiment tracking: run statuses and times, numbers, metric summaries, series
// (table, CSV, JSON), and filter errors pointing at their column. Used by cmd_run.cc and
// cmd_tracking.cc.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "mlcore/client.h"
#include "mlcore/status.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlc {

// "RUNNING", "FINISHED", ... for RUN_STATUS_RUNNING, ...
std::string RunStatusName(mlcore::v1::RunStatus status);

// "finished" / "FINISHED" / "run_status_finished" -> RUN_STATUS_FINISHED. Errors:
// INVALID_ARGUMENT naming the accepted values.
mlcore::Result<mlcore::v1::RunStatus> ParseRunStatus(const std::string& text);

// "3m ago"; "-" for an unset time.
std::string Ago(const google::protobuf::Timestamp& time);

// "42s", "5m12s", "2h05m", "3d4h": a whole number of seconds, two units at most.
std::string ShortDuration(int64_t seconds);

// How long a run ran: end - start, or now - start while it is active; "-" without a start.
std::string RunDuration(const mlcore::v1::Run& run);

// `name (id)`, or just the id for a run without a name.
std::string RunLabel(const mlcore::v1::Run& run);

// The shortest text that parses back to exactly `value` ("0.1", "1e-07", "nan", "-inf").
void AppendDouble(std::string* out, double value);
std::string ExactDouble(double value);

// Six significant digits, for overviews ("0.693147", "1.5e+06").
std::string ShortDouble(double value);

// "2026-11-22T17:13:44.548900Z" (always six fractional digits, UTC).
void AppendIsoMicros(std::string* out, int64_t unix_micros);

// "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB".
std::string HumanBytes(int64_t bytes);

// Parses a byte size: "10Gi", "512Mi", "1G", "1000" (bytes), "0" or "unlimited" (0). Errors:
// INVALID_ARGUMENT naming the accepted forms.
mlcore::Result<int64_t> ParseByteSize(const std::string& text);

// Prints rows as an aligned table indented by `indent` spaces, with `header` first unless empty;
// lines carry no trailing spaces.
void PrintIndentedTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows, int indent);

// KEY, LATEST, STEP, MIN, MAX, COUNT of every metric of `run` (system/ metrics too).
void PrintMetricSummaryTable(const mlcore::v1::Run& run, int indent = 0);

// Reads a metric's history: every page (following next_page_token) when not downsampled.
mlcore::Result<mlcore::v1::GetMetricHistoryResponse> ReadMetricHistory(
    mlcore::Client& client, const mlcore::v1::GetMetricHistoryRequest& request);

// `step,value,time` then one line per point (time as ISO 8601 with microseconds), written in large
// buffered chunks. Returns false when writing failed.
bool WriteSeriesCsv(const mlcore::v1::MetricSeries& series, std::FILE* out);

// STEP, VALUE, TIME as an aligned table, in large buffered chunks.
bool WriteSeriesTable(const mlcore::v1::MetricSeries& series, std::FILE* out);

// When `status` is a filter or order-by parse error ("filter column 14: ..."), prints it like
// main() does and then the offending text with a caret under the column, sets the command's exit
// code and returns OK; otherwise returns `status` unchanged.
mlcore::Status ReportQueryError(const mlcore::Status& status, const std::string& filter,
                                const std::vector<std::string>& order_by);

// The id of experiment `name_or_id` of the client's project (looked up by name first). Errors:
// NOT_FOUND naming it.
mlcore::Result<std::string> ResolveExperimentId(mlcore::Client& client,
                                                const std::string& name_or_id);

// Names of the experiments of `project` (empty: the client's), by id.
mlcore::Result<std::map<std::string, std::string>> ExperimentNames(mlcore::Client& client,
                                                                   const std::string& project = {});

// Splits "k=v" (for --tag and --param). Errors: INVALID_ARGUMENT naming `what`.
mlcore::Status SplitKeyValue(const std::string& text, const char* what, std::string* key,
                             std::string* value);

}  // namespace mlc
