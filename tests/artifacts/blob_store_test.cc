#include "artifacts/blob_store.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

#include "artifacts/io.h"
#include "test_helpers.h"
#include "unit/test_support.h"
#include "util/sha256.h"

namespace mlcore::artifacts {
namespace {

using mlcore::testing::TempDir;
using testing::Exists;
using testing::Payload;
using testing::Slurp;

std::unique_ptr<BlobStore> MakeStore(const std::string& root) {
  Result<std::unique_ptr<BlobStore>> store = BlobStore::Create(root);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

TEST_CASE("PutBytes stores content under its digest and dedupes") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  Result<BlobInfo> a = store->PutBytes("hello");
  MLC_REQUIRE_OK(a);
  CHECK(a->digest == util::Sha256Hex("hello"));
  CHECK(a->size == 5);
  CHECK_FALSE(a->existed);
  std::string path = store->BlobPath(a->digest);
  CHECK(path == dir / "store/blobs/sha256/" + a->digest.substr(0, 2) + "/" + a->digest.substr(2));
  CHECK(Slurp(path) == "hello");
  CHECK(store->Has(a->digest).value_or(false));
  CHECK(store->Size(a->digest).value_or(0) == 5);
  CHECK(store->Open(a->digest).value_or("") == path);

  Result<BlobInfo> b = store->PutBytes("hello");
  MLC_REQUIRE_OK(b);
  CHECK(b->existed);
  CHECK(b->digest == a->digest);
  // No temporary left behind.
  CHECK(ListDir(store->TmpDir()).value_or(std::vector<std::string>{"x"}).empty());

  Result<BlobInfo> empty = store->PutBytes("");
  MLC_REQUIRE_OK(empty);
  CHECK(empty->digest == util::Sha256Hex(""));
  CHECK(empty->size == 0);
}

TEST_CASE("PutFile streams a multi-chunk file and reports progress") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string data = Payload(3 * kChunkSize + 123);
  mlcore::testing::WriteFile(dir / "big", data);
  uint64_t last = 0;
  int calls = 0;
  Result<BlobInfo> r = store->PutFile(dir / "big", [&](uint64_t done, uint64_t total) {
    CHECK(total == data.size());
    CHECK(done >= last);
    last = done;
    ++calls;
    return true;
  });
  MLC_REQUIRE_OK(r);
  CHECK(r->digest == util::Sha256Hex(data));
  CHECK(r->size == data.size());
  CHECK(last == data.size());
  CHECK(calls >= 4);
  CHECK(Slurp(store->BlobPath(r->digest)) == data);
}

TEST_CASE("Put from a pipe") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::string data = Payload(10000, 3);
  REQUIRE(write(fds[1], data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  close(fds[1]);
  Result<BlobInfo> r = store->Put(fds[0]);
  close(fds[0]);
  MLC_REQUIRE_OK(r);
  CHECK(r->digest == util::Sha256Hex(data));
}

TEST_CASE("progress returning false cancels and publishes nothing") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string data = Payload(2 * kChunkSize + 1);
  mlcore::testing::WriteFile(dir / "big", data);
  Result<BlobInfo> r = store->PutFile(dir / "big", [](uint64_t, uint64_t) { return false; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kCancelled);
  CHECK_FALSE(store->Has(util::Sha256Hex(data)).value_or(true));
  CHECK(ListDir(store->TmpDir()).value_or(std::vector<std::string>{"x"}).empty());
}

TEST_CASE("malformed digests are INVALID_ARGUMENT; missing blobs NOT_FOUND") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  for (const std::string& bad :
       std::vector<std::string>{"", "abc", std::string(64, 'A'), std::string(64, 'g'),
                                "../" + std::string(61, 'a'), std::string(65, 'a')}) {
    CHECK(store->Has(bad).status().code() == StatusCode::kInvalidArgument);
    CHECK(store->Size(bad).status().code() == StatusCode::kInvalidArgument);
    CHECK(store->Verify(bad).code() == StatusCode::kInvalidArgument);
    CHECK(store->Delete(bad).code() == StatusCode::kInvalidArgument);
  }
  std::string missing(64, 'a');
  CHECK_FALSE(store->Has(missing).value_or(true));
  CHECK(store->Size(missing).status().code() == StatusCode::kNotFound);
  CHECK(store->Open(missing).status().code() == StatusCode::kNotFound);
  CHECK(store->Verify(missing).code() == StatusCode::kNotFound);
  CHECK(store->Delete(missing).code() == StatusCode::kNotFound);
}

TEST_CASE("Verify detects a flipped byte and quarantines the blob") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  Result<BlobInfo> r = store->PutBytes(Payload(5000));
  MLC_REQUIRE_OK(r);
  MLC_CHECK_OK(store->Verify(r->digest));
  std::string path = store->BlobPath(r->digest);
  chmod(path.c_str(), 0644);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1234);
    f.put('\x5a' ^ Payload(5000)[1234]);
  }
  Status s = store->Verify(r->digest);
  CHECK(s.code() == StatusCode::kDataLoss);
  CHECK(s.message().find("quarantine") != std::string::npos);
  CHECK_FALSE(store->Has(r->digest).value_or(true));
  CHECK_FALSE(Exists(path));
  CHECK(ListDir(store->QuarantineDir()).value_or({}).size() == 1);
  // Uploading the content again repairs the store.
  Result<BlobInfo> again = store->PutBytes(Payload(5000));
  MLC_REQUIRE_OK(again);
  CHECK_FALSE(again->existed);
  MLC_CHECK_OK(store->Verify(r->digest));
}

