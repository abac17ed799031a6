// The series codec, downsampling, and the local tracking store through Client: experiments, runs,
// exactly-once batches, immutable params, history reads, search, limits, retention.
#include <cmath>
#include <random>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include "mlcore/client.h"
#include "tracking/downsample.h"
#include "tracking/series_codec.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using testing::IsolatedEnv;
using testing::TempDir;
using tracking::Columns;

struct Store {
  TempDir dir;
  IsolatedEnv env{dir};
  std::unique_ptr<Client> client;

  Store() {
    auto opened = Client::Open("local://" + (dir / "state"));
    REQUIRE(opened.ok());
    client = std::move(opened).value();
    v1::Project p;
    p.set_name("ml");
    REQUIRE(client->CreateProject(p).ok());
  }

  v1::Run NewRun(const std::string& name, std::map<std::string, std::string> params = {}) {
    v1::CreateRunRequest create;
    create.mutable_run()->set_project("ml");
    create.mutable_run()->set_name(name);
    for (const auto& [k, v] : params) (*create.mutable_run()->mutable_params())[k] = v;
    auto run = client->CreateRun(create);
    REQUIRE(run.ok());
    return *run;
  }

  Result<v1::LogBatchResponse> Log(const std::string& run, const std::string& batch_id,
                                   const std::string& key, int64_t first, int64_t n,
                                   double (*f)(int64_t)) {
    v1::MetricBatch batch;
    batch.set_run_id(run);
    batch.set_batch_id(batch_id);
    auto* s = batch.add_metrics();
    s->set_key(key);
    for (int64_t i = first; i < first + n; ++i) {
      s->add_steps(i);
      s->add_values(f(i));
      s->add_times_unix_micros(1700000000000000 + i);
    }
    return client->LogBatch(batch);
  }

  v1::GetMetricHistoryResponse History(const std::string& run, const std::string& key,
                                       v1::DownsamplingMethod method = v1::DOWNSAMPLING_METHOD_NONE,
                                       int max_points = 0) {
    v1::GetMetricHistoryRequest get;
    get.set_run_id(run);
    get.set_key(key);
    get.mutable_downsampling()->set_method(method);
    get.mutable_downsampling()->set_max_points(max_points);
    auto h = client->GetMetricHistory(get);
    REQUIRE(h.ok());
    return *h;
  }
};

double Square(int64_t i) { return static_cast<double>(i) * 0.5; }
double Wave(int64_t i) {
  return std::sin(static_cast<double>(i) / 1000.0) + (i == 777777 ? 50 : 0);
}

TEST_CASE("chunks round-trip any steps, times and values bit-exactly") {
  std::mt19937_64 rng(7);
  Columns c;
  for (int i = 0; i < 3000; ++i) {
    c.Push(static_cast<int64_t>(rng()), static_cast<int64_t>(rng() % 1000) - 500,
           std::bit_cast<double>(rng()));
  }
  c.Push(INT64_MIN, INT64_MAX, std::nan("1"));
  c.Push(INT64_MAX, INT64_MIN, -INFINITY);
  Columns back;
  MLC_REQUIRE_OK(tracking::DecodeChunk(tracking::EncodeChunk(c, 0, c.size()), &back));
  REQUIRE(back.size() == c.size());
  CHECK(back.steps == c.steps);
  CHECK(back.times == c.times);
  CHECK(std::memcmp(back.values.data(), c.values.data(), c.size() * 8) == 0);
  // Sequential steps cost about one byte each (plus 8 per value).
  Columns seq;
  for (int i = 0; i < 1024; ++i) seq.Push(i, 1700000000000000 + i * 10, i);
  CHECK(tracking::EncodeChunk(seq, 0, seq.size()).size() < 1024 * 11);
  std::string truncated = tracking::EncodeChunk(seq, 0, seq.size());
  truncated.resize(truncated.size() - 3);
  Columns bad;
  CHECK(tracking::DecodeChunk(truncated, &bad).code() == StatusCode::kDataLoss);
}

TEST_CASE("downsampling keeps extremes and the ends") {
  Columns c;
  for (int i = 0; i < 100000; ++i) c.Push(i, i, i == 4242 ? 1e9 : std::sin(i / 100.0));
  c.values[50] = NAN;
  const Columns mm = tracking::MinMax(c, 400);
  CHECK(mm.size() <= 400);
  CHECK(std::find(mm.values.begin(), mm.values.end(), 1e9) != mm.values.end());
  CHECK(mm.steps.front() == 0);
  CHECK(mm.steps.back() == 99999);
  const Columns lt = tracking::Lttb(c, 1000);
  CHECK(lt.size() == 1000);
  CHECK(lt.steps.front() == 0);
  CHECK(lt.steps.back() == 99999);
  CHECK(std::find(lt.values.begin(), lt.values.end(), 1e9) != lt.values.end());
  CHECK(std::is_sorted(lt.steps.begin(), lt.steps.end()));
  for (double v : lt.values) CHECK(!std::isnan(v));
}

