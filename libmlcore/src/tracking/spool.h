// The offline spool: one append-only file per run holding SpoolRecords (tracking.proto) that have
// not reached the backend. Each record is framed as uint32 length, uint32 CRC-32, payload, and
// fsynced before Append returns, so a crash loses nothing appended; a torn last record (crash
// mid-write) is detected by its length or CRC and ignored.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mlcore/status.h"
#include "mlcore/v1/tracking.pb.h"

namespace mlcore::tracking {

class SpoolWriter {
 public:
  // Opens (creating) `dir`/`run_id`.spool for appending. Errors: PERMISSION_DENIED, NOT_FOUND,
  // RESOURCE_EXHAUSTED (disk full) with the path.
  static Result<std::unique_ptr<SpoolWriter>> Open(const std::string& dir,
                                                   const std::string& run_id);
  ~SpoolWriter();
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;
  // Appends and fsyncs one record.
  Status Append(const v1::SpoolRecord& record);
  const std::string& path() const { return path_; }

 private:
  SpoolWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

struct SpoolContents {
  std::vector<v1::SpoolRecord> records;
  bool torn_tail = false;  // the file ends with an incomplete or corrupt record (ignored)
};

// Reads every complete record of a spool file. Errors: NOT_FOUND, PERMISSION_DENIED.
Result<SpoolContents> ReadSpool(const std::string& path);

// Spool files (*.spool) in `dir`, sorted; empty when the directory does not exist.
std::vector<std::string> ListSpoolFiles(const std::string& dir);

}  // namespace mlcore::tracking
