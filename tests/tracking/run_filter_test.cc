#include "tracking/run_filter.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace mlcore::tracking {
namespace {

constexpr int64_t kSecond = 1000000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t k20261122 = 1795305600 * kSecond;  // 2026-11-22T00:00:00Z

RunView SampleRun() {
  RunView run;
  run.id = "run-1";
  run.name = "ResNet-50_baseline";
  run.user = "ada";
  run.experiment_id = "17";
  run.job_id = "job-9";
  run.parent_run_id = "";
  run.status = "RUNNING";
  run.start_time_us = k20261122 + 10 * kHour;  // 2026-11-22T10:00:00Z
  run.end_time_us = 0;
  run.params = {{"lr", "0.001"},
                {"depth", "10"},
                {"opt", "adam"},
                {"model.depth", "50"},
                {"val loss", "x"},
                {"pct", "50%"},
                {"greeting", "say \"hi\""},
                {"path", "a\\b"},
                {"city", "café"}};
  run.tags = {{"team", "recsys"}, {"priority", "2"}, {"a-b", "dash"}};
  run.metrics = {{"loss", 0.25},    {"acc", 0.9},
                 {"neg", -1.5},     {"val/loss", 0.3},
                 {"val loss", 0.4}, {"nan", std::numeric_limits<double>::quiet_NaN()}};
  return run;
}

// Whether `filter` (which must parse) matches `run`.
bool Matches(std::string_view filter, const RunView& run) {
  Result<RunFilter> parsed = RunFilter::Parse(filter);
  INFO("filter: ", std::string(filter));
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return parsed->Matches(run);
}

bool Matches(std::string_view filter) { return Matches(filter, SampleRun()); }

// The message of the INVALID_ARGUMENT error `filter` must produce.
std::string FilterError(std::string_view filter) {
  Result<RunFilter> parsed = RunFilter::Parse(filter);
  INFO("filter: ", std::string(filter));
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
  return parsed.status().message();
}

std::string OrderError(const std::vector<std::string>& order_by) {
  Result<RunOrder> parsed = RunOrder::Parse(order_by);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
  return parsed.status().message();
}

// The ids of `runs` sorted by `order_by` (which must parse).
std::vector<std::string> SortedIds(const std::vector<std::string>& order_by,
                                   const std::vector<RunView>& runs) {
  Result<RunOrder> order = RunOrder::Parse(order_by);
  REQUIRE_MESSAGE(order.ok(), order.status().ToString());
  std::vector<const RunView*> pointers;
  pointers.reserve(runs.size());
  for (const RunView& run : runs) pointers.push_back(&run);
  order->Sort(pointers);
  std::vector<std::string> ids;
  ids.reserve(pointers.size());
  for (const RunView* run : pointers) ids.push_back(run->id);
  return ids;
}

RunView RunWithId(std::string id) {
  RunView run;
  run.id = std::move(id);
  return run;
}

TEST_CASE("the empty filter matches every run") {
  for (std::string_view text : {"", "   ", " \t\n "}) {
    Result<RunFilter> filter = RunFilter::Parse(text);
    REQUIRE(filter.ok());
    CHECK(filter->empty());
    CHECK(filter->Matches(SampleRun()));
    CHECK(filter->Matches(RunView()));
    CHECK_FALSE(filter->UsesParams());
    CHECK_FALSE(filter->UsesTags());
    CHECK_FALSE(filter->UsesMetrics());
  }
  CHECK(RunFilter().empty());
  CHECK(RunFilter().Matches(SampleRun()));
}

TEST_CASE("params compare numerically when both sides are numbers") {
  // depth is "10": numerically 10 > 9, though as strings "10" < "9".
  CHECK(Matches("params.depth > 9"));
  CHECK(Matches("params.depth > \"9\""));
  CHECK(Matches("params.depth >= 10"));
  CHECK(Matches("params.depth <= 10"));
  CHECK(Matches("params.depth = 10"));
  CHECK(Matches("params.depth == 10.0"));
  CHECK(Matches("params.depth = '1e1'"));
  CHECK_FALSE(Matches("params.depth != 10"));
  CHECK_FALSE(Matches("params.depth < 10"));
  CHECK_FALSE(Matches("params.depth > 10"));
  CHECK(Matches("params.depth < 11"));
  CHECK(Matches("params.depth != 11"));
  CHECK(Matches("params.lr < 0.01"));
  CHECK(Matches("params.lr = 1e-3"));
  CHECK(Matches("params.lr = \"0.0010\""));
  CHECK(Matches("params.lr > -1"));
  CHECK(Matches("params.lr >= .001"));
  CHECK(Matches("params.lr <= +0.001"));
  CHECK_FALSE(Matches("params.lr > 0.001"));
}

TEST_CASE("params compare as strings when either side is not a number") {
  CHECK(Matches("params.opt = \"adam\""));
  CHECK(Matches("params.opt == 'adam'"));
  CHECK_FALSE(Matches("params.opt = \"Adam\""));
  CHECK(Matches("params.opt != \"sgd\""));
  CHECK_FALSE(Matches("params.opt != \"adam\""));
  CHECK(Matches("params.opt < \"b\""));
  CHECK(Matches("params.opt <= \"adam\""));
  CHECK(Matches("params.opt > \"a\""));
  CHECK(Matches("params.opt >= \"adam\""));
  CHECK_FALSE(Matches("params.opt > \"adam\""));
  // "adam" against the number 5 compares bytes: 'a' > '5'.
  CHECK(Matches("params.opt > 5"));
  CHECK_FALSE(Matches("params.opt = 5"));
  // A numeric param against a non-numeric string: bytes, "10" < "9x".
  CHECK(Matches("params.depth < \"9x\""));
  // Full-string parse only: "50%" is not a number.
  CHECK(Matches("params.pct < 6"));  // numerically 50 > 6
  CHECK_FALSE(Matches("params.pct = 50"));
  // "+-1" and "-" are not numbers, so these compare bytes.
  RunView odd = SampleRun();
  odd.params["n"] = "+-1";
  CHECK(Matches("params.n < 0", odd));
  odd.params["n"] = "-";
  CHECK(Matches("params.n < 0", odd));
  odd.params["n"] = "+1";
  CHECK(Matches("params.n = 1", odd));
}

TEST_CASE("tags compare like params") {
  CHECK(Matches("tags.team = \"recsys\""));
  CHECK(Matches("tags.team != \"vision\""));
  CHECK(Matches("tags.team < \"z\""));
  CHECK(Matches("tags.team <= \"recsys\""));
  CHECK(Matches("tags.team > \"r\""));
  CHECK(Matches("tags.team >= \"recsys\""));
  CHECK(Matches("tags.team like \"rec%\""));
  CHECK(Matches("tags.team ilike \"REC%\""));
  CHECK(Matches("tags.team in (\"vision\", \"recsys\")"));
  CHECK_FALSE(Matches("tags.team not in (\"vision\", \"recsys\")"));
  CHECK(Matches("tags.priority = 2"));
  CHECK(Matches("tags.priority < 10"));
  CHECK(Matches("tags.priority in (1, 2)"));
  CHECK(Matches("tags.priority not in (1, 3)"));
}

TEST_CASE("metrics compare numerically with every operator") {
  CHECK(Matches("metrics.loss = 0.25"));
  CHECK(Matches("metrics.loss == 25e-2"));
  CHECK(Matches("metrics.loss != 0.3"));
  CHECK_FALSE(Matches("metrics.loss != 0.25"));
  CHECK(Matches("metrics.loss < 0.3"));
  CHECK_FALSE(Matches("metrics.loss < 0.25"));
  CHECK(Matches("metrics.loss <= 0.25"));
  CHECK(Matches("metrics.loss > 0.2"));
  CHECK_FALSE(Matches("metrics.loss > 0.25"));
  CHECK(Matches("metrics.loss >= 0.25"));
  CHECK(Matches("metrics.neg = -1.5"));
  CHECK(Matches("metrics.neg < -1"));
  CHECK(Matches("metrics.neg > -2E0"));
  CHECK(Matches("metrics.acc in (0.5, 0.9)"));
  CHECK_FALSE(Matches("metrics.acc in (0.5, 1)"));
  CHECK(Matches("metrics.acc not in (0.5, 1)"));
  CHECK_FALSE(Matches("metrics.acc not in (0.9)"));
}

TEST_CASE("NaN metric values never match") {
  for (std::string_view f :
       {"metrics.nan = 0", "metrics.nan != 0", "metrics.nan < 0", "metrics.nan <= 0",
        "metrics.nan > 0", "metrics.nan >= 0", "metrics.nan in (0, 1)", "metrics.nan not in (0)"}) {
    CHECK_FALSE(Matches(f));
  }
}

TEST_CASE("a missing param, tag, metric or time never matches, whatever the operator") {
  for (std::string_view f : {"params.missing = 1",
                             "params.missing != 1",
                             "params.missing < 1",
                             "params.missing <= 1",
                             "params.missing > 1",
                             "params.missing >= 1",
                             "params.missing like \"%\"",
                             "params.missing ilike \"%\"",
                             "params.missing in (1)",
                             "params.missing not in (1)",
                             "tags.missing = \"x\"",
                             "tags.missing != \"x\"",
                             "tags.missing not in (\"x\")",
                             "metrics.missing = 1",
                             "metrics.missing != 1",
                             "metrics.missing < 1",
                             "metrics.missing not in (1)",
                             "end_time != 0",
                             "end_time > 0",
                             "end_time < 9e15",
                             "end_time not in (1)"}) {
    CHECK_FALSE(Matches(f));
  }
  RunView unstarted = SampleRun();
  unstarted.start_time_us = 0;
  CHECK_FALSE(Matches("start_time != 5", unstarted));
  CHECK_FALSE(Matches("start_time < 9e15", unstarted));
}

TEST_CASE("like and ilike are SQL LIKE") {
  // name is "ResNet-50_baseline".
  CHECK(Matches("name like \"ResNet%\""));
  CHECK(Matches("name like \"%baseline\""));
  CHECK(Matches("name like \"%50%\""));
  CHECK(Matches("name like \"%\""));
  CHECK(Matches("name like \"ResNet-50_baseline\""));
  CHECK(Matches("name like \"_esNet%\""));
  CHECK(Matches("name like \"ResNet-__%\""));
  CHECK(Matches("name like \"%e%e%e%\""));
  CHECK(Matches("name like \"%50\\_b%\""));
  CHECK(Matches("name like \"%l_ne\""));
  CHECK_FALSE(Matches("name like \"ResNet\""));
  CHECK_FALSE(Matches("name like \"resnet%\""));
  CHECK_FALSE(Matches("name like \"%50\\_x%\""));
  CHECK_FALSE(Matches("name like \"_\""));
  CHECK_FALSE(Matches("name like \"%e%e%e%e%e%\""));
  CHECK(Matches("name ilike \"resnet%\""));
  CHECK(Matches("name ILIKE \"%BASELINE\""));
  CHECK_FALSE(Matches("name ilike \"vgg%\""));
  // `\%` matches a literal percent sign; `_` is one UTF-8 character.
  CHECK(Matches("params.pct like \"50\\%\""));
  CHECK_FALSE(Matches("params.pct like \"5\\%\""));
  CHECK(Matches("params.city like \"caf_\""));
  CHECK_FALSE(Matches("params.city like \"caf__\""));
  CHECK(Matches("params.lr like \"0.0%\""));
  CHECK(Matches("user like \"a_a\""));
  RunView empty_name = SampleRun();
  empty_name.name = "";
  CHECK(Matches("name like \"%\"", empty_name));
  CHECK_FALSE(Matches("name like \"_%\"", empty_name));
}

TEST_CASE("in and not in") {
  CHECK(Matches("params.opt in (\"sgd\", \"adam\")"));
  CHECK(Matches("params.opt in ('adam')"));
  CHECK_FALSE(Matches("params.opt in (\"sgd\", \"rmsprop\")"));
  CHECK(Matches("params.opt not in (\"sgd\", \"rmsprop\")"));
  CHECK_FALSE(Matches("params.opt not in (\"sgd\", \"adam\")"));
  CHECK(Matches("params.depth in (3, 10, \"x\")"));
  CHECK(Matches("params.depth in (\"10.0\")"));
  CHECK(Matches("params.depth NOT IN (3,4)"));
  CHECK(Matches("params.depth Not In(3)"));
  CHECK(Matches("user in (\"ada\",\"bob\")"));
  CHECK(Matches("id not in (\"run-2\")"));
}

TEST_CASE("keys may be bare with . / - or quoted") {
  CHECK(Matches("metrics.val/loss = 0.3"));
  CHECK(Matches("params.model.depth = 50"));
  CHECK(Matches("tags.a-b = \"dash\""));
  CHECK(Matches("metrics.\"val loss\" = 0.4"));
  CHECK(Matches("metrics.`val loss` = 0.4"));
  CHECK(Matches("params.\"val loss\" = \"x\""));
  CHECK(Matches("params.`model.depth` > 49"));
  CHECK(Matches("params.'model.depth' < 51"));
  CHECK_FALSE(Matches("params.Opt = \"adam\""));  // keys are case-sensitive
  CHECK(Matches("PARAMS.opt = \"adam\""));        // prefixes are not
  CHECK(Matches("Metrics.loss < 1"));
}

TEST_CASE("string values take either quote and backslash escapes") {
  CHECK(Matches("params.greeting = \"say \\\"hi\\\"\""));
  CHECK(Matches("params.greeting = 'say \"hi\"'"));
  CHECK(Matches("params.path = 'a\\\\b'"));
  CHECK(Matches("params.path = \"a\\\\b\""));
  RunView run = SampleRun();
  run.name = "it's\tok";
  CHECK(Matches("name = 'it\\'s\\tok'", run));
  CHECK(Matches("name = \"it's\\tok\"", run));
}

TEST_CASE("keywords and attribute names are case-insensitive") {
  CHECK(Matches("params.lr < 0.01 AND metrics.loss < 0.3 And tags.team = \"recsys\""));
  CHECK(Matches("params.lr < 0.01 and metrics.loss < 0.3 and tags.team = \"recsys\""));
  CHECK_FALSE(Matches("params.lr < 0.01 and metrics.loss < 0.2 and tags.team = \"recsys\""));
  CHECK(Matches("STATUS = \"running\" aNd Name LIKE \"Res%\""));
  CHECK(Matches("params.lr<0.01 and metrics.loss<=0.25"));
  CHECK(Matches("\n params.lr\t<\n0.01\n"));
}

TEST_CASE("status compares run states case-insensitively") {
  CHECK(Matches("status = \"RUNNING\""));
  CHECK(Matches("status = \"running\""));
  CHECK(Matches("status == 'Running'"));
  CHECK(Matches("status != \"FINISHED\""));
  CHECK_FALSE(Matches("status != \"running\""));
  CHECK(Matches("status in (\"finished\", \"running\")"));
  CHECK_FALSE(Matches("status in (\"FAILED\", \"KILLED\", \"SCHEDULED\")"));
  CHECK(Matches("status not in (\"FAILED\", \"KILLED\", \"SCHEDULED\")"));
  RunView run = SampleRun();
  run.status = "FINISHED";
  CHECK(Matches("status = \"finished\"", run));
  CHECK_FALSE(Matches("status = \"running\"", run));
}

TEST_CASE("string attributes") {
  CHECK(Matches("id = \"run-1\""));
  CHECK(Matches("name = \"ResNet-50_baseline\""));
  CHECK(Matches("user = \"ada\""));
  CHECK(Matches("user != \"bob\""));
  CHECK(Matches("job_id = \"job-9\""));
  CHECK(Matches("experiment_id = 17"));  // numeric strings compare as numbers
  CHECK(Matches("experiment_id = \"17\""));
  CHECK(Matches("experiment_id > 9"));
  CHECK(Matches("experiment_id in (\"3\", \"17\")"));
  // An empty attribute is the empty string, not missing: it selects top-level runs.
  CHECK(Matches("parent_run_id = \"\""));
  CHECK(Matches("parent_run_id != \"run-0\""));
  RunView child = SampleRun();
  child.parent_run_id = "run-0";
  CHECK_FALSE(Matches("parent_run_id = \"\"", child));
  CHECK(Matches("parent_run_id = \"run-0\"", child));
}

TEST_CASE("times compare against microseconds or ISO-8601 strings") {
  const int64_t start = k20261122 + 10 * kHour;
  const std::string micros = std::to_string(start);
  CHECK(Matches("start_time = " + micros));
  CHECK(Matches("start_time >= " + micros));
  CHECK(Matches("start_time <= " + micros));
  CHECK_FALSE(Matches("start_time != " + micros));
  CHECK(Matches("start_time > " + std::to_string(start - 1)));
  CHECK(Matches("start_time < " + std::to_string(start + 1)));
  CHECK(Matches("start_time in (1, " + micros + ")"));
  CHECK(Matches("start_time not in (1, 2)"));
  CHECK(Matches("start_time = 1.7953416e15"));  // integral exponent forms are accepted
  CHECK(Matches("start_time = \"2026-11-22T10:00:00Z\""));
  CHECK(Matches("start_time = \"2026-11-22T10:00:00\""));  // no zone = UTC
  CHECK(Matches("start_time = \"2026-11-22 10:00:00Z\""));
  CHECK(Matches("start_time = \"2026-11-22T10:00Z\""));
  CHECK(Matches("start_time = \"2026-11-22T12:00:00+02:00\""));
  CHECK(Matches("start_time = \"2026-11-22T12:00:00+0200\""));
  CHECK(Matches("start_time = \"2026-11-22T09:30:00-00:30\""));
  CHECK(Matches("start_time = \"2026-11-22T10:00:00.000000Z\""));
  CHECK(Matches("start_time < \"2026-11-22T10:00:00.000001Z\""));
  CHECK(Matches("start_time > \"2026-11-22T09:59:59.999999Z\""));
  CHECK(Matches("start_time > \"2026-11-22\""));
  CHECK(Matches("start_time >= \"2026-11-22\" and start_time < \"2026-11-23\""));
  CHECK_FALSE(Matches("start_time < \"2026-11-22\""));
  CHECK(Matches("start_time in (\"2026-11-22T10:00:00Z\")"));

  RunView run;
  run.start_time_us = 951868799LL * kSecond;  // 2000-02-29T23:59:59Z, a leap day
  run.end_time_us = -86400LL * kSecond;       // 1969-12-31, before the epoch
  CHECK(Matches("start_time = \"2000-02-29T23:59:59Z\"", run));
  CHECK(Matches("end_time = \"1969-12-31\"", run));
  CHECK(Matches("end_time < 0", run));
}

TEST_CASE("parse errors name the column and what was expected") {
  CHECK(FilterError("params.alpha lr < 1") == "filter column 14: expected operator, got \"lr\"");
  CHECK(FilterError("stat = \"RUNNING\"") ==
        "filter column 1: unknown attribute \"stat\"; did you mean \"status\"?");
  CHECK(FilterError("params.lr < 1 and nmae = \"x\"") ==
        "filter column 19: unknown attribute \"nmae\"; did you mean \"name\"?");
  CHECK(FilterError("param.lr = 1") ==
        "filter column 1: unknown attribute \"param.lr\"; did you mean \"params.lr\"?");
  CHECK(FilterError("lr < 1") ==
        "filter column 1: unknown attribute \"lr\"; use params.K, metrics.K, tags.K or one of "
        "status, user, name, job_id, parent_run_id, start_time, end_time, experiment_id, id");
  CHECK(FilterError("params.lr = 1 and name = \"abc") == "filter column 26: unterminated string");
  CHECK(FilterError("tags.x = 'abc") == "filter column 10: unterminated string");
  CHECK(FilterError("metrics.`val loss = 1") == "filter column 9: unterminated quoted key");
  CHECK(FilterError("name = 1 or name = 2") ==
        "filter column 10: expected \"and\" or end of filter, got \"or\"; \"or\" is not supported "
        "(use in (...) for alternatives of one key)");
  CHECK(FilterError("name = 1 name = 2") ==
        "filter column 10: expected \"and\" or end of filter, got \"name\"");
  CHECK(FilterError("name = 1)") ==
        "filter column 9: expected \"and\" or end of filter, got \")\"");
  CHECK(FilterError("metrics.loss < \"abc\"") ==
        "metrics.loss compares numbers; got the string \"abc\" at column 16");
  CHECK(FilterError("metrics.\"val loss\" in (1, 'x')") ==
        "metrics.\"val loss\" compares numbers; got the string \"x\" at column 27");
  CHECK(FilterError("params.lr <") ==
        "filter column 12: expected a value (a number or a quoted string), got end of filter");
  CHECK(FilterError("params.lr < 1 and") == "filter column 18: expected a key, got end of filter");
  CHECK(FilterError("params.lr < 1 and and") == "filter column 19: expected a key, got \"and\"");
  CHECK(FilterError("= 1") == "filter column 1: expected a key, got \"=\"");
  CHECK(FilterError("'name' = 1") == "filter column 1: expected a key, got 'name'");
  CHECK(FilterError("params.lr") == "filter column 10: expected operator, got end of filter");
  CHECK(FilterError("params. = 1") ==
        "filter column 8: expected a key after \"params.\" (letters, digits, _ - . / or a quoted "
        "key)");
  CHECK(FilterError("params.\"\" = 1") == "filter column 8: empty key");
  CHECK(FilterError("tags.team = recsys") ==
        "filter column 13: expected a value (a number or a quoted string), got \"recsys\"; quote "
        "strings: \"recsys\"");
  CHECK(FilterError("tags.team = `recsys`") ==
        "filter column 13: expected a value (a number or a quoted string), got `recsys`; "
        "backticks quote keys only");
  CHECK(FilterError("params.x = 1abc") == "filter column 12: invalid number \"1abc\"");
  CHECK(FilterError("params.x = 1.2.3") == "filter column 12: invalid number \"1.2.3\"");
  CHECK(FilterError("params.x = 1e999") == "filter column 12: number out of range: \"1e999\"");
  CHECK(FilterError("params.x ! 1") == "filter column 10: unexpected character \"!\"");
  CHECK(FilterError("params.x <> 1") ==
        "filter column 11: expected a value (a number or a quoted string), got \">\"");
  CHECK(FilterError("params.x in 1") == "filter column 13: expected \"(\" after \"in\", got 1");
  CHECK(FilterError("params.x in (1 2)") == "filter column 16: expected \",\" or \")\", got 2");
  CHECK(FilterError("params.x in ()") ==
        "filter column 14: expected a value (a number or a quoted string), got \")\"");
  CHECK(FilterError("params.x in (1,") ==
        "filter column 16: expected a value (a number or a quoted string), got end of filter");
  CHECK(FilterError("params.x not like 'a'") ==
        "filter column 14: expected \"in\" after \"not\", got \"like\"");
  CHECK(FilterError("params.x like 5") ==
        "filter column 15: \"like\" needs a quoted pattern, got 5");
  CHECK(FilterError("metrics.loss LIKE '1%'") ==
        "filter column 14: \"like\" does not apply to metrics.loss, a number");
  CHECK(FilterError("start_time ilike '2026%'") ==
        "filter column 12: \"ilike\" does not apply to start_time, a time");
  CHECK(FilterError("status < \"RUNNING\"") ==
        "filter column 8: \"<\" does not apply to status; use =, !=, in or not in");
  CHECK(FilterError("status >= \"RUNNING\"") ==
        "filter column 8: \">=\" does not apply to status; use =, !=, in or not in");
  CHECK(FilterError("status like \"RUN%\"") ==
        "filter column 8: \"like\" does not apply to status; use =, !=, in or not in");
  CHECK(FilterError("status = \"RUNING\"") ==
        "filter column 10: unknown status \"RUNING\"; did you mean \"RUNNING\"?");
  CHECK(FilterError("status in (\"RUNNING\", \"done\")") ==
        "filter column 23: unknown status \"done\"; known: RUNNING, FINISHED, FAILED, KILLED, "
        "SCHEDULED");
  CHECK(FilterError("status = 1") ==
        "status compares run states (RUNNING, FINISHED, FAILED, KILLED, SCHEDULED); got the "
        "number 1 at column 10");
  CHECK(FilterError("start_time > \"yesterday\"") ==
        "start_time compares integer microseconds since the epoch or ISO-8601 times "
        "(\"2026-11-22\", \"2026-11-22T10:00:00Z\"); got the string \"yesterday\" at column 14");
  CHECK(FilterError("end_time < 1.5") ==
        "end_time compares integer microseconds since the epoch or ISO-8601 times "
        "(\"2026-11-22\", \"2026-11-22T10:00:00Z\"); got 1.5 at column 12");
  for (std::string_view bad :
       {"2026-13-01", "2026-02-29", "2026-11-22T24:00:00Z", "2026-11-22T", "2026-11-22T10",
        "2026-11-22T10:00:00+2", "2026-11-22T10:00:00Q", "2026-11-22Z", "26-11-22"}) {
    INFO(std::string(bad));
    CHECK(FilterError("start_time > \"" + std::string(bad) + "\"").find("got the string") !=
          std::string::npos);
  }
}

TEST_CASE("operands print as the language writes them") {
  Result<RunFilter> filter = RunFilter::Parse(
      "metrics.\"val loss\" < 1 and params.model.depth = 2 and tags.`a\"b` = 'x' and STATUS = "
      "'finished' and start_time > 0");
  REQUIRE(filter.ok());
  const std::vector<Comparison>& c = filter->comparisons();
  REQUIRE(c.size() == 5);
  CHECK(c[0].operand.ToString() == "metrics.\"val loss\"");
  CHECK(c[0].operand.field == RunField::kMetric);
  CHECK(c[0].operand.key == "val loss");
  CHECK(c[0].op == CompareOp::kLt);
  CHECK(c[1].operand.ToString() == "params.model.depth");
  CHECK(c[2].operand.ToString() == "tags.\"a\\\"b\"");
  CHECK(c[2].operand.key == "a\"b");
  CHECK(c[3].operand.ToString() == "status");
  CHECK(c[3].values[0].text == "FINISHED");
  CHECK(c[4].operand.ToString() == "start_time");
  CHECK(filter->UsesParams());
  CHECK(filter->UsesTags());
  CHECK(filter->UsesMetrics());
}

TEST_CASE("the filter reports which parts of a run it reads") {
  Result<RunFilter> params = RunFilter::Parse("params.lr < 1 and status = 'RUNNING'");
  REQUIRE(params.ok());
  CHECK(params->UsesParams());
  CHECK_FALSE(params->UsesTags());
  CHECK_FALSE(params->UsesMetrics());
  Result<RunFilter> metrics = RunFilter::Parse("metrics.loss < 1");
  REQUIRE(metrics.ok());
  CHECK_FALSE(metrics->UsesParams());
  CHECK(metrics->UsesMetrics());
  Result<RunFilter> tags = RunFilter::Parse("tags.x = '1'");
  REQUIRE(tags.ok());
  CHECK(tags->UsesTags());
  CHECK_FALSE(tags->UsesMetrics());
}

TEST_CASE("order_by parses keys and directions") {
  Result<RunOrder> order = RunOrder::Parse(
      {"metrics.val_loss asc", "params.lr", "start_time DESC", " name ", "tags.`a b` desc"});
  REQUIRE(order.ok());
  const std::vector<SortKey>& keys = order->keys();
  REQUIRE(keys.size() == 5);
  CHECK(keys[0].operand.ToString() == "metrics.val_loss");
  CHECK_FALSE(keys[0].descending);
  CHECK(keys[1].operand.ToString() == "params.lr");
  CHECK_FALSE(keys[1].descending);
  CHECK(keys[2].operand.field == RunField::kStartTime);
  CHECK(keys[2].descending);
  CHECK(keys[3].operand.field == RunField::kName);
  CHECK(keys[4].operand.key == "a b");
  CHECK(keys[4].descending);
  CHECK(order->UsesMetrics());
  CHECK(order->UsesParams());
  CHECK(order->UsesTags());

  Result<RunOrder> empty = RunOrder::Parse({});
  REQUIRE(empty.ok());
  REQUIRE(empty->keys().size() == 1);
  CHECK(empty->keys()[0].operand.field == RunField::kStartTime);
  CHECK(empty->keys()[0].descending);
  CHECK_FALSE(empty->UsesParams());
  CHECK_FALSE(empty->UsesTags());
  CHECK_FALSE(empty->UsesMetrics());
}

TEST_CASE("order_by errors name the entry and the column") {
  CHECK(OrderError({"name", "name up"}) ==
        "order_by[1] column 6: expected \"asc\", \"desc\" or end of input, got \"up\"");
  CHECK(OrderError({"nme"}) ==
        "order_by[0] column 1: unknown attribute \"nme\"; did you mean \"name\"?");
  CHECK(OrderError({""}) == "order_by[0] column 1: expected a key, got end of input");
  CHECK(OrderError({"name asc desc"}) ==
        "order_by[0] column 10: expected end of input, got \"desc\"");
  CHECK(OrderError({"metrics.loss < 1"}) ==
        "order_by[0] column 14: expected \"asc\", \"desc\" or end of input, got \"<\"");
  CHECK(OrderError({"id", "tags.\"x"}) == "order_by[1] column 6: unterminated string");
  CHECK(OrderError({"metric.loss"}) ==
        "order_by[0] column 1: unknown attribute \"metric.loss\"; did you mean \"metrics.loss\"?");
}

TEST_CASE("sorting by a metric puts runs missing it last in both directions") {
  std::vector<RunView> runs;
  for (const char* id : {"a", "b", "c", "d", "e"}) runs.push_back(RunWithId(id));
  runs[0].metrics["loss"] = 0.5;
  runs[1].metrics["loss"] = 0.1;
  // c lacks the metric; e's is NaN, which counts as missing.
  runs[3].metrics["loss"] = 0.3;
  runs[4].metrics["loss"] = std::nan("");
  CHECK(SortedIds({"metrics.loss"}, runs) == std::vector<std::string>{"b", "d", "a", "c", "e"});
  CHECK(SortedIds({"metrics.loss asc"}, runs) == std::vector<std::string>{"b", "d", "a", "c", "e"});
  CHECK(SortedIds({"metrics.loss desc"}, runs) ==
        std::vector<std::string>{"a", "d", "b", "c", "e"});
}

TEST_CASE("params sort as numbers only when every present value is one") {
  std::vector<RunView> runs;
  for (const char* id : {"a", "b", "c", "d"}) runs.push_back(RunWithId(id));
  runs[0].params["n"] = "10";
  runs[1].params["n"] = "9";
  runs[2].params["n"] = "100";
  CHECK(SortedIds({"params.n"}, runs) == std::vector<std::string>{"b", "a", "c", "d"});
  CHECK(SortedIds({"params.n desc"}, runs) == std::vector<std::string>{"c", "a", "b", "d"});
  runs[3].params["n"] = "abc";
  CHECK(SortedIds({"params.n"}, runs) == std::vector<std::string>{"a", "c", "b", "d"});
  CHECK(SortedIds({"params.n desc"}, runs) == std::vector<std::string>{"d", "b", "c", "a"});
  runs[0].tags["t"] = "2.5";
  runs[2].tags["t"] = "-1";
  CHECK(SortedIds({"tags.t desc"}, runs) == std::vector<std::string>{"a", "c", "b", "d"});
}

TEST_CASE("ties fall to the next key and finally to the id") {
  std::vector<RunView> runs;
  for (const char* id : {"r3", "r1", "r4", "r2"}) runs.push_back(RunWithId(id));
  runs[0].user = "bob";
  runs[1].user = "bob";
  runs[2].user = "ada";
  runs[3].user = "bob";
  runs[0].metrics["acc"] = 0.9;
  runs[1].metrics["acc"] = 0.8;
  runs[3].metrics["acc"] = 0.9;
  CHECK(SortedIds({"user"}, runs) == std::vector<std::string>{"r4", "r1", "r2", "r3"});
  CHECK(SortedIds({"user desc"}, runs) == std::vector<std::string>{"r1", "r2", "r3", "r4"});
  CHECK(SortedIds({"user", "metrics.acc desc"}, runs) ==
        std::vector<std::string>{"r4", "r2", "r3", "r1"});
  CHECK(SortedIds({"metrics.acc desc", "user"}, runs) ==
        std::vector<std::string>{"r2", "r3", "r1", "r4"});
  CHECK(SortedIds({"status"}, runs) == std::vector<std::string>{"r1", "r2", "r3", "r4"});
}

TEST_CASE("the default order is start_time desc, unset last, then id") {
  std::vector<RunView> runs;
  for (const char* id : {"c", "a", "b", "d", "e"}) runs.push_back(RunWithId(id));
  runs[0].start_time_us = 100;
  runs[1].start_time_us = 300;
  runs[2].start_time_us = 100;
  // d and e never started.
  CHECK(SortedIds({}, runs) == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(SortedIds({"start_time"}, runs) == std::vector<std::string>{"b", "c", "a", "d", "e"});
  runs[4].end_time_us = 5;
  CHECK(SortedIds({"end_time desc"}, runs) == std::vector<std::string>{"e", "a", "b", "c", "d"});
  CHECK(SortedIds({"id desc"}, runs) == std::vector<std::string>{"e", "d", "c", "b", "a"});
  std::vector<RunView> none;
  CHECK(SortedIds({}, none).empty());
}

TEST_CASE("matching 100k runs") {
  std::vector<RunView> runs(100000);
  for (size_t i = 0; i < runs.size(); ++i) {
    RunView& run = runs[i];
    run.id = "run-" + std::to_string(i);
    run.status = i % 3 == 0 ? "FINISHED" : "RUNNING";
    run.params["lr"] = std::to_string(0.0001 * static_cast<double>(i % 200));
    run.params["opt"] = i % 2 == 0 ? "adam" : "sgd";
    run.metrics["val_loss"] = static_cast<double>(i % 1000) / 1000.0;
    run.tags["team"] = i % 5 == 0 ? "recsys" : "vision";
  }
  Result<RunFilter> filter =
      RunFilter::Parse("params.lr < 0.01 and metrics.val_loss < 0.3 and tags.team = \"recsys\"");
  REQUIRE(filter.ok());
  size_t matched = 0;
  size_t expected = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (filter->Matches(runs[i])) ++matched;
    bool want = i % 200 < 100 && i % 1000 < 300 && i % 5 == 0;
    if (want) ++expected;
  }
  CHECK(expected > 0);
  CHECK(matched == expected);

  std::vector<const RunView*> pointers;
  pointers.reserve(runs.size());
  for (const RunView& run : runs) pointers.push_back(&run);
  Result<RunOrder> order = RunOrder::Parse({"metrics.val_loss desc", "params.opt"});
  REQUIRE(order.ok());
  order->Sort(pointers);
  for (size_t i = 1; i < pointers.size(); ++i) {
    REQUIRE(pointers[i - 1]->metrics.at("val_loss") >= pointers[i]->metrics.at("val_loss"));
  }
}

}  // namespace
}  // namespace mlcore::tracking
