#include "local/log_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <sys/stat.h>

#include "util/fs.h"

namespace mlcore::local {
namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" into Unix microseconds.
bool ParseLogTime(std::string_view text, int64_t* out) {
  if (text.size() != 27 || text[10] != 'T' || text[19] != '.' || text[26] != 'Z') return false;
  int year, month, day, hour, minute, second, micros;
  if (std::sscanf(std::string(text).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &year, &month, &day,
                  &hour, &minute, &second, &micros) != 7) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  *out = static_cast<int64_t>(timegm(&tm)) * 1000000 + micros;
  return true;
}

class Matcher {
 public:
  static Result<Matcher> Make(const LogQuery& query) {
    Matcher m(query);
    if (!query.grep.empty()) {
      try {
        m.regex_.emplace(query.grep, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error& e) {
        return InvalidArgumentError("invalid --grep pattern \"" + query.grep + "\": " + e.what());
      }
    }
    return m;
  }
  bool operator()(const v1::LogLine& line) const {
    if (query_.since_us) {
      int64_t t = line.time().seconds() * 1000000 + line.time().nanos() / 1000;
      if (t < *query_.since_us) return false;
    }
    if (!query_.streams.empty() && query_.streams.count(line.stream()) == 0) return false;
    if (regex_ && !std::regex_search(line.text(), *regex_)) return false;
    return true;
  }

 private:
  explicit Matcher(const LogQuery& query) : query_(query) {}
  LogQuery query_;
  std::optional<std::regex> regex_;
};

// Calls `on_line` for each complete line of `path` from `offset`; returns the offset past the
// last complete line.
Result<int64_t> ScanLines(const std::string& path, int64_t offset,
                          const std::function<bool(std::string_view)>& on_line) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return offset;
    return util::FromErrno(errno, "cannot read log " + path);
  }
  if (::lseek(fd, offset, SEEK_SET) < 0) {
    int err = errno;
    ::close(fd);
    return util::FromErrno(err, "cannot read log " + path);
  }
  std::string buffer;
  char chunk[1 << 16];
  int64_t consumed = offset;
  bool stop = false;
  while (!stop) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return util::FromErrno(err, "cannot read log " + path);
    }
    if (n == 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    while (!stop) {
      size_t nl = buffer.find('\n', start);
      if (nl == std::string::npos) break;
      stop = !on_line(std::string_view(buffer).substr(start, nl - start));
      consumed += static_cast<int64_t>(nl - start + 1);
      start = nl + 1;
    }
    buffer.erase(0, start);
  }
  ::close(fd);
  return consumed;
}

}  // namespace

std::string FormatLogTime(int64_t unix_us) {
  time_t seconds = static_cast<time_t>(unix_us / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(((unix_us % 1000000) + 1000000) % 1000000));
  return buf;
}

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const std::string& path, int64_t limit_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return util::FromErrno(errno, "cannot open log " + path);
  struct stat st {};
  int64_t size = ::fstat(fd, &st) == 0 ? st.st_size : 0;
  return std::unique_ptr<LogWriter>(new LogWriter(fd, size, limit_bytes));
}

LogWriter::~LogWriter() {
  Flush();
  ::close(fd_);
}

void LogWriter::WriteRecord(char stream, std::string_view text) {
  if (!error_.ok()) {
    dropped_ += static_cast<int64_t>(text.size());
    return;
  }
  std::string record = FormatLogTime(NowUs());
  record += ' ';
  record += stream;
  record += ' ';
  record += text;
  record += '\n';
  if (limit_ > 0 && stream != 'S' && size_ + static_cast<int64_t>(record.size()) > limit_) {
    dropped_ += static_cast<int64_t>(text.size());
    if (!limit_reported_) {
      limit_reported_ = true;
      WriteRecord('S', "log limit of " + std::to_string(limit_) +
                           " bytes reached; further output is dropped (raise the job's log "
                           "limit to keep more)");
    }
    return;
  }
  size_t done = 0;
  while (done < record.size()) {
    ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = util::FromErrno(errno, "cannot write job log");
      dropped_ += static_cast<int64_t>(text.size());
      return;
    }
    done += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(record.size());
}

void LogWriter::Append(v1::LogStream stream, std::string_view bytes) {
  std::string& partial = stream == v1::LOG_STREAM_STDERR ? partial_err_ : partial_out_;
  char tag = stream == v1::LOG_STREAM_STDERR ? 'E' : 'O';
  partial.append(bytes);
  size_t start = 0;
  while (true) {
    size_t nl = partial.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line = std::string_view(partial).substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    WriteRecord(tag, line);
    start = nl + 1;
  }
  partial.erase(0, start);
  while (partial.size() >= kMaxLineBytes) {
    WriteRecord(tag, std::string_view(partial).substr(0, kMaxLineBytes));
    partial.erase(0, kMaxLineBytes);
  }
}

void LogWriter::System(std::string_view text) { WriteRecord('S', text); }

void LogWriter::Flush() {
  if (!partial_out_.empty()) WriteRecord('O', partial_out_);
  if (!partial_err_.empty()) WriteRecord('E', partial_err_);
  partial_out_.clear();
  partial_err_.clear();
}

bool ParseLogRecord(std::string_view line, v1::LogLine* out) {
  // 27 characters of time, a space, the stream letter, then a space before any text.
  if (line.size() < 29 || line[27] != ' ' || (line.size() > 29 && line[29] != ' ')) return false;
  int64_t us = 0;
  if (!ParseLogTime(line.substr(0, 27), &us)) return false;
  char stream = line[28];
  out->mutable_time()->set_seconds(us / 1000000);
  out->mutable_time()->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
  switch (stream) {
    case 'O':
      out->set_stream(v1::LOG_STREAM_STDOUT);
      break;
    case 'E':
      out->set_stream(v1::LOG_STREAM_STDERR);
      break;
    case 'S':
      out->set_stream(v1::LOG_STREAM_SYSTEM);
      break;
    default:
      return false;
  }
  out->set_text(line.size() > 30 ? std::string(line.substr(30)) : std::string());
  return true;
}

Result<int64_t> ReadLogFrom(const std::string& path, int64_t offset, const LogQuery& query,
                            const std::function<bool(const v1::LogLine&)>& sink) {
  MLC_ASSIGN_OR_RETURN(Matcher match, Matcher::Make(query));
  v1::LogLine line;
  return ScanLines(path, offset, [&](std::string_view text) {
    line.Clear();
    if (!ParseLogRecord(text, &line) || !match(line)) return true;
    return sink(line);
  });
}

Result<int64_t> ReadLog(const std::string& path, const LogQuery& query,
                        const std::function<bool(const v1::LogLine&)>& sink) {
  if (query.tail <= 0) return ReadLogFrom(path, 0, query, sink);
  MLC_ASSIGN_OR_RETURN(Matcher match, Matcher::Make(query));
  std::deque<v1::LogLine> last;
  v1::LogLine line;
  MLC_ASSIGN_OR_RETURN(int64_t end, ScanLines(path, 0, [&](std::string_view text) {
                         line.Clear();
                         if (ParseLogRecord(text, &line) && match(line)) {
                           last.push_back(line);
                           if (static_cast<int>(last.size()) > query.tail) last.pop_front();
                         }
                         return true;
                       }));
  for (const auto& l : last) {
    if (!sink(l)) break;
  }
  return end;
}

}  // namespace mlcore::local