TEST_CASE("Delete removes a blob") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  Result<BlobInfo> r = store->PutBytes("x");
  MLC_REQUIRE_OK(r);
  MLC_CHECK_OK(store->Delete(r->digest));
  CHECK_FALSE(store->Has(r->digest).value_or(true));
}

TEST_CASE("resumable upload survives a restart") {
  TempDir dir;
  std::string data = Payload(3 * 1000 * 1000 + 7);
  std::string digest = util::Sha256Hex(data);
  std::string id;
  {
    auto store = MakeStore(dir / "store");
    Result<std::string> began =
        store->BeginUpload({.expected_digest = digest, .expected_size = data.size()});
    MLC_REQUIRE_OK(began);
    id = *began;
    CHECK(store->Append(id, 0, std::string_view(data).substr(0, 1000000)).value_or(0) == 1000000);
    CHECK(store->Append(id, 1000000, std::string_view(data).substr(1000000, 500000)).value_or(0) ==
          1500000);
  }
  auto store = MakeStore(dir / "store");  // a "restarted" process
  Result<UploadState> state = store->UploadStatus(id);
  MLC_REQUIRE_OK(state);
  CHECK(state->committed_bytes == 1500000);
  CHECK(state->expected_digest == digest);
  CHECK(state->expire_time > std::time(nullptr));
  // Reopening with the same expectations is fine; other expectations are not.
  CHECK(
      store->BeginUpload({.upload_id = id, .expected_digest = digest, .expected_size = data.size()})
          .value_or("") == id);
  CHECK(store->BeginUpload({.upload_id = id}).status().code() == StatusCode::kAlreadyExists);

  Result<uint64_t> wrong = store->Append(id, 1000000, "zzz");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == StatusCode::kFailedPrecondition);
  CHECK(wrong.status().message().find("1500000") != std::string::npos);

  MLC_REQUIRE_OK(store->Append(id, 1500000, std::string_view(data).substr(1500000)));
  Result<BlobInfo> done = store->Commit(id);
  MLC_REQUIRE_OK(done);
  CHECK(done->digest == digest);
  CHECK(done->size == data.size());
  CHECK(Slurp(store->BlobPath(digest)) == data);
  CHECK(store->UploadStatus(id).status().code() == StatusCode::kNotFound);
  CHECK(ListDir(store->UploadsDir()).value_or({"x"}).empty());
}

TEST_CASE("commit after a restart with no further append rehashes the prefix") {
  TempDir dir;
  std::string id;
  {
    auto store = MakeStore(dir / "store");
    id = store->BeginUpload({.upload_id = "client-chosen_1"}).value_or("");
    REQUIRE(id == "client-chosen_1");
    MLC_REQUIRE_OK(store->Append(id, 0, "abc"));
  }
  auto store = MakeStore(dir / "store");
  Result<BlobInfo> done = store->Commit(id);
  MLC_REQUIRE_OK(done);
  CHECK(done->digest == util::Sha256Hex("abc"));
}