TEST_CASE("experiments: default made on first use, names unique, runs counted") {
  Store s;
  v1::ListExperimentsRequest list;
  list.set_project("ml");
  auto listed = s.client->ListExperiments(list);
  REQUIRE(listed.ok());
  REQUIRE(listed->experiments_size() == 1);
  CHECK(listed->experiments(0).name() == "default");
  v1::Experiment e;
  e.set_project("ml");
  e.set_name("sweep");
  MLC_REQUIRE_OK(s.client->CreateExperiment(e));
  CHECK(s.client->CreateExperiment(e).status().code() == StatusCode::kAlreadyExists);
  e.set_name("a/b");
  CHECK(s.client->CreateExperiment(e).status().code() == StatusCode::kInvalidArgument);
  v1::CreateRunRequest create;
  create.mutable_run()->set_experiment_id("sweep");  // a name: resolved by Client
  create.mutable_run()->set_project("ml");
  MLC_REQUIRE_OK(s.client->CreateRun(create));
  create.mutable_run()->set_experiment_id("brand-new");  // created on first use
  MLC_REQUIRE_OK(s.client->CreateRun(create));
  listed = s.client->ListExperiments(list);
  REQUIRE(listed->experiments_size() == 3);
  CHECK(listed->experiments(1).name() == "default");
  CHECK(listed->experiments(2).name() == "sweep");
  CHECK(listed->experiments(2).run_count() == 1);
  v1::Project missing;
  create.mutable_run()->set_project("nope");
  CHECK(s.client->CreateRun(create).status().code() == StatusCode::kNotFound);
}

