#include "progress_line.h"

#include <unistd.h>

#include <iostream>

#include "tracking_view.h"

namespace mlc {

ProgressLine::ProgressLine(std::string verb)
    : verb_(std::move(verb)),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

ProgressLine::~ProgressLine() { Finish(); }

mlcore::Client::ProgressFn ProgressLine::Fn() {
  return [this](uint64_t done, uint64_t total) {
    Update(done, total);
    return true;
  };
}

void ProgressLine::Finish() {
  if (shown_) std::cerr << "\n" << std::flush;
  shown_ = false;
}

void ProgressLine::Update(uint64_t done, uint64_t total) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1)) return;
  if (shown_ && done != total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  shown_ = true;
  std::string line = "\r" + verb_ + " " + HumanBytes(static_cast<int64_t>(done)) + " / " +
                     HumanBytes(static_cast<int64_t>(total));
  if (total > 0) line += " (" + std::to_string(done * 100 / total) + "%)";
  std::cerr << line << "\x1b[K" << std::flush;
}

}  // namespace mlc