TEST_CASE("commit with a digest or size mismatch publishes nothing") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string id = store->BeginUpload({.expected_digest = util::Sha256Hex("good")}).value_or("");
  MLC_REQUIRE_OK(store->Append(id, 0, "evil"));
  Result<BlobInfo> r = store->Commit(id);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kDataLoss);
  CHECK_FALSE(store->Has(util::Sha256Hex("evil")).value_or(true));
  CHECK_FALSE(store->Has(util::Sha256Hex("good")).value_or(true));

  std::string id2 = store->BeginUpload({.expected_size = 10}).value_or("");
  MLC_REQUIRE_OK(store->Append(id2, 0, "short"));
  CHECK(store->Append(id2, 5, "toolongtoolong").status().code() == StatusCode::kInvalidArgument);
  CHECK(store->Commit(id2).status().code() == StatusCode::kDataLoss);
  CHECK_FALSE(store->Has(util::Sha256Hex("short")).value_or(true));
}

TEST_CASE("upload ids are validated; unknown ids are NOT_FOUND; abort discards") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  CHECK(store->BeginUpload({.upload_id = "../x"}).status().code() == StatusCode::kInvalidArgument);
  CHECK(store->BeginUpload({.expected_digest = "nope"}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(store->Append("nope", 0, "x").status().code() == StatusCode::kNotFound);
  CHECK(store->Commit("nope").status().code() == StatusCode::kNotFound);
  std::string id = store->BeginUpload({}).value_or("");
  MLC_REQUIRE_OK(store->Append(id, 0, "x"));
  MLC_CHECK_OK(store->AbortUpload(id));
  CHECK(store->UploadStatus(id).status().code() == StatusCode::kNotFound);
}

// Runs `fn` in a child with RLIMIT_FSIZE = `limit` bytes; returns the child's exit code.
template <typename Fn>
int InChildWithFileLimit(rlim_t limit, Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  // writes then fail with EFBIG
    rlimit rl{limit, limit};
    setrlimit(RLIMIT_FSIZE, &rl);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST_CASE("disk full is RESOURCE_EXHAUSTED naming the path and publishes nothing") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string data = Payload(2 * kChunkSize);
  mlcore::testing::WriteFile(dir / "big", data);
  int code = InChildWithFileLimit(100000, [&] {
    auto child = BlobStore::Create(dir / "store");
    if (!child.ok()) return 10;
    Result<BlobInfo> r = (*child)->PutFile(dir / "big");
    if (r.ok()) return 11;
    if (r.status().code() != StatusCode::kResourceExhausted) return 12;
    if (r.status().message().find(dir / "store/tmp/put-") == std::string::npos) return 13;
    // A resumable upload rolls back to its committed size.
    std::string id = (*child)->BeginUpload({.upload_id = "full"}).value_or("");
    if (!(*child)->Append(id, 0, std::string_view(data).substr(0, 50000)).ok()) return 14;
    Result<uint64_t> a = (*child)->Append(id, 50000, std::string_view(data).substr(50000));
    if (a.ok() || a.status().code() != StatusCode::kResourceExhausted) return 15;
    if ((*child)->UploadStatus(id).value_or({}).committed_bytes != 50000) return 16;
    return 0;
  });
  CHECK(code == 0);
  CHECK_FALSE(store->Has(util::Sha256Hex(data)).value_or(true));
  CHECK(ListDir(store->TmpDir()).value_or({"x"}).empty());
  CHECK(store->UploadStatus("full").value_or({}).committed_bytes == 50000);
}

TEST_CASE("concurrent puts of the same content store it once") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  std::string data = Payload(300000, 9);
  std::atomic<int> ok{0};
  std::atomic<int> fresh{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      Result<BlobInfo> r = store->PutBytes(data);
      if (r.ok()) ++ok;
      if (r.ok() && !r->existed) ++fresh;
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(fresh >= 1);
  MLC_CHECK_OK(store->Verify(util::Sha256Hex(data)));
  CHECK(ListDir(store->TmpDir()).value_or({"x"}).empty());
}

TEST_CASE("ForEachBlob lists published blobs") {
  TempDir dir;
  auto store = MakeStore(dir / "store");
  MLC_REQUIRE_OK(store->PutBytes("a"));
  MLC_REQUIRE_OK(store->PutBytes("b"));
  int n = 0;
  MLC_CHECK_OK(store->ForEachBlob([&](const BlobEntry& e) {
    CHECK(IsValidDigest(e.digest));
    CHECK(e.size == 1);
    ++n;
    return Status::Ok();
  }));
  CHECK(n == 2);
}

}  // namespace
}  // namespace mlcore::artifacts