TEST_CASE("runs: generated names, lookup by name, idempotent create, reserved tags") {
  Store s;
  v1::CreateRunRequest create;
  create.mutable_run()->set_project("ml");
  create.set_request_id("req-1");
  auto a = s.client->CreateRun(create);
  REQUIRE(a.ok());
  CHECK(a->name().find('-') != std::string::npos);  // "bold-heron-42"
  CHECK(a->status() == v1::RUN_STATUS_RUNNING);
  auto again = s.client->CreateRun(create);
  REQUIRE(again.ok());
  CHECK(again->id() == a->id());
  (*create.mutable_run()->mutable_tags())["mlc.job"] = "x";
  create.clear_request_id();
  CHECK(s.client->CreateRun(create).status().code() == StatusCode::kInvalidArgument);

  const v1::Run named = s.NewRun("baseline");
  testing::ScopedEnv project(testing::EnvMap{{"MLC_PROJECT", "ml"}});
  auto opened = Client::Open("local://" + (s.dir / "state"));
  REQUIRE(opened.ok());
  auto by_name = (*opened)->GetRun("baseline");
  REQUIRE(by_name.ok());
  CHECK(by_name->id() == named.id());
  s.NewRun("baseline");
  CHECK((*opened)->GetRun("baseline").status().code() == StatusCode::kInvalidArgument);
  CHECK((*opened)->GetRun("r000000000000").status().code() == StatusCode::kNotFound);

  v1::UpdateRunRequest end;
  end.set_id(named.id());
  end.set_status(v1::RUN_STATUS_FINISHED);
  auto ended = s.client->UpdateRun(end);
  REQUIRE(ended.ok());
  CHECK(ended->has_end_time());
  end.set_status(v1::RUN_STATUS_FAILED);
  CHECK(s.client->UpdateRun(end).status().code() == StatusCode::kFailedPrecondition);
  auto late = s.Log(named.id(), "late", "loss", 0, 1, Square);
  CHECK(late.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("batches apply exactly once; params are immutable and a conflict applies nothing") {
  Store s;
  const v1::Run run = s.NewRun("r", {{"lr", "0.01"}});
  auto first = s.Log(run.id(), "b1", "loss", 0, 10, Square);
  REQUIRE(first.ok());
  CHECK(first->points_written() == 10);
  auto dup = s.Log(run.id(), "b1", "loss", 0, 10, Square);
  REQUIRE(dup.ok());
  CHECK(dup->duplicate());
  CHECK(s.History(run.id(), "loss").total_points() == 10);

  v1::MetricBatch conflict;
  conflict.set_run_id(run.id());
  conflict.set_batch_id("b2");
  (*conflict.mutable_params())["lr"] = "0.02";
  auto* series = conflict.add_metrics();
  series->set_key("loss");
  series->add_steps(99);
  series->add_values(1);
  auto refused = s.client->LogBatch(conflict);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("\"0.01\"") != std::string::npos);
  CHECK(refused.status().message().find("\"0.02\"") != std::string::npos);
  CHECK(s.History(run.id(), "loss").total_points() == 10);  // nothing of the batch applied
  (*conflict.mutable_params())["lr"] = "0.01";  // identical re-set: fine, and b2 is still new
  MLC_CHECK_OK(s.client->LogBatch(conflict));
  CHECK(s.History(run.id(), "loss").total_points() == 11);

  v1::MetricBatch bad;
  bad.set_run_id(run.id());
  bad.set_batch_id("b3");
  auto* uneven = bad.add_metrics();
  uneven->set_key("loss");
  uneven->add_steps(1);
  CHECK(s.client->LogBatch(bad).status().code() == StatusCode::kInvalidArgument);
  uneven->add_values(1);
  uneven->set_key("bad key!");
  CHECK(s.client->LogBatch(bad).status().message().find("'!'") != std::string::npos);
  bad.clear_batch_id();
  CHECK(s.client->LogBatch(bad).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("history: long series in chunks, paging, step ranges, summaries, unsorted steps") {
  Store s;
  const v1::Run run = s.NewRun("long");
  // 300k points in uneven batches (the tail chunk is extended across batches).
  int64_t at = 0;
  int batch = 0;
  for (int64_t n : {1, 1023, 5000, 100000, 193976}) {
    MLC_REQUIRE_OK(s.Log(run.id(), "b" + std::to_string(batch++), "loss", at, n, Square));
    at += n;
  }
  auto all = s.History(run.id(), "loss");
  REQUIRE(all.series().steps_size() == 300000);
  CHECK(all.total_points() == 300000);
  for (int i = 0; i < 300000; i += 997) {
    CHECK(all.series().steps(i) == i);
    CHECK(all.series().values(i) == Square(i));
    CHECK(all.series().times_unix_micros(i) == 1700000000000000 + i);
  }
  auto got = s.client->GetRun(run.id());
  REQUIRE(got.ok());
  REQUIRE(got->metrics_size() == 1);
  CHECK(got->metrics(0).count() == 300000);
  CHECK(got->metrics(0).latest_step() == 299999);
  CHECK(got->metrics(0).min_value() == 0);
  CHECK(got->metrics(0).max_value() == Square(299999));

  v1::GetMetricHistoryRequest page;
  page.set_run_id(run.id());
  page.set_key("loss");
  page.set_min_step(1000);
  page.set_max_step(2999);
  page.set_page_size(1500);
  auto p1 = s.client->GetMetricHistory(page);
  REQUIRE(p1.ok());
  CHECK(p1->total_points() == 2000);
  REQUIRE(p1->series().steps_size() == 1500);
  CHECK(p1->series().steps(0) == 1000);
  REQUIRE(!p1->next_page_token().empty());
  page.set_page_token(p1->next_page_token());
  auto p2 = s.client->GetMetricHistory(page);
  REQUIRE(p2.ok());
  REQUIRE(p2->series().steps_size() == 500);
  CHECK(p2->series().steps(499) == 2999);
  CHECK(p2->next_page_token().empty());
  page.set_min_step(5);
  page.set_max_step(4);
  CHECK(s.client->GetMetricHistory(page).status().code() == StatusCode::kInvalidArgument);

  // A spike survives downsampling from chunk summaries, with the ends.
  const v1::Run wave = s.NewRun("wave");
  MLC_REQUIRE_OK(s.Log(wave.id(), "w", "w", 0, 1000000, Wave));
  auto mm = s.History(wave.id(), "w", v1::DOWNSAMPLING_METHOD_MINMAX, 1000);
  CHECK(mm.total_points() == 1000000);
  CHECK(mm.series().steps_size() <= 1000);
  CHECK(mm.series().steps(0) == 0);
  CHECK(mm.series().steps(mm.series().steps_size() - 1) == 999999);
  bool spike = false;
  for (int i = 0; i < mm.series().values_size(); ++i) {
    spike = spike || mm.series().steps(i) == 777777;
  }
  CHECK(spike);
  auto lt = s.History(wave.id(), "w", v1::DOWNSAMPLING_METHOD_LTTB, 1000);
  CHECK(lt.series().steps_size() == 1000);
  CHECK(std::is_sorted(lt.series().steps().begin(), lt.series().steps().end()));

  // Steps going backwards: reads come back ordered by step, then time.
  const v1::Run back = s.NewRun("back");
  MLC_REQUIRE_OK(s.Log(back.id(), "x1", "k", 100, 5, Square));
  MLC_REQUIRE_OK(s.Log(back.id(), "x2", "k", 0, 5, Square));
  auto ordered = s.History(back.id(), "k");
  REQUIRE(ordered.series().steps_size() == 10);
  CHECK(std::is_sorted(ordered.series().steps().begin(), ordered.series().steps().end()));
  CHECK(ordered.series().steps(0) == 0);

  v1::GetMetricHistoryRequest missing;
  missing.set_run_id(run.id());
  missing.set_key("acc");
  auto nf = s.client->GetMetricHistory(missing);
  CHECK(nf.status().code() == StatusCode::kNotFound);
  CHECK(nf.status().message().find("it has: loss") != std::string::npos);
}

TEST_CASE("search: filter, order, pages, parse errors with columns") {
  Store s;
  for (int i = 0; i < 25; ++i) {
    const v1::Run run = s.NewRun("run-" + std::to_string(i), {{"lr", std::to_string(i * 0.001)}});
    MLC_REQUIRE_OK(s.Log(run.id(), "b", "val_loss", 0, 1, [](int64_t) { return 0.0; }));
    v1::MetricBatch b;
    b.set_run_id(run.id());
    b.set_batch_id("v");
    auto* m = b.add_metrics();
    m->set_key("val_loss");
    m->add_steps(1);
    m->add_values(1.0 - i * 0.03);
    (*b.mutable_tags())["team"] = i % 2 ? "recsys" : "nlp";
    MLC_REQUIRE_OK(s.client->LogBatch(b));
  }
  v1::SearchRunsRequest search;
  search.set_project("ml");
  search.set_filter("params.lr < 0.01 and metrics.val_loss < 0.8 and tags.team = \"recsys\"");
  search.add_order_by("metrics.val_loss asc");
  auto found = s.client->SearchRuns(search);
  REQUIRE(found.ok());
  // lr < 0.01: i <= 9; val_loss < 0.8: i >= 7; recsys: odd -> 7, 9; best loss first.
  REQUIRE(found->runs_size() == 2);
  CHECK(found->runs(0).name() == "run-9");
  CHECK(found->runs(1).name() == "run-7");
  CHECK(found->runs(0).params().at("lr") == "0.009000");

  v1::SearchRunsRequest paged;
  paged.set_project("ml");
  paged.set_page_size(10);
  int seen = 0;
  while (true) {
    auto page = s.client->SearchRuns(paged);
    REQUIRE(page.ok());
    seen += page->runs_size();
    if (page->next_page_token().empty()) break;
    paged.set_page_token(page->next_page_token());
  }
  CHECK(seen == 25);

  search.set_filter("params.lr lr 3");
  auto bad = s.client->SearchRuns(search);
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("column 11") != std::string::npos);
}

TEST_CASE("limits: points per second and stored bytes refuse with RESOURCE_EXHAUSTED") {
  Store s;
  const v1::Run run = s.NewRun("limited");
  v1::TrackingPolicy policy;
  policy.set_project("ml");
  policy.set_max_points_per_second(1000);
  MLC_REQUIRE_OK(s.client->UpdateTrackingPolicy(policy));
  MLC_REQUIRE_OK(s.Log(run.id(), "a", "k", 0, 1500, Square));  // within the 2 s burst
  auto over = s.Log(run.id(), "b", "k", 1500, 1500, Square);
  CHECK(over.status().code() == StatusCode::kResourceExhausted);
  CHECK(over.status().message().find("retry after") != std::string::npos);
  CHECK(s.History(run.id(), "k").total_points() == 1500);
  // The refused batch id was not consumed: the same batch is accepted later.
  policy.set_max_points_per_second(0);
  policy.set_max_stored_bytes(1);
  MLC_REQUIRE_OK(s.client->UpdateTrackingPolicy(policy));
  auto full = s.Log(run.id(), "b", "k", 1500, 10, Square);
  CHECK(full.status().code() == StatusCode::kResourceExhausted);
  CHECK(full.status().message().find("mlc gc") != std::string::npos);
  auto standing = s.client->GetTrackingPolicy("ml");
  REQUIRE(standing.ok());
  CHECK(standing->stored_bytes() > 1500 * 8);
  CHECK(standing->recent_points_per_second() > 0);
  policy.set_max_stored_bytes(0);
  MLC_REQUIRE_OK(s.client->UpdateTrackingPolicy(policy));
  MLC_CHECK_OK(s.Log(run.id(), "b", "k", 1500, 10, Square));
  policy.set_max_points_per_second(-1);
  CHECK(s.client->UpdateTrackingPolicy(policy).status().code() == StatusCode::kInvalidArgument);
}

int64_t FileBytes(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

TEST_CASE("retention deletes old runs' points, keeps tagged runs, and frees the bytes") {
  Store s;
  const v1::Run old_run = s.NewRun("old");
  const v1::Run kept = s.NewRun("kept");
  const v1::Run fresh = s.NewRun("fresh");
  for (const auto* r : {&old_run, &kept, &fresh}) {
    MLC_REQUIRE_OK(s.Log(r->id(), "b", "loss", 0, 400000, Square));
  }
  v1::SetRunTagsRequest tag;
  tag.set_id(kept.id());
  (*tag.mutable_set())["keep"] = "yes";
  MLC_REQUIRE_OK(s.client->SetRunTags(tag));
  for (const auto* r : {&old_run, &kept}) {
    v1::UpdateRunRequest end;
    end.set_id(r->id());
    end.set_status(v1::RUN_STATUS_FINISHED);
    end.mutable_end_time()->set_seconds(1577836800);  // 2020-01-01
    MLC_REQUIRE_OK(s.client->UpdateRun(end));
  }
  v1::ApplyRetentionRequest apply;
  apply.set_project("ml");
  CHECK(s.client->ApplyRetention(apply).status().code() == StatusCode::kFailedPrecondition);
  v1::TrackingPolicy policy;
  policy.set_project("ml");
  policy.mutable_retention()->mutable_max_age()->set_seconds(86400 * 30);
  policy.mutable_retention()->set_delete_metrics(true);
  MLC_REQUIRE_OK(s.client->UpdateTrackingPolicy(policy));
  apply.set_dry_run(true);
  auto dry = s.client->ApplyRetention(apply);
  REQUIRE(dry.ok());
  CHECK(dry->runs_affected() == 1);
  CHECK(dry->points_deleted() == 400000);
  CHECK(s.History(old_run.id(), "loss").total_points() == 400000);

  const std::string db = s.dir / "state/tracking.db";
  const int64_t before = FileBytes(db) + FileBytes(db + "-wal");
  apply.set_dry_run(false);
  auto done = s.client->ApplyRetention(apply);
  REQUIRE(done.ok());
  CHECK(done->points_deleted() == 400000);
  CHECK(done->bytes_freed() > 400000 * 8);
  CHECK(s.History(old_run.id(), "loss").total_points() == 0);
  CHECK(s.History(kept.id(), "loss").total_points() == 400000);
  CHECK(s.History(fresh.id(), "loss").total_points() == 400000);
  auto summary = s.client->GetRun(old_run.id());
  REQUIRE(summary.ok());
  CHECK(summary->metrics(0).count() == 400000);  // summaries stay
  // The file itself shrank once the WAL is checkpointed into it.
  s.client.reset();  // the last connection checkpoints the WAL into the file
  INFO("before " << before << " after " << FileBytes(db));
  CHECK(FileBytes(db) < before - done->bytes_freed() / 2);
}

TEST_CASE("delete run removes its points and frees its bytes") {
  Store s;
  const v1::Run run = s.NewRun("gone");
  auto refused = s.client->DeleteProject("ml");
  CHECK(refused.code() == StatusCode::kFailedPrecondition);
  CHECK(refused.message().find("1 tracking runs") != std::string::npos);
  MLC_REQUIRE_OK(s.Log(run.id(), "b", "loss", 0, 1000, Square));
  const int64_t stored = s.client->GetTrackingPolicy("ml")->stored_bytes();
  CHECK(stored > 0);
  MLC_REQUIRE_OK(s.client->DeleteRun(run.id()));
  CHECK(s.client->GetRun(run.id()).status().code() == StatusCode::kNotFound);
  CHECK(s.client->GetTrackingPolicy("ml")->stored_bytes() == 0);
  MLC_CHECK_OK(s.client->DeleteProject("ml"));
  v1::Project again;
  again.set_name("ml");
  MLC_REQUIRE_OK(s.client->CreateProject(again));  // a new project of the same name starts clean
  v1::ListExperimentsRequest list;
  list.set_project("ml");
  CHECK(s.client->ListExperiments(list)->experiments(0).run_count() == 0);
  CHECK(s.client->GetTrackingPolicy("ml")->stored_bytes() == 0);
}

}  // namespace
}  // namespace mlcore
