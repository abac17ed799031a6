// Per-project visibility of the shared, content-addressed store on the local engine: a project
// reads only blobs and manifests it uploaded or was given, whatever digests it knows; uploads are
// kept apart by project; stores from before the records derive them on open.
#include <filesystem>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "unit/test_support.h"

namespace mlcore {
namespace {

using testing::IsolatedEnv;
using testing::TempDir;
using testing::WriteFile;

struct Fixture {
  TempDir dir;
  IsolatedEnv env{dir};
  std::unique_ptr<Client> client;
  v1::Run run_a;

  Fixture() { Reopen(); }

  void Reopen() {
    client.reset();
    auto opened = Client::Open("local://" + (dir / "state"));
    REQUIRE(opened.ok());
    client = std::move(opened).value();
    for (const char* name : {"alpha", "beta"}) {
      v1::Project p;
      p.set_name(name);
      auto made = client->CreateProject(p);
      REQUIRE((made.ok() || made.status().code() == StatusCode::kAlreadyExists));
    }
    if (run_a.id().empty()) {
      v1::CreateRunRequest create;
      create.mutable_run()->set_project("alpha");
      create.mutable_run()->set_name("train");
      auto r = client->CreateRun(create);
      REQUIRE(r.ok());
      run_a = *r;
    }
  }

  v1::ObjectRef RunA() const {
    v1::ObjectRef ref;
    ref.set_kind(v1::OBJECT_KIND_RUN);
    ref.set_id(run_a.id());
    return ref;
  }

  Backend& backend() { return client->backend(); }

  // Uploads `bytes` as one blob for `project` through the blob-transfer calls the server uses.
  Result<v1::UploadBlobResponse> Upload(const std::string& project, const std::string& id,
                                        const std::string& bytes) {
    v1::UploadBlobHeader header;
    header.set_project(project);
    header.set_upload_id(id);
    MLC_ASSIGN_OR_RETURN(int64_t at, backend().BeginBlobUpload(header));
    MLC_RETURN_IF_ERROR(backend().AppendBlobUpload(project, id, at, bytes).status());
    return backend().CommitBlobUpload(project, id);
  }

  Status Read(const std::string& project, const std::string& digest, std::string* out) {
    v1::DownloadBlobRequest r;
    r.set_project(project);
    r.set_digest(digest);
    return backend().ReadBlob(r, [&](const v1::DownloadBlobResponse& chunk) {
      *out += chunk.data();
      return true;
    });
  }
};

constexpr const char* kNothing = "0000000000000000000000000000000000000000000000000000000000000000";

// An error's words with `digest` taken out: what a caller learns besides the digest it sent.
std::string Words(const Status& s, const std::string& digest) {
  std::string m(s.message());
  size_t at = m.find(digest);
  return at == std::string::npos ? m : m.replace(at, digest.size(), "D");
}

TEST_CASE("another project's digest reads, lists and references exactly like no content") {
  Fixture f;
  WriteFile(f.dir / "secret.bin", "alpha's weights");
  auto a = f.client->LogArtifact(f.RunA(), f.dir / "secret.bin");
  REQUIRE(a.ok());
  v1::GetManifestRequest get;
  get.set_project("alpha");
  get.set_digest(a->manifest_digest());
  auto manifest = f.client->GetManifest(get);
  REQUIRE(manifest.ok());
  const std::string blob = manifest->entries(0).digest();

  // alpha reads its own.
  std::string bytes;
  MLC_REQUIRE_OK(f.Read("alpha", blob, &bytes));
  CHECK(bytes == "alpha's weights");

  // beta knows both digests, and learns nothing from them.
  std::string leaked;
  Status read = f.Read("beta", blob, &leaked);
  Status none = f.Read("beta", kNothing, &leaked);
  CHECK(read.code() == StatusCode::kNotFound);
  CHECK(leaked.empty());
  CHECK(none.code() == StatusCode::kNotFound);
  CHECK(Words(read, blob) == Words(none, kNothing));

  get.set_project("beta");
  auto hidden = f.client->GetManifest(get);
  CHECK(hidden.status().code() == StatusCode::kNotFound);
  get.set_digest(kNothing);
  CHECK(Words(f.client->GetManifest(get).status(), kNothing) ==
        Words(hidden.status(), a->manifest_digest()));
  // By artifact id within the wrong project: not found either.
  v1::GetManifestRequest by_id;
  by_id.set_project("beta");
  by_id.set_artifact_id(a->id());
  CHECK(f.client->GetManifest(by_id).status().code() == StatusCode::kNotFound);

  v1::FindMissingBlobsRequest ask;
  ask.set_project("beta");
  ask.add_digests(blob);
  auto missing = f.client->FindMissingBlobs(ask);
  REQUIRE(missing.ok());
  REQUIRE(missing->missing_digests_size() == 1);  // stored, but not for beta: upload it
  ask.set_project("alpha");
  auto present = f.client->FindMissingBlobs(ask);
  REQUIRE(present.ok());
  CHECK(present->missing_digests_size() == 0);

  // Nor can beta reference the blob in a manifest, or alpha's manifest in an artifact.
  v1::PutManifestRequest put;
  put.set_project("beta");
  v1::ManifestEntry* e = put.add_entries();
  e->set_path("stolen.bin");
  e->set_digest(blob);
  e->set_size_bytes(15);
  e->set_mode(0644);
  auto refused = f.client->PutManifest(put);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("upload it first") != std::string::npos);

