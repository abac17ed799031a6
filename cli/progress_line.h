// A `\r`-updated progress line on stderr for long transfers (artifact uploads and downloads, data
// loads): shown only when stderr is a terminal, and only once the transfer has taken over a
// second, so scripts and quick calls print nothing extra.
#pragma once

#include <chrono>
#include <string>

#include "mlcore/client.h"

namespace mlc {

class ProgressLine {
 public:
  // `verb` starts the line: "uploading 12.0 MiB / 1.0 GiB (1%)".
  explicit ProgressLine(std::string verb);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // The callback to hand to the core; it never cancels. Borrows this object.
  mlcore::Client::ProgressFn Fn();

  // Ends the line (a newline) when one was shown; idempotent.
  void Finish();

 private:
  void Update(uint64_t done, uint64_t total);

  std::string verb_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace mlc
