#include "mlcore/status.h"

#include <array>
#include <cctype>
#include <charconv>

namespace mlcore {
namespace {

constexpr std::array<std::string_view, 17> kCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

}  // namespace

std::string_view StatusCodeName(StatusCode code) {
  auto index = static_cast<size_t>(code);
  return index < kCodeNames.size() ? kCodeNames[index] : "UNKNOWN";
}

std::optional<StatusCode> StatusCodeFromName(std::string_view name) {
  int number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec == std::errc() && end == name.data() + name.size()) {
    if (number >= 0 && number < static_cast<int>(kCodeNames.size())) {
      return static_cast<StatusCode>(number);
    }
    return std::nullopt;
  }
  for (size_t i = 0; i < kCodeNames.size(); ++i) {
    const auto& candidate = kCodeNames[i];
    if (candidate.size() != name.size()) continue;
    bool same = true;
    for (size_t j = 0; j < name.size() && same; ++j) {
      same = std::toupper(static_cast<unsigned char>(name[j])) == candidate[j];
    }
    if (same) return static_cast<StatusCode>(i);
  }
  return std::nullopt;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return {code_, std::move(message)};
}

#define MLC_DEFINE_ERROR_(Name, Code) \
  Status Name(std::string message) { return {StatusCode::Code, std::move(message)}; }
MLC_DEFINE_ERROR_(CancelledError, kCancelled)
MLC_DEFINE_ERROR_(UnknownError, kUnknown)
MLC_DEFINE_ERROR_(InvalidArgumentError, kInvalidArgument)
MLC_DEFINE_ERROR_(DeadlineExceededError, kDeadlineExceeded)
MLC_DEFINE_ERROR_(NotFoundError, kNotFound)
MLC_DEFINE_ERROR_(AlreadyExistsError, kAlreadyExists)
MLC_DEFINE_ERROR_(PermissionDeniedError, kPermissionDenied)
MLC_DEFINE_ERROR_(ResourceExhaustedError, kResourceExhausted)
MLC_DEFINE_ERROR_(FailedPreconditionError, kFailedPrecondition)
MLC_DEFINE_ERROR_(AbortedError, kAborted)
MLC_DEFINE_ERROR_(OutOfRangeError, kOutOfRange)
MLC_DEFINE_ERROR_(UnimplementedError, kUnimplemented)
MLC_DEFINE_ERROR_(InternalError, kInternal)
MLC_DEFINE_ERROR_(UnavailableError, kUnavailable)
MLC_DEFINE_ERROR_(DataLossError, kDataLoss)
MLC_DEFINE_ERROR_(UnauthenticatedError, kUnauthenticated)
#undef MLC_DEFINE_ERROR_

}  // namespace mlcore
