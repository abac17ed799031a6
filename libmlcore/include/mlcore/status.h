// Errors as values: Status and Result<T>.
//
// Every fallible operation in mlcore returns a Status (or a Result<T>, which is a T or a non-OK
// Status). Codes are gRPC's canonical codes, so each surface maps them with one table: to gRPC
// statuses, to Python exceptions (python/mlcore/errors.py), to C error codes (mlcore.h) and to CLI
// exit codes (cli/exit_codes.cc). No exception crosses a library boundary.
//
// Messages are for people: they say what was wrong and what to do about it, e.g.
//   unknown backend scheme "s3" in "s3://bucket"; known schemes: grpc, local
//
// Thread safety: Status and Result are values; distinct objects may be used from any thread.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mlcore {

// gRPC's canonical status codes, with the same numeric values.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The canonical upper-case name of a code ("NOT_FOUND"), as gRPC spells it.
std::string_view StatusCodeName(StatusCode code);

// Parses a canonical name ("NOT_FOUND", case-insensitive) or a number ("5").
std::optional<StatusCode> StatusCodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "NOT_FOUND: project \"x\" does not exist" (just "OK" when ok).
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` and ": ", keeping the code.
  Status WithContext(std::string_view context) const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Convenience constructors, one per code.
Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status DeadlineExceededError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status UnauthenticatedError(std::string message);

// A value of type T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // NOLINTBEGIN(google-explicit-constructor): implicit by design, like absl::StatusOr.
  Result(T value) : data_(std::move(value)) {}
  Result(Status status) : data_(std::move(status)) {
    assert(!std::get<Status>(data_).ok() && "Result constructed from an OK Status");
    if (std::get<Status>(data_).ok()) {
      data_ = Status(StatusCode::kInternal, "Result constructed from an OK Status");
    }
  }
  // NOLINTEND(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(data_); }

  // The error; an OK status when the result holds a value.
  Status status() const { return ok() ? Status() : std::get<Status>(data_); }

  // The value. Precondition: ok().
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value, or `fallback` on error.
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<Status, T> data_;
};

namespace internal {
inline Status AsStatus(Status s) { return s; }
template <typename T>
Status AsStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace mlcore

#define MLC_CONCAT_INNER_(a, b) a##b
#define MLC_CONCAT_(a, b) MLC_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status or Result) is not OK.
#define MLC_RETURN_IF_ERROR(expr)                                        \
  do {                                                                   \
    ::mlcore::Status mlc_status_ = ::mlcore::internal::AsStatus((expr)); \
    if (!mlc_status_.ok()) return mlc_status_;                           \
  } while (false)

// `MLC_ASSIGN_OR_RETURN(auto x, Compute());` declares x from an OK Result, or returns its error.
// `lhs` is a declaration or an lvalue, so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define MLC_ASSIGN_OR_RETURN(lhs, expr) \
  MLC_ASSIGN_OR_RETURN_IMPL_(MLC_CONCAT_(mlc_result_, __LINE__), lhs, expr)
#define MLC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
