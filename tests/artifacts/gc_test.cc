#include "artifacts/gc.h"

#include <fcntl.h>

#include <ctime>
#include <memory>
#include <string>
#include <sys/stat.h>

#include "artifacts/io.h"
#include "test_helpers.h"
#include "unit/test_support.h"
#include "util/sha256.h"

namespace mlcore::artifacts {
namespace {

using mlcore::testing::TempDir;
using testing::Exists;

std::unique_ptr<BlobStore> MakeStore(const std::string& root) {
  Result<std::unique_ptr<BlobStore>> store = BlobStore::Create(root);
  REQUIRE(store.ok());
  return std::move(store).value();
}

void Age(const std::string& path, std::time_t seconds) {
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = std::time(nullptr) - seconds;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

TEST_CASE("GC removes old unreferenced blobs, keeps live and young ones") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string live = store->PutBytes("live").value_or({}).digest;
  std::string dead = store->PutBytes("dead!").value_or({}).digest;
  std::string fresh = store->PutBytes("fresh").value_or({}).digest;
  Age(store->BlobPath(live), 7200);
  Age(store->BlobPath(dead), 7200);

  Result<GcReport> dry = CollectGarbage(*store, {live}, {.grace_seconds = 3600, .dry_run = true});
  MLC_REQUIRE_OK(dry);
  CHECK(dry->dry_run);
  CHECK(dry->blobs_scanned == 3);
  CHECK(dry->blobs_removed == 1);
  CHECK(dry->bytes_freed == 5);
  CHECK(store->Has(dead).value_or(false));

  Result<GcReport> real = CollectGarbage(*store, {live}, {.grace_seconds = 3600});
  MLC_REQUIRE_OK(real);
  CHECK(real->blobs_removed == 1);
  CHECK(real->bytes_freed == 5);
  CHECK_FALSE(store->Has(dead).value_or(true));
  CHECK(store->Has(live).value_or(false));
  CHECK(store->Has(fresh).value_or(false));  // unreferenced but younger than the grace period

  v1::GarbageCollectionReport proto = ToProto(*real);
  CHECK(proto.blobs_removed() == 1);
  CHECK(proto.bytes_freed() == 5);
}

TEST_CASE("a dedupe refreshes the blob's age so GC keeps it") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string d = store->PutBytes("old content").value_or({}).digest;
  Age(store->BlobPath(d), 7200);
  CHECK(store->PutBytes("old content").value_or({}).existed);
  MLC_REQUIRE_OK(CollectGarbage(*store, {}, {.grace_seconds = 3600}));
  CHECK(store->Has(d).value_or(false));
}

TEST_CASE("GC keeps live upload sessions and removes stale temporaries") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string active = store->BeginUpload({.upload_id = "active"}).value_or("");
  MLC_REQUIRE_OK(store->Append(active, 0, "part"));
  std::string old = store->BeginUpload({.upload_id = "old"}).value_or("");
  MLC_REQUIRE_OK(store->Append(old, 0, "abandoned"));
  Age(store->UploadsDir() + "/old/data", std::time_t{3} * 86400);
  Age(store->UploadsDir() + "/old", std::time_t{3} * 86400);
  mlcore::testing::WriteFile(store->TmpDir() + "/put-stale", "xx");
  Age(store->TmpDir() + "/put-stale", std::time_t{3} * 86400);
  mlcore::testing::WriteFile(store->TmpDir() + "/put-inflight", "yy");

  Result<GcReport> r = CollectGarbage(*store, {}, {});
  MLC_REQUIRE_OK(r);
  CHECK(r->uploads_removed == 1);
  CHECK(r->temp_files_removed == 1);
  CHECK(store->UploadStatus("active").value_or({}).committed_bytes == 4);
  CHECK(store->UploadStatus("old").status().code() == StatusCode::kNotFound);
  CHECK_FALSE(Exists(store->TmpDir() + "/put-stale"));
  CHECK(Exists(store->TmpDir() + "/put-inflight"));
  // The surviving session still commits.
  MLC_CHECK_OK(store->Commit(active));
}

TEST_CASE("GC rejects malformed live digests and concurrent collections") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  CHECK(CollectGarbage(*store, {"bad"}).status().code() == StatusCode::kInvalidArgument);
  Result<BlobStore::Lock> held = store->LockForGc();
  MLC_REQUIRE_OK(held);
  CHECK(CollectGarbage(*store, {}).status().code() == StatusCode::kAborted);
}

}  // namespace
}  // namespace mlcore::artifacts
