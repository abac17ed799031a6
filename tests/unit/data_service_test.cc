// The data cache through Client on the local backend: loads of paths and artifacts (files and
// directory trees), project scoping, pins and evictions of trees, prefetch, and jobs whose input
// datasets are loaded and pinned before they start and whose outputs become artifacts.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <doctest/doctest.h>

#include "mlcore/client.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using namespace std::chrono_literals;
using testing::EnvMap;
using testing::IsolatedEnv;
using testing::ScopedEnv;
using testing::TempDir;
using testing::WriteFile;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct Fixture {
  TempDir dir;
  IsolatedEnv env{dir};
  ScopedEnv capacity{EnvMap{{"MLC_NODE_CAPACITY", "cpu=4,memory=8Gi,gpu=0"}}};
  std::unique_ptr<Client> client;
  v1::Run run;

  Fixture() {
    auto opened = Client::Open("local://" + (dir / "state"));
    REQUIRE(opened.ok());
    client = std::move(opened).value();
    for (const char* name : {"ml", "other"}) {
      v1::Project p;
      p.set_name(name);
      REQUIRE(client->CreateProject(p).ok());
    }
    v1::CreateRunRequest create;
    create.mutable_run()->set_project("ml");
    create.mutable_run()->set_name("prep");
    auto r = client->CreateRun(create);
    REQUIRE(r.ok());
    run = *r;
  }

  v1::ObjectRef RunRef() const {
    v1::ObjectRef ref;
    ref.set_kind(v1::OBJECT_KIND_RUN);
    ref.set_id(run.id());
    return ref;
  }

  // A logged directory artifact: a.txt, sub/b.txt.
  v1::Artifact LogDataset() {
    std::filesystem::create_directories(dir / "ds/sub");
    WriteFile(dir / "ds/a.txt", "alpha\n");
    WriteFile(dir / "ds/sub/b.txt", "beta\n");
    auto a = client->LogArtifact(RunRef(), dir / "ds");
    REQUIRE(a.ok());
    return *a;
  }

  Result<v1::LoadResponse> Load(const std::string& uri, const std::string& project = "ml",
                                const std::string& digest = {}) {
    v1::LoadRequest r;
    r.set_project(project);
    r.set_uri(uri);
    r.set_digest(digest);
    return client->LoadData(r);
  }

  size_t Listed(const std::string& project, bool pinned_only = false) {
    v1::ListCacheEntriesRequest r;
    r.set_project(project);
    r.set_pinned_only(pinned_only);
    auto listed = client->ListCacheEntries(r);
    REQUIRE(listed.ok());
    return static_cast<size_t>(listed->entries_size());
  }

  v1::Job WaitEnded(const std::string& id) {
    auto start = std::chrono::steady_clock::now();
    for (;;) {
      auto job = client->GetJob(id);
      REQUIRE(job.ok());
      auto s = job->state();
      if (s == v1::JOB_STATE_SUCCEEDED || s == v1::JOB_STATE_FAILED ||
          s == v1::JOB_STATE_CANCELLED || s == v1::JOB_STATE_LOST) {
        return *job;
      }
      REQUIRE(std::chrono::steady_clock::now() - start < 60s);
      std::this_thread::sleep_for(20ms);
    }
  }
};

TEST_CASE("a path loads from the origin once, then from the hot tier, scoped to its project") {
  Fixture f;
  WriteFile(f.dir / "data.bin", std::string(70000, 'd'));
  auto first = f.Load(f.dir / "data.bin");
  MLC_REQUIRE_OK(first);
  CHECK(first->source() == v1::LOAD_SOURCE_ORIGIN);
  CHECK(first->size_bytes() == 70000);
  CHECK(Read(first->local_path()) == std::string(70000, 'd'));
  auto second = f.Load(f.dir / "data.bin");
  MLC_REQUIRE_OK(second);
  CHECK(second->source() == v1::LOAD_SOURCE_HOT);
  CHECK(second->local_path() == first->local_path());
  CHECK(f.Listed("ml") == 1);
  CHECK(f.Listed("other") == 0);
  CHECK(f.Listed("") == 1);
  auto stats = f.client->GetCacheStats();
  MLC_REQUIRE_OK(stats);
  REQUIRE(stats->tiers_size() >= 1);
  CHECK(stats->tiers(0).hits() == 1);
  CHECK(stats->tiers(0).misses() == 1);
  CHECK(stats->origin_fetches() == 1);
  CHECK(stats->tiers(0).capacity_bytes() > 0);  // a default cap, never an unbounded cache
}

