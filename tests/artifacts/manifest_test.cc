#include "artifacts/manifest.h"

#include <unistd.h>

#include <fstream>
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
using mlcore::testing::WriteFile;
using testing::Exists;
using testing::Payload;
using testing::Slurp;

std::unique_ptr<BlobStore> MakeStore(const std::string& root) {
  Result<std::unique_ptr<BlobStore>> store = BlobStore::Create(root);
  REQUIRE(store.ok());
  return std::move(store).value();
}

// src/{a.txt, empty, bin/run.sh (0755), nested/deep/x.bin (3 MiB)}
void MakeTree(const std::string& src) {
  mkdir(src.c_str(), 0755);
  mkdir((src + "/bin").c_str(), 0755);
  mkdir((src + "/nested").c_str(), 0755);
  mkdir((src + "/nested/deep").c_str(), 0755);
  mkdir((src + "/emptydir").c_str(), 0755);
  WriteFile(src + "/a.txt", "alpha\n");
  WriteFile(src + "/empty", "");
  WriteFile(src + "/bin/run.sh", "#!/bin/sh\necho hi\n");
  chmod((src + "/bin/run.sh").c_str(), 0755);
  WriteFile(src + "/nested/deep/x.bin", Payload(3 * kChunkSize + 5));
  chmod((src + "/nested/deep/x.bin").c_str(), 0600);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

TEST_CASE("BuildManifest records a nested tree with empty files and modes") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  MakeTree(dir / "src");
  BuildStats stats;
  Result<v1::Manifest> m = BuildManifest(dir / "src", *store, {}, &stats);
  MLC_REQUIRE_OK(m);
  REQUIRE(m->entries_size() == 4);
  CHECK(m->entries(0).path() == "a.txt");
  CHECK(m->entries(1).path() == "bin/run.sh");
  CHECK(m->entries(1).mode() == 0755);
  CHECK(m->entries(2).path() == "empty");
  CHECK(m->entries(2).size_bytes() == 0);
  CHECK(m->entries(2).digest() == util::Sha256Hex(""));
  CHECK(m->entries(3).path() == "nested/deep/x.bin");
  CHECK(m->entries(3).mode() == 0600);
  CHECK(m->total_size_bytes() == 6 + 18 + 3 * static_cast<int64_t>(kChunkSize) + 5);
  CHECK(m->digest() == util::Sha256Hex(CanonicalText(*m)));
  CHECK(CanonicalText(*m).starts_with("0644 " + util::Sha256Hex("alpha\n") + " 6 a.txt\n"));
  CHECK(stats.files == 4);
  CHECK(stats.files_uploaded == 4);
  CHECK(stats.blobs_new == 4);
  for (const auto& e : m->entries()) CHECK(store->Has(e.digest()).value_or(false));
}

TEST_CASE("rebuild skips unchanged files and uploads only what changed") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  MakeTree(dir / "src");
  StatCache stamps;
  BuildStats stats;
  Result<v1::Manifest> first = BuildManifest(dir / "src", *store, {.stamps_out = &stamps}, &stats);
  MLC_REQUIRE_OK(first);
  CHECK(stamps.size() == 4);
  MLC_REQUIRE_OK(SaveStatCache(stamps, dir / "stamps"));
  Result<StatCache> loaded = LoadStatCache(dir / "stamps");
  MLC_REQUIRE_OK(loaded);
  CHECK(loaded->size() == 4);
  CHECK(loaded->at("nested/deep/x.bin").digest == first->entries(3).digest());

  // Unchanged: nothing is read again, same manifest.
  StatCache stamps2;
  Result<v1::Manifest> second =
      BuildManifest(dir / "src", *store, {.previous = &*loaded, .stamps_out = &stamps2}, &stats);
  MLC_REQUIRE_OK(second);
  CHECK(second->digest() == first->digest());
  CHECK(stats.files_skipped == 4);
  CHECK(stats.files_uploaded == 0);
  CHECK(stats.bytes_read == 0);

  // One file changed, one added: exactly two uploads.
  WriteFile(dir / "src/a.txt", "alpha v2\n");
  WriteFile(dir / "src/new.txt", "new\n");
  Result<v1::Manifest> third = BuildManifest(dir / "src", *store, {.previous = &stamps2}, &stats);
  MLC_REQUIRE_OK(third);
  CHECK(third->digest() != first->digest());
  CHECK(stats.files_uploaded == 2);
  CHECK(stats.files_skipped == 3);

  // A stamp whose blob was deleted is not trusted.
  MLC_REQUIRE_OK(store->Delete(first->entries(1).digest()));
  Result<v1::Manifest> fourth = BuildManifest(dir / "src", *store, {.previous = &stamps2}, &stats);
  MLC_REQUIRE_OK(fourth);
  CHECK(store->Has(first->entries(1).digest()).value_or(false));
}

