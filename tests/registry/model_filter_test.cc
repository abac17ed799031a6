// The filter and order-by language of ListRegisteredModels: parsing, column-accurate errors, LIKE
// and tag comparisons (evaluation against a store is in registry_models_test.cc).
#include "registry/model_filter.h"

#include <doctest/doctest.h>

namespace mlcore::registry {
namespace {

std::string ErrorOf(std::string_view filter) {
  auto parsed = ModelFilter::Parse(filter);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
  return parsed.status().message();
}

TEST_CASE("filters parse every field and operator") {
  auto f = ModelFilter::Parse(
      "name like \"rank%\" AND tags.task = 'ranking' and alias in (\"champion\", \"prod\") and "
      "create_time >= \"2026-01-02\" and update_time < 1800000000000000 and tags.\"my key\" != 3 "
      "and tags.acc > 0.9");
  REQUIRE(f.ok());
  const auto& c = f->comparisons();
  REQUIRE(c.size() == 7);
  CHECK(c[0].field == ModelField::kName);
  CHECK(c[0].op == FilterOp::kLike);
  CHECK(c[0].values[0].text == "rank%");
  CHECK(c[1].field == ModelField::kTag);
  CHECK(c[1].key == "task");
  CHECK(c[2].op == FilterOp::kIn);
  CHECK(c[2].values.size() == 2);
  CHECK(c[3].values[0].time_us == 1767312000000000);  // 2026-01-02T00:00:00Z
  CHECK(c[4].values[0].time_us == 1800000000000000);
  CHECK(c[5].key == "my key");
  CHECK(c[5].values[0].is_number);
  CHECK(c[6].op == FilterOp::kGt);
  CHECK(ModelFilter::Parse("").ok());
  CHECK(ModelFilter::Parse("   ").value().comparisons().empty());
  CHECK(ModelFilter::Parse("create_time > '2026-01-02T10:00:00+02:00'").ok());
  CHECK(ModelFilter::Parse("update_time < '2026-01-02 10:00:00'").ok());
}

TEST_CASE("filter errors name the column and what was expected") {
  CHECK(ErrorOf("colour = 'red'") ==
        "filter column 1: unknown field \"colour\"; fields: name, alias, create_time, "
        "update_time, tags.KEY");
  CHECK(ErrorOf("name is 'x'") ==
        "filter column 6: expected an operator (= != < <= > >= like in), got \"is\"");
  CHECK(ErrorOf("name = 'x' or name = 'y'") ==
        "filter column 12: \"or\" is not supported; comparisons are joined by \"and\" (use in "
        "(...) for alternatives of one field)");
  CHECK(ErrorOf("name = x") == "filter column 8: expected a quoted string or a number, got \"x\"");
  CHECK(ErrorOf("name = 'x") == "filter column 8: unterminated string");
  CHECK(ErrorOf("name = 3").find("column 8: name compares with a quoted string") !=
        std::string::npos);
  CHECK(ErrorOf("alias > 'a'").find("column 7: alias supports =, !=, like and in") !=
        std::string::npos);
  CHECK(ErrorOf("create_time like '2026%'").find("column 13: times do not support like") !=
        std::string::npos);
  CHECK(ErrorOf("create_time > 'yesterday'").find("column 15: times are microseconds") !=
        std::string::npos);
  CHECK(ErrorOf("name in ('a' 'b')") == "filter column 14: expected \",\" or \")\", got \"'\"");
  CHECK(ErrorOf("name == 'a'") == "filter column 6: use = for equality, not ==");
  CHECK(ErrorOf("name = 'a' and") ==
        "filter column 15: expected a field (name, alias, "
        "create_time, update_time, tags.KEY), got end of input");
  CHECK(ErrorOf("tags. = 'a'").find("column 7: expected a tag key") != std::string::npos);
}

TEST_CASE("order_by: name, create_time, update_time with asc/desc; name breaks ties") {
  auto empty = ModelOrder::Parse({});
  REQUIRE(empty.ok());
  REQUIRE(empty->keys().size() == 1);
  CHECK(empty->keys()[0].field == ModelField::kName);
  CHECK_FALSE(empty->keys()[0].descending);
  auto o = ModelOrder::Parse({"update_time DESC", " create_time"});
  REQUIRE(o.ok());
  REQUIRE(o->keys().size() == 3);
  CHECK(o->keys()[0].descending);
  CHECK(o->keys()[1].field == ModelField::kCreateTime);
  CHECK(o->keys()[2].field == ModelField::kName);
  auto by_name = ModelOrder::Parse({"name desc", "update_time"});
  REQUIRE(by_name.ok());
  CHECK(by_name->keys().size() == 1);  // names are unique: nothing after them matters
  auto bad = ModelOrder::Parse({"name", "update_time up"});
  CHECK(bad.status().message() ==
        "order_by[1] column 13: expected \"asc\", \"desc\" or end of input, got \"up\"");
  CHECK(ModelOrder::Parse({"tags.x"}).status().message() ==
        "order_by[0] column 1: unknown sort key \"tags.x\"; sort by name, create_time or "
        "update_time");
  CHECK(ModelOrder::Parse({"name asc extra"}).status().message() ==
        "order_by[0] column 10: expected end of input, got \"extra\"");
}

TEST_CASE("LIKE is case-sensitive with % _ and escapes; tags compare as numbers when both are") {
  CHECK(LikeMatch("ranker.v2", "rank%"));
  CHECK_FALSE(LikeMatch("Ranker", "rank%"));
  CHECK(LikeMatch("abc", "a_c"));
  CHECK(LikeMatch("50%", "50\\%"));
  CHECK_FALSE(LikeMatch("500", "50\\%"));
  CHECK(LikeMatch("", "%"));
  CHECK(CompareTagValues("0.90", "0.9") == 0);
  CHECK(CompareTagValues("10", "9") == 1);
  CHECK(CompareTagValues("10", "9a") == -1);  // bytewise: '1' < '9'
  CHECK(CompareTagValues("b", "a") == 1);
}

}  // namespace
}  // namespace mlcore::registry
