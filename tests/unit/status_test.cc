#include "mlcore/status.h"

#include <doctest/doctest.h>

namespace mlcore {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  MLC_ASSIGN_OR_RETURN(int half, Half(x));
  MLC_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  MLC_RETURN_IF_ERROR(Half(x));
  return Status::Ok();
}

TEST_CASE("status codes have gRPC's numbers and names") {
  CHECK(static_cast<int>(StatusCode::kNotFound) == 5);
  CHECK(static_cast<int>(StatusCode::kResourceExhausted) == 8);
  CHECK(static_cast<int>(StatusCode::kUnauthenticated) == 16);
  CHECK(StatusCodeName(StatusCode::kFailedPrecondition) == "FAILED_PRECONDITION");
  CHECK(StatusCodeFromName("not_found") == StatusCode::kNotFound);
  CHECK(StatusCodeFromName("14") == StatusCode::kUnavailable);
  CHECK_FALSE(StatusCodeFromName("17").has_value());
  CHECK_FALSE(StatusCodeFromName("NOPE").has_value());
  for (int i = 0; i <= 16; ++i) {
    auto code = static_cast<StatusCode>(i);
    CHECK(StatusCodeFromName(StatusCodeName(code)) == code);
  }
}

TEST_CASE("Status formats and adds context without changing the code") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.ToString() == "OK");
  Status s = NotFoundError("project \"x\" does not exist");
  CHECK_FALSE(s.ok());
  CHECK(s.ToString() == "NOT_FOUND: project \"x\" does not exist");
  Status wrapped = s.WithContext("opening");
  CHECK(wrapped.code() == StatusCode::kNotFound);
  CHECK(wrapped.message() == "opening: project \"x\" does not exist");
  CHECK(ok.WithContext("ignored").ok());
}

TEST_CASE("Result and the macros propagate the first error") {
  CHECK(Quarter(8).value() == 2);
  auto odd = Quarter(6);
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.status().code() == StatusCode::kInvalidArgument);
  CHECK(odd.status().message() == "3 is odd");
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(5).code() == StatusCode::kInvalidArgument);
  CHECK(Half(3).value_or(-1) == -1);
  Result<std::string> text = std::string("abc");
  CHECK(text->size() == 3);
}

}  // namespace
}  // namespace mlcore