TEST_CASE("artifact:// loads a file or a directory tree, verified, and only in its project") {
  Fixture f;
  v1::Artifact a = f.LogDataset();
  auto tree = f.Load("artifact://" + a.id());
  MLC_REQUIRE_OK(tree);
  CHECK(tree->source() == v1::LOAD_SOURCE_ORIGIN);
  CHECK(tree->digest() == a.manifest_digest());
  CHECK(Read(tree->local_path() + "/a.txt") == "alpha\n");
  CHECK(Read(tree->local_path() + "/sub/b.txt") == "beta\n");
  auto again = f.Load("artifact://" + a.id());
  MLC_REQUIRE_OK(again);
  CHECK(again->source() == v1::LOAD_SOURCE_HOT);
  CHECK(again->local_path() == tree->local_path());

  auto sub = f.Load("artifact://" + a.id() + "/sub");
  MLC_REQUIRE_OK(sub);
  CHECK(Read(sub->local_path() + "/b.txt") == "beta\n");
  auto file = f.Load("artifact://" + a.id() + "/sub/b.txt");
  MLC_REQUIRE_OK(file);
  CHECK(file->source() == v1::LOAD_SOURCE_HOT);  // loaded with the tree
  CHECK(Read(file->local_path()) == "beta\n");

  auto wrong = f.Load("artifact://" + a.id(), "ml", std::string(64, 'a'));
  CHECK(wrong.status().code() == StatusCode::kFailedPrecondition);
  CHECK(f.Load("artifact://" + a.id(), "other").status().code() == StatusCode::kNotFound);
  CHECK(f.Load("artifact://anid0000000").status().code() == StatusCode::kNotFound);
  CHECK(f.Load("artifact://" + a.id() + "/nope").status().code() == StatusCode::kNotFound);
  auto scheme = f.Load("ftp://example.com/x");
  CHECK(scheme.status().code() == StatusCode::kInvalidArgument);
  CHECK(scheme.status().message().find("artifact") != std::string::npos);
  CHECK(f.Load("models:/churn@champion").status().code() == StatusCode::kNotFound);
}

TEST_CASE("pins of a tree hold every file; evicting it is refused until unpinned") {
  Fixture f;
  v1::Artifact a = f.LogDataset();
  const std::string uri = "artifact://" + a.id();
  MLC_REQUIRE_OK(f.Load(uri));
  v1::PinRequest pin;
  pin.set_project("ml");
  pin.set_uri(uri);
  pin.set_owner("user:ann");
  auto pinned = f.client->PinData(pin);
  MLC_REQUIRE_OK(pinned);
  CHECK(pinned->pinned());
  CHECK(pinned->size_bytes() == 11);
  CHECK(f.Listed("ml", true) == 2);
  v1::EvictRequest evict;
  evict.set_uri(uri);
  auto refused = f.client->EvictData(evict);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("user:ann") != std::string::npos);
  v1::UnpinRequest unpin;
  unpin.set_project("ml");
  unpin.set_uri(uri);
  unpin.set_owner("user:ann");
  auto released = f.client->UnpinData(unpin);
  MLC_REQUIRE_OK(released);
  CHECK_FALSE(released->pinned());
  auto evicted = f.client->EvictData(evict);
  MLC_REQUIRE_OK(evicted);
  CHECK(evicted->bytes_freed() == 11);
  CHECK(f.Listed("ml") == 0);
  CHECK_FALSE(std::filesystem::exists(pinned->local_path()));
  CHECK(f.client->EvictData(evict).status().code() == StatusCode::kNotFound);
}