  v1::CreateRunRequest create;
  create.mutable_run()->set_project("beta");
  create.mutable_run()->set_name("thief");
  auto run_b = f.client->CreateRun(create);
  REQUIRE(run_b.ok());
  v1::Artifact steal;
  steal.set_project("beta");
  steal.mutable_owner()->set_kind(v1::OBJECT_KIND_RUN);
  steal.mutable_owner()->set_id(run_b->id());
  steal.set_path("stolen");
  steal.set_manifest_digest(a->manifest_digest());
  CHECK(f.client->CreateArtifact(steal).status().code() == StatusCode::kNotFound);

  // Once beta sends the same bytes itself, they are stored once and beta reads them.
  auto uploaded = f.Upload("beta", "u-1", "alpha's weights");
  REQUIRE(uploaded.ok());
  CHECK(uploaded->digest() == blob);
  CHECK(uploaded->already_existed());
  bytes.clear();
  MLC_REQUIRE_OK(f.Read("beta", blob, &bytes));
  CHECK(bytes == "alpha's weights");
  put.set_project("beta");
  CHECK(f.client->PutManifest(put).ok());
}

TEST_CASE("an upload id is the project's own: another project neither sees nor resumes it") {
  Fixture f;
  v1::UploadBlobHeader header;
  header.set_project("alpha");
  header.set_upload_id("shared-id");
  auto begun = f.backend().BeginBlobUpload(header);
  REQUIRE(begun.ok());
  CHECK(*begun == 0);
  auto appended = f.backend().AppendBlobUpload("alpha", "shared-id", 0, "first half ");
  REQUIRE(appended.ok());

  v1::GetUploadStatusRequest status;
  status.set_project("beta");
  status.set_upload_id("shared-id");
  auto other = f.backend().GetUploadStatus(status);
  CHECK(other.status().code() == StatusCode::kNotFound);
  CHECK(other.status().message().find("upload shared-id not found") != std::string::npos);
  CHECK(f.backend().AppendBlobUpload("beta", "shared-id", 11, "mine").status().code() ==
        StatusCode::kNotFound);
  CHECK(f.backend().CommitBlobUpload("beta", "shared-id").status().code() == StatusCode::kNotFound);

  // beta's own upload of the same id starts from zero and does not disturb alpha's.
  header.set_project("beta");
  auto theirs = f.backend().BeginBlobUpload(header);
  REQUIRE(theirs.ok());
  CHECK(*theirs == 0);
  status.set_project("alpha");
  auto mine = f.backend().GetUploadStatus(status);
  REQUIRE(mine.ok());
  CHECK(mine->committed_bytes() == 11);
  MLC_REQUIRE_OK(f.backend().AppendBlobUpload("alpha", "shared-id", 11, "second").status());
  auto done = f.backend().CommitBlobUpload("alpha", "shared-id");
  REQUIRE(done.ok());
  std::string bytes;
  MLC_REQUIRE_OK(f.Read("alpha", done->digest(), &bytes));
  CHECK(bytes == "first half second");

  header.set_upload_id("");
  auto no_id = f.backend().BeginBlobUpload(header);
  CHECK(no_id.status().code() == StatusCode::kInvalidArgument);
  header.set_upload_id(std::string(128, 'u'));  // the longest id is fine
  CHECK(f.backend().BeginBlobUpload(header).ok());
  header.set_upload_id("../x");
  CHECK(f.backend().BeginBlobUpload(header).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a model version's files are readable in the model's project; old stores backfill") {
  Fixture f;
  std::filesystem::create_directories(f.dir / "model");
  WriteFile(f.dir / "model/w.bin", "weights v1");
  auto a = f.client->LogArtifact(f.RunA(), f.dir / "model");
  REQUIRE(a.ok());
  v1::RegisteredModel model;
  model.set_project("alpha");
  model.set_name("m");
  REQUIRE(f.client->CreateRegisteredModel(model).ok());
  v1::CreateModelVersionRequest version;
  version.set_project("alpha");
  version.set_model("m");
  version.mutable_source()->set_kind(v1::MODEL_SOURCE_KIND_ARTIFACT);
  version.mutable_source()->set_artifact_id(a->id());
  version.mutable_source()->set_path("w.bin");  // a sub-tree: a manifest of its own
  auto v = f.client->CreateModelVersion(version);
  REQUIRE(v.ok());
  v1::GetManifestRequest get;
  get.set_project("alpha");
  get.set_digest(v->manifest_digest());
  REQUIRE(f.client->GetManifest(get).ok());
  get.set_digest(a->manifest_digest());
  REQUIRE(f.client->GetManifest(get).ok());

  // A store from before visibility records: none recorded, both backfills pending.
  f.client.reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((f.dir / "state/artifacts.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "DELETE FROM project_digests; INSERT INTO backfill(what) VALUES "
                       "('artifacts'), ('versions')",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  f.Reopen();
  for (const std::string& digest : {v->manifest_digest(), a->manifest_digest()}) {
    get.set_digest(digest);
    auto m = f.client->GetManifest(get);
    REQUIRE(m.ok());
    std::string bytes;
    MLC_REQUIRE_OK(f.Read("alpha", m->entries(0).digest(), &bytes));
    CHECK(bytes == "weights v1");
    get.set_project("beta");
    CHECK(f.client->GetManifest(get).status().code() == StatusCode::kNotFound);
    get.set_project("alpha");
  }
  f.client.reset();
  REQUIRE(sqlite3_open((f.dir / "state/artifacts.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* left = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM backfill", -1, &left, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(left) == SQLITE_ROW);
  CHECK(sqlite3_column_int(left, 0) == 0);  // done once, not on every open
  sqlite3_finalize(left);
  sqlite3_close(db);
}

}  // namespace
}  // namespace mlcore
