// How mlc shows jobs: tables, descriptions, log lines; and local-backend file access for
// download/exec.
#pragma once

#include <string>

#include "mlcore/client.h"
#include "mlcore/v1/jobs.pb.h"

namespace mlc {

// "O", "E", "S" for stdout, stderr, system lines.
const char* StreamTag(mlcore::v1::LogStream stream);

// Prints one log line: the text (stderr lines go to stderr), optionally with its time; system
// lines only when `show_system`, prefixed with "[mlcore]".
void PrintLogLine(const mlcore::v1::LogLine& line, bool timestamps, bool show_system);

// One compact JSON object per line (for -o json on streams).
void PrintJsonLine(const mlcore::v1::LogLine& line);

// NAME STATE RESOURCES QOS AGE UNTIL-DEADLINE USER ID (and PROJECT with `show_project`).
void PrintJobTable(const mlcore::v1::ListJobsResponse& jobs, bool show_project);

// A human-readable description: identity, state and reason, resources, usage, events.
void PrintJobDescription(const mlcore::v1::Job& job);

// The job's directory in a local:// state directory. Errors: FAILED_PRECONDITION on backends
// whose jobs do not run on this machine.
mlcore::Result<std::string> LocalJobDir(mlcore::Client& client, const mlcore::v1::Job& job);

// Copies a file or directory tree. Errors: NOT_FOUND, PERMISSION_DENIED, ...
mlcore::Status CopyTree(const std::string& from, const std::string& to);

}  // namespace mlc