TEST_CASE("ValidateEntryPath rejects unsafe paths") {
  for (const char* bad :
       {"", "/etc/passwd", "..", "../x", "a/../b", "a/..", "./a", "a/./b", "a//b", "a/", "a\nb"}) {
    INFO(bad);
    CHECK(ValidateEntryPath(bad).code() == StatusCode::kInvalidArgument);
  }
  for (const char* good : {"a", "a/b", "..a", "a..", "a/.hidden", "x y/z"}) {
    INFO(good);
    MLC_CHECK_OK(ValidateEntryPath(good));
  }
}

TEST_CASE("BuildManifest rejects escaping symlinks, dangling links and fifos") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  WriteFile(dir / "secret", "s3cr3t");
  SUBCASE("escaping symlink") {
    MakeTree(dir / "src");
    REQUIRE(symlink("../../secret", (dir / "src/bin/leak").c_str()) == 0);
    Result<v1::Manifest> m = BuildManifest(dir / "src", *store);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == StatusCode::kInvalidArgument);
    CHECK(m.status().message().find("bin/leak -> ../../secret") != std::string::npos);
    CHECK(m.status().message().find("outside") != std::string::npos);
  }
  SUBCASE("absolute symlink outside") {
    MakeTree(dir / "src");
    REQUIRE(symlink("/etc", (dir / "src/etc").c_str()) == 0);
    CHECK(BuildManifest(dir / "src", *store).status().code() == StatusCode::kInvalidArgument);
  }
  SUBCASE("dangling symlink") {
    MakeTree(dir / "src");
    REQUIRE(symlink("nowhere", (dir / "src/dangling").c_str()) == 0);
    CHECK(BuildManifest(dir / "src", *store).status().code() == StatusCode::kInvalidArgument);
  }
  SUBCASE("fifo") {
    MakeTree(dir / "src");
    REQUIRE(mkfifo((dir / "src/nested/pipe").c_str(), 0644) == 0);
    Result<v1::Manifest> m = BuildManifest(dir / "src", *store);
    CHECK(m.status().code() == StatusCode::kInvalidArgument);
    CHECK(m.status().message().find("FIFO") != std::string::npos);
  }
  SUBCASE("symlink cycle") {
    MakeTree(dir / "src");
    REQUIRE(symlink("..", (dir / "src/nested/up").c_str()) == 0);
    CHECK(BuildManifest(dir / "src", *store).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("symlinks inside the tree are followed") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  MakeTree(dir / "src");
  REQUIRE(symlink("a.txt", (dir / "src/link.txt").c_str()) == 0);
  REQUIRE(symlink("nested/deep", (dir / "src/latest").c_str()) == 0);
  Result<v1::Manifest> m = BuildManifest(dir / "src", *store);
  MLC_REQUIRE_OK(m);
  CHECK(m->entries_size() == 6);
  CHECK(m->entries(3).path() == "latest/x.bin");
  CHECK(m->entries(3).digest() == m->entries(5).digest());
  CHECK(m->entries(4).path() == "link.txt");
  CHECK(m->entries(4).digest() == m->entries(0).digest());
}

TEST_CASE("Materialize writes the full tree with modes, and partial paths") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  MakeTree(dir / "src");
  Result<v1::Manifest> m = BuildManifest(dir / "src", *store);
  MLC_REQUIRE_OK(m);

  uint64_t last = 0;
  MLC_REQUIRE_OK(
      Materialize(*m, *store, dir / "out", {.progress = [&](uint64_t done, uint64_t total) {
        CHECK(total == static_cast<uint64_t>(m->total_size_bytes()));
        last = done;
        return true;
      }}));
  CHECK(last == static_cast<uint64_t>(m->total_size_bytes()));
  CHECK(Slurp(dir / "out/a.txt") == "alpha\n");
  CHECK(Slurp(dir / "out/empty").empty());
  CHECK(Exists(dir / "out/empty"));
  CHECK(Slurp(dir / "out/nested/deep/x.bin") == Slurp(dir / "src/nested/deep/x.bin"));
  CHECK(ModeOf(dir / "out/bin/run.sh") == 0755);
  CHECK(ModeOf(dir / "out/nested/deep/x.bin") == 0600);
  CHECK(ModeOf(dir / "out/a.txt") == 0644);
  // Materializing again over the existing tree replaces files in place.
  MLC_REQUIRE_OK(Materialize(*m, *store, dir / "out"));

  MLC_REQUIRE_OK(Materialize(*m, *store, dir / "one", {.only_path = "bin/run.sh"}));
  CHECK(Exists(dir / "one/bin/run.sh"));
  CHECK_FALSE(Exists(dir / "one/a.txt"));
  MLC_REQUIRE_OK(Materialize(*m, *store, dir / "sub", {.only_path = "nested"}));
  CHECK(Exists(dir / "sub/nested/deep/x.bin"));
  CHECK_FALSE(Exists(dir / "sub/bin"));
  CHECK(Materialize(*m, *store, dir / "none", {.only_path = "nest"}).code() ==
        StatusCode::kNotFound);
  CHECK(Materialize(*m, *store, dir / "none", {.only_path = "../x"}).code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("Materialize refuses unsafe manifests from elsewhere") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  Result<BlobInfo> blob = store->PutBytes("pwned");
  MLC_REQUIRE_OK(blob);
  for (const char* bad : {"../escape", "/abs", "a/../../b", "ok/./x"}) {
    INFO(bad);
    v1::Manifest m;
    v1::ManifestEntry* ok = m.add_entries();
    ok->set_path("fine.txt");
    ok->set_digest(blob->digest);
    ok->set_size_bytes(5);
    v1::ManifestEntry* e = m.add_entries();
    e->set_path(bad);
    e->set_digest(blob->digest);
    e->set_size_bytes(5);
    CHECK(Materialize(m, *store, dir / "out", {.only_path = "fine.txt"}).code() ==
          StatusCode::kInvalidArgument);
    CHECK_FALSE(Exists(dir / "out/fine.txt"));
  }
  CHECK_FALSE(Exists(dir / "escape"));
  // A symlinked directory planted at the destination is not written through.
  mkdir((dir / "dest").c_str(), 0755);
  mkdir((dir / "elsewhere").c_str(), 0755);
  REQUIRE(symlink(std::string(dir / "elsewhere").c_str(), (dir / "dest/sub").c_str()) == 0);
  v1::Manifest m;
  v1::ManifestEntry* e = m.add_entries();
  e->set_path("sub/f");
  e->set_digest(blob->digest);
  e->set_size_bytes(5);
  CHECK(Materialize(m, *store, dir / "dest").code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(Exists(dir / "elsewhere/f"));
  // Duplicates and file/directory clashes.
  *m.add_entries() = *e;
  CHECK(Materialize(m, *store, dir / "dest2").code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Materialize refuses a corrupted blob and quarantines it") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  MakeTree(dir / "src");
  Result<v1::Manifest> m = BuildManifest(dir / "src", *store);
  MLC_REQUIRE_OK(m);
  std::string digest = m->entries(0).digest();  // a.txt
  std::string path = store->BlobPath(digest);
  chmod(path.c_str(), 0644);
  WriteFile(path, "alphA\n");
  Status s = Materialize(*m, *store, dir / "out");
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK(s.message().find("a.txt") != std::string::npos);
  CHECK_FALSE(Exists(dir / "out/a.txt"));
  CHECK(ListDir(dir / "out").value_or({"x"}).empty());  // no temporary left
  CHECK_FALSE(store->Has(digest).value_or(true));
  // The rest of the tree is still available.
  MLC_CHECK_OK(Materialize(*m, *store, dir / "out", {.only_path = "nested"}));
  CHECK(Materialize(*m, *store, dir / "out2").code() == StatusCode::kNotFound);
}

TEST_CASE("cancelling upload and download leaves nothing half-published") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  MakeTree(dir / "src");
  int calls = 0;
  Result<v1::Manifest> up = BuildManifest(
      dir / "src", *store, {.progress = [&](uint64_t, uint64_t) { return ++calls < 3; }});
  CHECK(up.status().code() == StatusCode::kCancelled);
  CHECK(ListDir(store->TmpDir()).value_or({"x"}).empty());

  Result<v1::Manifest> m = BuildManifest(dir / "src", *store);
  MLC_REQUIRE_OK(m);
  Status down = Materialize(
      *m, *store, dir / "out",
      {.only_path = "nested", .progress = [](uint64_t done, uint64_t) { return done == 0; }});
  CHECK(down.code() == StatusCode::kCancelled);
  CHECK_FALSE(Exists(dir / "out/nested/deep/x.bin"));
  CHECK(ListDir(dir / "out/nested/deep").value_or({"x"}).empty());
}

TEST_CASE("NormalizeManifest sorts, checks and digests") {
  v1::Manifest m;
  for (const char* p : {"b", "a/c", "a/b"}) {
    v1::ManifestEntry* e = m.add_entries();
    e->set_path(p);
    e->set_digest(util::Sha256Hex(p));
    e->set_size_bytes(1);
    e->set_mode(0100644);
  }
  MLC_REQUIRE_OK(NormalizeManifest(&m));
  CHECK(m.entries(0).path() == "a/b");
  CHECK(m.entries(2).path() == "b");
  CHECK(m.entries(0).mode() == 0644);
  CHECK(m.total_size_bytes() == 3);
  CHECK(m.digest() == util::Sha256Hex(CanonicalText(m)));
  Result<v1::Manifest> sub = FilterManifest(m, "a");
  MLC_REQUIRE_OK(sub);
  CHECK(sub->entries_size() == 2);
  m.mutable_entries(0)->set_digest("xyz");
  CHECK(NormalizeManifest(&m).code() == StatusCode::kInvalidArgument);
  m.mutable_entries(0)->set_digest(util::Sha256Hex("x"));
  m.mutable_entries(0)->set_size_bytes(-1);
  CHECK(NormalizeManifest(&m).code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mlcore::artifacts
