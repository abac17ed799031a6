// Shared pieces of the benchmarks: repeated timing with median/min/max and the one-JSON-line
// output format of /work/shared/BENCHMARKS.md.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mlcore::bench {

struct Stats {
  double median = 0, min = 0, max = 0;
  int runs = 0;
};

// Median, min and max of `values` (not empty).
Stats Summarize(std::vector<double> values);

// Milliseconds `fn` takes.
double TimeMs(const std::function<void()>& fn);

// One measurement line. `params` values are emitted as JSON numbers when they parse as numbers,
// else as strings.
struct Line {
  std::string bench;
  std::string unit;
  double value = 0;
  std::string peer;  // empty = no peer (omitted with peer_value and ratio)
  double peer_value = 0;
  double ratio = 0;  // how many times better than the peer (> 1 is better)
  std::string target;
  bool met = false;
  int runs = 0;
  std::string stat = "median";
  double min = 0, max = 0;
  std::map<std::string, std::string> params;
  std::map<std::string, double> extra;  // additional numeric fields
};

// Prints the line as one JSON object on stdout and flushes.
void Emit(const Line& line);

// Flushes the filesystem holding `dir` (syncfs), so a timed run never pays for an earlier run's
// writeback. It also waits for every other writer of that filesystem: skip it in --tiny runs.
void SyncFs(const std::string& dir);

}  // namespace mlcore::bench
