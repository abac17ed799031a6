// Job output logs: one text file per job, one record per line:
//
//   2026-11-22T14:48:02.123456Z O text of the line
//
// (RFC 3339 UTC time with microseconds, the stream as O = stdout, E = stderr, S = system message
// from mlcore, a space, the text). Lines longer than kMaxLineBytes are split. The writer runs in
// the job's supervisor; readers (logs, logs --follow, download) may run in any process at the
// same time, because records are appended whole with O_APPEND.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>

#include "mlcore/status.h"
#include "mlcore/v1/jobs.pb.h"

namespace mlcore::local {

inline constexpr size_t kMaxLineBytes = size_t{64} * 1024;

// Appends records; buffers partial lines per stream until a newline (or Flush()).
// Not thread-safe: one writer per file.
class LogWriter {
 public:
  // Opens (creating) `path` for appending. `limit_bytes` caps the file size: past it, output is
  // dropped and counted, and one system record says so. 0 = no cap.
  static Result<std::unique_ptr<LogWriter>> Open(const std::string& path, int64_t limit_bytes);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Adds raw output bytes of `stream`; complete lines are written at once.
  void Append(v1::LogStream stream, std::string_view bytes);
  // Writes a system record (S).
  void System(std::string_view text);
  // Writes any buffered partial lines.
  void Flush();

  int64_t bytes_written() const { return size_; }
  int64_t bytes_dropped() const { return dropped_; }
  // The first write error (e.g. disk full), if any; writing stops after it.
  const Status& error() const { return error_; }

 private:
  LogWriter(int fd, int64_t size, int64_t limit) : fd_(fd), size_(size), limit_(limit) {}
  void WriteRecord(char stream, std::string_view text);

  int fd_;
  int64_t size_;
  int64_t limit_;
  int64_t dropped_ = 0;
  bool limit_reported_ = false;
  Status error_;
  std::string partial_out_;
  std::string partial_err_;
};

// Which records a reader wants.
struct LogQuery {
  std::optional<int64_t> since_us;  // only records at or after this time (Unix microseconds)
  int tail = 0;                     // only the last N matching records; 0 = all
  std::string grep;                 // ECMAScript regex the text must match; empty = all
  std::set<v1::LogStream> streams;  // only these streams; empty = all (system lines included)
};

// Parses one record line; false for a malformed line.
bool ParseLogRecord(std::string_view line, v1::LogLine* out);

// Reads the records of `path` matching `query`, calling `sink` for each in order; `sink`
// returns false to stop. Returns the byte offset just past the last complete line read, so a
// follower can continue from there with ReadLogFrom. A missing file reads as empty.
// Errors: INVALID_ARGUMENT (bad regex), file errors.
Result<int64_t> ReadLog(const std::string& path, const LogQuery& query,
                        const std::function<bool(const v1::LogLine&)>& sink);

// Reads complete records appended at or after `offset` (no tail), returning the new offset.
Result<int64_t> ReadLogFrom(const std::string& path, int64_t offset, const LogQuery& query,
                            const std::function<bool(const v1::LogLine&)>& sink);

// "2026-11-22T14:48:02.123456Z" for Unix microseconds.
std::string FormatLogTime(int64_t unix_us);

}  // namespace mlcore::local
