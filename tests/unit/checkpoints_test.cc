// Checkpoints: saved to the hot tier at once, uploaded in the background, restored from the hot
// tier when present and from the artifact store on another machine; a rerun job inherits the key.
#include "mlcore/checkpoints.h"

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

int CountSteps(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().starts_with("step-")) ++n;
  }
  return n;
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
    v1::Project p;
    p.set_name("ml");
    REQUIRE(client->CreateProject(p).ok());
    v1::CreateRunRequest create;
    create.mutable_run()->set_project("ml");
    create.mutable_run()->set_name("train");
    auto r = client->CreateRun(create);
    REQUIRE(r.ok());
    run = *r;
  }

  CheckpointOptions Options(const std::string& hot) const {
    CheckpointOptions o;
    o.owner.set_kind(v1::OBJECT_KIND_RUN);
    o.owner.set_id(run.id());
    o.dir = dir / hot;
    return o;
  }
};

TEST_CASE("checkpoints are restored from the hot tier, or from the store on another machine") {
  Fixture f;
  auto ckpt = Checkpoints::Open(*f.client, f.Options("hot-a"));
  MLC_REQUIRE_OK(ckpt);
  CHECK((*ckpt)->key() == f.run.id());
  CHECK((*ckpt)->RestoreLatest().status().code() == StatusCode::kNotFound);

  std::filesystem::create_directories(f.dir / "model");
  WriteFile(f.dir / "model/weights.bin", "step-10 weights");
  auto saved = (*ckpt)->Save(f.dir / "model", 10);
  MLC_REQUIRE_OK(saved);
  CHECK(Read(saved->local_path + "/weights.bin") == "step-10 weights");
  CHECK((*ckpt)->Save(f.dir / "model", 10).status().code() == StatusCode::kAlreadyExists);

  auto begun = (*ckpt)->Begin(20);
  MLC_REQUIRE_OK(begun);
  WriteFile(*begun + "/weights.bin", "step-20 weights");
  MLC_REQUIRE_OK((*ckpt)->Commit(20));
  MLC_REQUIRE_OK((*ckpt)->Flush());

  v1::ListArtifactsRequest list;
  list.set_project("ml");
  list.set_kind(v1::ARTIFACT_KIND_CHECKPOINT);
  auto stored = f.client->ListArtifacts(list);
  MLC_REQUIRE_OK(stored);
  CHECK(stored->artifacts_size() == 2);

  auto latest = (*ckpt)->RestoreLatest();
  MLC_REQUIRE_OK(latest);
  CHECK(latest->step == 20);
  CHECK(latest->from_hot_tier);
  CHECK(latest->artifact_id.size() > 0);

  // Another machine: an empty hot tier, the same key.
  auto other = Checkpoints::Open(*f.client, f.Options("hot-b"));
  MLC_REQUIRE_OK(other);
  auto restored = (*other)->RestoreLatest();
  MLC_REQUIRE_OK(restored);
  CHECK(restored->step == 20);
  CHECK_FALSE(restored->from_hot_tier);
  CHECK(Read(restored->local_path + "/weights.bin") == "step-20 weights");
  auto again = (*other)->RestoreLatest();  // now local
  MLC_REQUIRE_OK(again);
  CHECK(again->from_hot_tier);
}

TEST_CASE("only the newest uploaded checkpoints stay on the hot tier") {
  Fixture f;
  auto options = f.Options("hot");
  options.keep_local = 2;
  auto ckpt = Checkpoints::Open(*f.client, options);
  MLC_REQUIRE_OK(ckpt);
  for (int step = 1; step <= 4; ++step) {
    WriteFile(f.dir / "w.bin", "weights " + std::to_string(step));
    MLC_REQUIRE_OK((*ckpt)->Save(f.dir / "w.bin", step));
  }
  MLC_REQUIRE_OK((*ckpt)->Flush());
  CHECK(CountSteps((*ckpt)->dir()) == 2);
  auto latest = (*ckpt)->RestoreLatest();
  MLC_REQUIRE_OK(latest);
  CHECK(latest->step == 4);
  CHECK(Read(latest->local_path + "/w.bin") == "weights 4");
}

TEST_CASE("checkpoints refuse bad input with clear errors") {
  Fixture f;
  auto none = Checkpoints::Open(*f.client, CheckpointOptions{});
  CHECK(none.status().code() == StatusCode::kInvalidArgument);
  auto options = f.Options("hot");
  options.key = "../escape";
  CHECK(Checkpoints::Open(*f.client, options).status().code() == StatusCode::kInvalidArgument);
  auto ckpt = Checkpoints::Open(*f.client, f.Options("hot"));
  MLC_REQUIRE_OK(ckpt);
  CHECK((*ckpt)->Save(f.dir / "missing", 1).status().code() == StatusCode::kNotFound);
  CHECK((*ckpt)->Begin(-1).status().code() == StatusCode::kInvalidArgument);
  CHECK((*ckpt)->Commit(7).status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("a rerun job gets the checkpoint key of the job it reruns") {
  Fixture f;
  v1::JobSpec spec;
  spec.set_project("ml");
  spec.set_name("first");
  spec.add_command("sh");
  spec.add_command("-c");
  spec.add_command("echo $MLC_CHECKPOINT_KEY > key-$MLC_JOB_NAME.txt");
  spec.set_working_dir(f.dir.path());
  spec.mutable_resources()->set_cpu_millis(1000);
  auto first = f.client->SubmitJob(spec);
  MLC_REQUIRE_OK(first);
  auto wait = [&](const std::string& id) {
    auto start = std::chrono::steady_clock::now();
    for (;;) {
      auto job = f.client->GetJob(id);
      REQUIRE(job.ok());
      if (job->state() == v1::JOB_STATE_SUCCEEDED || job->state() == v1::JOB_STATE_FAILED) {
        return *job;
      }
      REQUIRE(std::chrono::steady_clock::now() - start < 60s);
      std::this_thread::sleep_for(20ms);
    }
  };
  CHECK(wait(first->id()).state() == v1::JOB_STATE_SUCCEEDED);
  auto second = f.client->RerunJob(first->id(), "second");
  MLC_REQUIRE_OK(second);
  CHECK(wait(second->id()).state() == v1::JOB_STATE_SUCCEEDED);
  auto third = f.client->RerunJob(second->id(), "third");
  MLC_REQUIRE_OK(third);
  CHECK(wait(third->id()).state() == v1::JOB_STATE_SUCCEEDED);
  CHECK(Read(f.dir / "key-first.txt") == first->id() + "\n");
  CHECK(Read(f.dir / "key-second.txt") == first->id() + "\n");
  CHECK(Read(f.dir / "key-third.txt") == first->id() + "\n");
}

}  // namespace
}  // namespace mlcore