TEST_CASE("prefetch reports each item; one bad item does not stop the others") {
  Fixture f;
  WriteFile(f.dir / "good.bin", "good");
  v1::PrefetchRequest r;
  r.set_project("ml");
  r.set_wait(true);
  r.add_items()->set_uri(f.dir / "good.bin");
  r.add_items()->set_uri(f.dir / "missing.bin");
  auto out = f.client->PrefetchData(r);
  MLC_REQUIRE_OK(out);
  REQUIRE(out->results_size() == 2);
  CHECK(out->results(0).code() == 0);
  CHECK(out->results(0).digest().size() == 64);
  CHECK(out->results(1).code() == static_cast<int>(StatusCode::kNotFound));
  CHECK(out->results(1).message().find("missing.bin") != std::string::npos);
  CHECK(f.Listed("ml") == 1);
  v1::PrefetchRequest empty;
  empty.set_project("ml");
  CHECK(f.client->PrefetchData(empty).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a job's inputs are loaded and pinned before it starts; its outputs become artifacts") {
  Fixture f;
  v1::Artifact a = f.LogDataset();
  WriteFile(f.dir / "labels.csv", "id,label\n1,0\n");
  v1::JobSpec spec;
  spec.set_project("ml");
  spec.set_name("train");
  spec.add_command("sh");
  spec.add_command("-c");
  spec.add_command(
      "set -e; test \"$(cat $MLC_INPUT_DATASET_0/sub/b.txt)\" = beta; "
      "test \"$(head -1 $MLC_INPUT_DATASET_1)\" = id,label; "
      "case \"$MLC_INPUT_DATASETS\" in *:*) ;; *) exit 3;; esac; "
      "mkdir -p out; echo weights > out/model.bin; echo 0.9 > score.txt");
  spec.set_working_dir(f.dir.path());
  spec.mutable_resources()->set_cpu_millis(1000);
  spec.add_input_datasets()->set_uri("artifact://" + a.id());
  spec.add_input_datasets()->set_uri("file://" + (f.dir / "labels.csv"));
  spec.add_output_paths("out");
  spec.add_output_paths("*.txt");
  spec.add_output_paths("never-*");
  auto submitted = f.client->SubmitJob(spec);
  MLC_REQUIRE_OK(submitted);
  v1::Job job = f.WaitEnded(submitted->id());
  INFO(job.message());
  REQUIRE(job.state() == v1::JOB_STATE_SUCCEEDED);
  REQUIRE(job.reproducibility().input_datasets_size() == 2);
  CHECK(job.reproducibility().input_datasets(0).digest() == a.manifest_digest());
  CHECK(job.reproducibility().input_datasets(1).size_bytes() == 13);
  CHECK(f.Listed("ml", true) == 0);  // the job's pins ended with it

  v1::ListArtifactsRequest list;
  list.set_project("ml");
  list.mutable_owner()->set_kind(v1::OBJECT_KIND_JOB);
  list.mutable_owner()->set_id(job.id());
  auto outputs = f.client->ListArtifacts(list);
  MLC_REQUIRE_OK(outputs);
  std::set<std::string> paths;
  for (const auto& o : outputs->artifacts()) paths.insert(o.path());
  CHECK(paths == std::set<std::string>{"out", "score.txt"});
  CHECK(job.output_artifact_ids_size() == 2);

  auto lineage = f.client->GetLineage(a.id());
  MLC_REQUIRE_OK(lineage);
  REQUIRE(lineage->consumers_size() == 1);
  CHECK(lineage->consumers(0).id() == job.id());
}

TEST_CASE("a job whose input cannot be loaded fails before it starts, naming the input") {
  Fixture f;
  v1::JobSpec spec;
  spec.set_project("ml");
  spec.add_command("true");
  spec.mutable_resources()->set_cpu_millis(1000);
  spec.add_input_datasets()->set_uri("file://" + (f.dir / "gone.parquet"));
  auto submitted = f.client->SubmitJob(spec);
  MLC_REQUIRE_OK(submitted);
  v1::Job job = f.WaitEnded(submitted->id());
  CHECK(job.state() == v1::JOB_STATE_FAILED);
  CHECK(job.message().find("gone.parquet") != std::string::npos);
  CHECK_FALSE(job.has_start_time());
}

TEST_CASE("models:/ URIs load a version's files through the registry, following aliases") {
  Fixture f;
  v1::RegisteredModel model;
  model.set_project("ml");
  model.set_name("ranker");
  MLC_REQUIRE_OK(f.client->CreateRegisteredModel(model));
  auto version_of = [&](const std::string& weights) {
    std::filesystem::create_directories(f.dir / weights);
    WriteFile(f.dir / (weights + "/model.bin"), weights);
    auto a = f.client->LogArtifact(f.RunRef(), f.dir / weights);
    REQUIRE(a.ok());
    v1::CreateModelVersionRequest create;
    create.set_project("ml");
    create.set_model("ranker");
    create.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_ARTIFACT);
    create.mutable_source()->set_artifact_id(a->id());
    auto v = f.client->CreateModelVersion(create);
    REQUIRE(v.ok());
    return v->version();
  };
  auto point = [&](int64_t version) {
    v1::SetModelAliasRequest set;
    set.set_project("ml");
    set.set_model("ranker");
    set.set_alias("champion");
    set.set_version(version);
    MLC_REQUIRE_OK(f.client->SetModelAlias(set));
  };
  point(version_of("v1-weights"));
  auto first = f.Load("models:/ranker@champion");
  MLC_REQUIRE_OK(first);
  CHECK(first->source() == v1::LOAD_SOURCE_ORIGIN);
  CHECK(Read(first->local_path() + "/model.bin") == "v1-weights");
  auto hit = f.Load("models:/ml/ranker/1");
  MLC_REQUIRE_OK(hit);
  CHECK(hit->source() == v1::LOAD_SOURCE_HOT);  // the same files, cached once
  CHECK(hit->local_path() == first->local_path());
  point(version_of("v2-weights"));
  auto moved = f.Load("models:/ranker@champion");
  MLC_REQUIRE_OK(moved);
  CHECK(Read(moved->local_path() + "/model.bin") == "v2-weights");
  auto latest = f.Load("models:/ranker@latest");
  MLC_REQUIRE_OK(latest);
  CHECK(latest->local_path() == moved->local_path());
  CHECK(f.Load("models:/ranker/9").status().code() == StatusCode::kNotFound);
  CHECK(f.Load("models:/ranker@champion", "other").status().code() == StatusCode::kNotFound);

  // A job's input: the alias as it points when the job starts.
  v1::JobSpec spec;
  spec.set_project("ml");
  spec.add_command("sh");
  spec.add_command("-c");
  spec.add_command("test \"$(cat $MLC_INPUT_DATASET_0/model.bin)\" = v2-weights");
  spec.mutable_resources()->set_cpu_millis(1000);
  spec.add_input_datasets()->set_uri("models:/ranker@champion");
  auto submitted = f.client->SubmitJob(spec);
  MLC_REQUIRE_OK(submitted);
  v1::Job job = f.WaitEnded(submitted->id());
  INFO(job.message());
  CHECK(job.state() == v1::JOB_STATE_SUCCEEDED);
  REQUIRE(job.reproducibility().input_datasets_size() == 1);
  CHECK(job.reproducibility().input_datasets(0).digest() == moved->digest());
}

}  // namespace
}  // namespace mlcore
