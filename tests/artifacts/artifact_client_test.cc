// Artifacts through Client on the local backend: log a directory or file for a run or job, list,
// download (whole and partial) with lineage, re-upload without re-reading, delete and collect.
#include <fcntl.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "mlcore/client.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using testing::IsolatedEnv;
using testing::TempDir;
using testing::WriteFile;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct Fixture {
  TempDir dir;
  IsolatedEnv env{dir};
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

  v1::ObjectRef RunRef() const {
    v1::ObjectRef ref;
    ref.set_kind(v1::OBJECT_KIND_RUN);
    ref.set_id(run.id());
    return ref;
  }
};

TEST_CASE("a run's directory artifact round-trips, partially too, with lineage") {
  Fixture f;
  std::filesystem::create_directories(f.dir / "model/weights");
  WriteFile(f.dir / "model/config.json", "{\"layers\": 4}");
  WriteFile(f.dir / "model/weights/w.bin", std::string(3 << 20, 'x'));
  chmod((f.dir / "model/config.json").c_str(), 0600);
  uint64_t last_total = 0;
  auto a = f.client->LogArtifact(f.RunRef(), f.dir / "model", "", v1::ARTIFACT_KIND_MODEL,
                                 {{"step", "100"}}, [&](uint64_t, uint64_t total) {
                                   last_total = total;
                                   return true;
                                 });
  REQUIRE(a.ok());
  CHECK(a->path() == "model");
  CHECK(a->file_count() == 2);
  CHECK(a->size_bytes() == (3 << 20) + 13);
  CHECK(a->owner().display_name() == "train");
  CHECK(last_total > 0);
  auto dup = f.client->LogArtifact(f.RunRef(), f.dir / "model");
  CHECK(dup.status().code() == StatusCode::kAlreadyExists);

  v1::ObjectRef consumer;
  consumer.set_kind(v1::OBJECT_KIND_JOB);
  consumer.set_id("j000000000001");
  auto got = f.client->DownloadArtifact(a->id(), f.dir / "out", "", consumer);
  REQUIRE(got.ok());
  CHECK(Read(f.dir / "out/config.json") == "{\"layers\": 4}");
  CHECK(Read(f.dir / "out/weights/w.bin").size() == (3u << 20));
  struct stat st {};
  REQUIRE(stat((f.dir / "out/config.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto part = f.client->DownloadArtifact(a->id(), f.dir / "part", "config.json");
  REQUIRE(part.ok());
  CHECK(std::filesystem::exists(f.dir / "part/config.json"));
  CHECK_FALSE(std::filesystem::exists(f.dir / "part/weights"));
  CHECK(f.client->DownloadArtifact(a->id(), f.dir / "x", "../etc").status().code() ==
        StatusCode::kInvalidArgument);

  auto lineage = f.client->GetLineage(a->id());
  REQUIRE(lineage.ok());
  CHECK(lineage->producer().id() == f.run.id());
  REQUIRE(lineage->consumers_size() == 1);
  CHECK(lineage->consumers(0).id() == "j000000000001");

  v1::ListArtifactsRequest list;
  list.set_project("ml");
  *list.mutable_owner() = f.RunRef();
  auto listed = f.client->ListArtifacts(list);
  REQUIRE(listed.ok());
  REQUIRE(listed->artifacts_size() == 1);
  CHECK(listed->artifacts(0).labels().at("step") == "100");
}

TEST_CASE("identical content is stored once; unsafe trees are refused; GC frees deleted blobs") {
  Fixture f;
  WriteFile(f.dir / "a.bin", std::string(1 << 20, 'a'));
  auto first = f.client->LogArtifact(f.RunRef(), f.dir / "a.bin", "copy-1");
  auto second = f.client->LogArtifact(f.RunRef(), f.dir / "a.bin", "copy-2");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->manifest_digest() == second->manifest_digest());
  CHECK(first->kind() == v1::ARTIFACT_KIND_FILE);

  std::filesystem::create_directories(f.dir / "evil");
  std::filesystem::create_symlink("/etc/passwd", f.dir / "evil/link");
  auto refused = f.client->LogArtifact(f.RunRef(), f.dir / "evil");
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("link") != std::string::npos);
  CHECK(f.client->LogArtifact(f.RunRef(), f.dir / "a.bin", "../up").status().code() ==
        StatusCode::kInvalidArgument);
  v1::ObjectRef nobody;
  nobody.set_kind(v1::OBJECT_KIND_RUN);
  nobody.set_id("r000000000000");
  CHECK(f.client->LogArtifact(nobody, f.dir / "a.bin").status().code() == StatusCode::kNotFound);

  MLC_REQUIRE_OK(f.client->DeleteArtifact(first->id()));
  v1::CollectGarbageRequest gc;
  gc.mutable_min_age()->set_seconds(60);
  auto kept = f.client->CollectGarbage(gc);
  REQUIRE(kept.ok());
  CHECK(kept->blobs_removed() == 0);  // still referenced by copy-2 (and young)
  MLC_REQUIRE_OK(f.client->DeleteArtifact(second->id()));
  gc.set_dry_run(true);
  auto dry = f.client->CollectGarbage(gc);
  REQUIRE(dry.ok());
  CHECK(dry->blobs_removed() == 0);  // younger than min_age: an upload may still reference it
  // Two hours later (the manifest's record and the blob's mtime moved back): collected.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir / "state/artifacts.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE manifests SET create_us = create_us - 7200000000", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  v1::GetManifestRequest get;
  get.set_digest(first->manifest_digest());
  auto manifest = f.client->GetManifest(get);
  REQUIRE(manifest.ok());
  const std::string digest = manifest->entries(0).digest();
  const std::string blob =
      f.dir / ("state/artifacts/blobs/sha256/" + digest.substr(0, 2) + "/" + digest.substr(2));
  REQUIRE(std::filesystem::exists(blob));
  utimbuf old_times{time(nullptr) - 7200, time(nullptr) - 7200};
  REQUIRE(utime(blob.c_str(), &old_times) == 0);
  gc.set_dry_run(false);
  gc.mutable_min_age()->set_seconds(0);  // 0 = the 1 h default
  auto done = f.client->CollectGarbage(gc);
  REQUIRE(done.ok());
  CHECK(done->blobs_removed() == 1);
  CHECK(done->bytes_freed() >= (1 << 20));
  CHECK(done->manifests_removed() == 1);
  CHECK_FALSE(std::filesystem::exists(blob));
  CHECK(f.client->GetArtifact(first->id()).status().code() == StatusCode::kNotFound);
}

TEST_CASE("re-logging an unchanged single file does not read it again") {
  Fixture f;
  const std::string file = f.dir / "weights.bin";
  WriteFile(file, std::string(1 << 20, 'a'));
  auto first = f.client->LogArtifact(f.RunRef(), file, "w1");
  REQUIRE(first.ok());
  // Same size, same inode, mtime put back: the stamp matches, so the (changed) bytes are not
  // read and the stored digest is reused - the proof that nothing was re-read.
  struct stat st {};
  REQUIRE(stat(file.c_str(), &st) == 0);
  {
    std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(0);
    out.put('b');
  }
  timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
  auto second = f.client->LogArtifact(f.RunRef(), file, "w2");
  REQUIRE(second.ok());
  CHECK(second->manifest_digest() == first->manifest_digest());
  // A new mtime: read again, new content.
  timespec later[2] = {st.st_atim, {st.st_mtim.tv_sec + 10, 0}};
  REQUIRE(utimensat(AT_FDCWD, file.c_str(), later, 0) == 0);
  auto third = f.client->LogArtifact(f.RunRef(), file, "w3");
  REQUIRE(third.ok());
  CHECK(third->manifest_digest() != first->manifest_digest());
}

}  // namespace
}  // namespace mlcore
