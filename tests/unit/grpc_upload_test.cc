// Uploads to a real `mlc server` (in this process, on 127.0.0.1) through remote/grpc_upload.h:
// what is read and sent with and without cached digests, speculative uploads of content the
// server already has, wrong cached digests, files changing mid-upload, cancellation, and a server
// whose digest disagrees with the client's.
#include "remote/grpc_upload.h"

#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "mlcore/server.h"
#include "unit/test_support.h"
#include "util/crc32c.h"
#include "util/sha256.h"

namespace mlcore::remote {
namespace {

using artifacts::DigestCache;
using testing::TempDir;
using testing::WriteFile;

constexpr uint64_t kBig = kSpeculativeMinBytes + (uint64_t{3} << 19);  // 5.5 MiB, not chunk-aligned
constexpr int64_t kHourNs = int64_t{3600} * 1000000000;

// Sets a file's mtime an hour back, so its stamps are out of the racy window.
void Age(const std::string& path) {
  const int64_t t = artifacts::NowNs() - kHourNs;
  struct timespec times[2] = {{t / 1000000000, 0}, {t / 1000000000, 0}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::string Pattern(uint64_t size, char seed) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + (i * 7 + i / 4096) % 61);
  return s;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

const v1::ManifestEntry& EntryOf(const v1::Manifest& m, const std::string& path) {
  for (const auto& e : m.entries()) {
    if (e.path() == path) return e;
  }
  FAIL("no entry " << path);
  static v1::ManifestEntry none;
  return none;
}

struct Fixture {
  TempDir dir;
  testing::IsolatedEnv env{dir};
  std::unique_ptr<server::Server> server;
  std::unique_ptr<Client> client;
  std::unique_ptr<v1::ArtifactService::Stub> stub;
  UploadChannel channel;
  std::unique_ptr<DigestCache> cache = DigestCache::Open(dir / "cache/digests.db");

  Fixture() {
    server::ServerOptions options;
    options.state_dir = dir / "state";
    options.insecure_local = true;
    options.listen = {"127.0.0.1:0"};
    auto started = server::Server::Start(options);
    REQUIRE(started.ok());
    server = std::move(started).value();
    const std::string uri = server->uris().at(0);
    auto opened = Client::Open(uri);
    REQUIRE(opened.ok());
    client = std::move(opened).value();
    v1::Project p;
    p.set_name("ml");
    MLC_REQUIRE_OK(client->CreateProject(p));
    stub = v1::ArtifactService::NewStub(grpc::CreateChannel(
        uri.substr(std::string("grpc://").size()), grpc::InsecureChannelCredentials()));
    channel.stub = stub.get();
    channel.prepare = [](grpc::ClientContext*, bool) {};
    channel.target = uri;
  }
  ~Fixture() {
    client.reset();
    server->Shutdown(std::chrono::seconds(1));
  }

  Result<v1::Manifest> Upload(const std::string& path, UploadStats* stats,
                              const artifacts::ProgressFn& progress = {}) {
    *stats = UploadStats{};
    return UploadTreeToServer(channel, "ml", path, progress, *cache, stats);
  }

  // A tree with a large file, a small one and an empty one, all out of the racy window.
  void MakeTree() {
    std::filesystem::create_directories(dir / "model/sub");
    WriteFile(dir / "model/weights.bin", Pattern(kBig, 'a'));
    WriteFile(dir / "model/config.json", "{\"layers\": 4}");
    WriteFile(dir / "model/sub/empty", "");
    for (const char* f : {"model/weights.bin", "model/config.json", "model/sub/empty"}) {
      Age(dir / f);
    }
  }

  // Downloads `m` through the Client and checks every file against the tree at `src`.
  void CheckRoundTrip(const v1::Manifest& m, const std::string& src) {
    const std::string dest = dir / ("down-" + std::to_string(++downloads));
    MLC_REQUIRE_OK(client->backend().DownloadTree("ml", m, dest, "", {}));
    for (const auto& e : m.entries()) {
      CHECK(Read(dest + "/" + e.path()) == Read(src + "/" + e.path()));
    }
  }
  int downloads = 0;
};

TEST_CASE("new content is read once; an unchanged tree is neither read nor sent again") {
  Fixture f;
  f.MakeTree();
  UploadStats first;
  auto m1 = f.Upload(f.dir / "model", &first);
  MLC_REQUIRE_OK(m1);
  CHECK(m1->entries_size() == 3);
  CHECK(first.files == 3);
  CHECK(first.files_cached == 0);
  CHECK(first.files_speculative == 1);  // weights.bin: sent while hashed
  CHECK(first.files_hashed == 2);       // the small ones: hashed, asked about, then sent
  CHECK(first.blobs_sent == 3);
  CHECK(first.bytes_read == kBig + 2 * 13);  // the large file once
  CHECK(first.bytes_sent == kBig + 13);
  CHECK(EntryOf(*m1, "weights.bin").digest() == util::Sha256Hex(Pattern(kBig, 'a')));
  f.CheckRoundTrip(*m1, f.dir / "model");

  UploadStats again;
  auto m2 = f.Upload(f.dir / "model", &again);
  MLC_REQUIRE_OK(m2);
  CHECK(m2->digest() == m1->digest());
  CHECK(again.files_cached == 3);
  CHECK(again.bytes_read == 0);
  CHECK(again.bytes_sent == 0);
  CHECK(again.blobs_sent == 0);

  SUBCASE("a single file is cached the same way") {
    UploadStats one;
    auto single = f.Upload(f.dir / "model/weights.bin", &one);
    MLC_REQUIRE_OK(single);
    CHECK(single->entries(0).path() == "weights.bin");
    CHECK(one.files_cached == 1);
    CHECK(one.bytes_read == 0);
  }
  SUBCASE("a file rewritten with the same size and a new mtime is read and sent again") {
    WriteFile(f.dir / "model/weights.bin", Pattern(kBig, 'b'));
    Age(f.dir / "model/weights.bin");
    UploadStats changed;
    auto m3 = f.Upload(f.dir / "model", &changed);
    MLC_REQUIRE_OK(m3);
    CHECK(changed.files_cached == 2);
    CHECK(changed.files_speculative == 1);
    CHECK(changed.bytes_read == kBig);
    CHECK(EntryOf(*m3, "weights.bin").digest() == util::Sha256Hex(Pattern(kBig, 'b')));
    CHECK(m3->digest() != m1->digest());
    f.CheckRoundTrip(*m3, f.dir / "model");
  }
}

TEST_CASE("content the server already has, under a new file, still ends in a correct manifest") {
  Fixture f;
  f.MakeTree();
  UploadStats stats;
  auto m1 = f.Upload(f.dir / "model", &stats);
  MLC_REQUIRE_OK(m1);
  std::filesystem::create_directories(f.dir / "copy");
  std::filesystem::copy_file(f.dir / "model/weights.bin", f.dir / "copy/weights.bin");
  auto m2 = f.Upload(f.dir / "copy", &stats);
  MLC_REQUIRE_OK(m2);
  CHECK(stats.files_speculative == 1);  // not in the cache: sent again, the server keeps one copy
  CHECK(m2->entries(0).digest() == EntryOf(*m1, "weights.bin").digest());
  f.CheckRoundTrip(*m2, f.dir / "copy");
}

TEST_CASE("a wrong cached digest is forgotten and the file sent again, not failed") {
  Fixture f;
  f.MakeTree();
  const std::string weights = f.dir / "model/weights.bin";
  struct stat st {};
  REQUIRE(stat(weights.c_str(), &st) == 0);
  artifacts::FileStamp lie = artifacts::StampOf(st, artifacts::NowNs());
  lie.digest = util::Sha256Hex("something else");
  MLC_REQUIRE_OK(f.cache->Record({lie}, {weights}));
  REQUIRE(f.cache->Lookup(st) == lie.digest);

  UploadStats stats;
  auto m = f.Upload(f.dir / "model", &stats);
  MLC_REQUIRE_OK(m);
  CHECK(stats.files_cached == 1);
  CHECK(stats.files_speculative == 1);
  const std::string truth = util::Sha256Hex(Pattern(kBig, 'a'));
  CHECK(EntryOf(*m, "weights.bin").digest() == truth);
  CHECK(f.cache->Lookup(st) == truth);
  f.CheckRoundTrip(*m, f.dir / "model");
}

TEST_CASE("a corrupt cache file does not fail uploads and is rebuilt") {
  TempDir other;
  WriteFile(other / "digests.db", std::string(4096, '\x7f'));
  Fixture f;
  f.cache = DigestCache::Open(other / "digests.db");
  f.MakeTree();
  UploadStats stats;
  MLC_REQUIRE_OK(f.Upload(f.dir / "model", &stats));
  CHECK(stats.files_cached == 0);
  MLC_REQUIRE_OK(f.Upload(f.dir / "model", &stats));
  CHECK(stats.files_cached == 3);
}

TEST_CASE("a file that changes while it is sent is not published: DATA_LOSS") {
  Fixture f;
  f.MakeTree();
  const std::string weights = f.dir / "model/weights.bin";
  bool touched = false;
  UploadStats stats;
  auto m = f.Upload(f.dir / "model", &stats, [&](uint64_t done, uint64_t) {
    if (!touched && done > (uint64_t{1} << 20)) {  // within weights.bin, sent last
      std::ofstream(weights, std::ios::app) << "more";
      touched = true;
    }
    return true;
  });
  CHECK(m.status().code() == StatusCode::kDataLoss);
  CHECK(m.status().message().find("changed while it was uploaded") != std::string::npos);
  CHECK(touched);
}

TEST_CASE("progress reaches the total and returning false cancels") {
  Fixture f;
  f.MakeTree();
  UploadStats stats;
  SUBCASE("progress") {
    uint64_t last_done = 0, last_total = 0;
    MLC_REQUIRE_OK(f.Upload(f.dir / "model", &stats, [&](uint64_t done, uint64_t total) {
      CHECK(done >= last_done);
      last_done = done;
      last_total = total;
      return true;
    }));
    CHECK(last_total == kBig + 13);
    CHECK(last_done == last_total);
  }
  SUBCASE("cancel") {
    auto m = f.Upload(f.dir / "model", &stats, [](uint64_t, uint64_t) { return false; });
    CHECK(m.status().code() == StatusCode::kCancelled);
  }
}

// An ArtifactService that lacks every blob and answers every upload with a digest of zeros.
class LyingArtifacts final : public v1::ArtifactService::Service {
 public:
  // Reports a CRC-32C of what it received, off by one when `damage` (bytes lost on the way);
  // none at all when not `report_crc` (a server from before the transfer check).
  bool report_crc = false;
  bool damage = false;

  grpc::Status FindMissingBlobs(grpc::ServerContext*, const v1::FindMissingBlobsRequest* r,
                                v1::FindMissingBlobsResponse* out) override {
    for (const auto& d : r->digests()) out->add_missing_digests(d);
    return grpc::Status::OK;
  }
  grpc::Status UploadBlob(grpc::ServerContext*, grpc::ServerReader<v1::UploadBlobRequest>* reader,
                          v1::UploadBlobResponse* out) override {
    v1::UploadBlobRequest message;
    int64_t n = 0;
    uint32_t crc = 0;
    while (reader->Read(&message)) {
      n += static_cast<int64_t>(message.chunk().size());
      crc = util::Crc32c(crc, message.chunk());
    }
    out->set_digest(std::string(64, '0'));
    out->set_committed_bytes(n);
    if (report_crc) out->set_received_crc32c(damage ? crc ^ 1 : crc);
    return grpc::Status::OK;
  }
};

// Uploads a kBig file of 'c's to `service` served on 127.0.0.1.
Result<v1::Manifest> UploadToLiar(LyingArtifacts& service, TempDir& dir) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto liar = builder.BuildAndStart();
  REQUIRE(liar != nullptr);
  auto stub = v1::ArtifactService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  UploadChannel channel{stub.get(), [](grpc::ClientContext*, bool) {}, "grpc://liar"};
  auto cache = DigestCache::Open("");
  WriteFile(dir / "big.bin", Pattern(kBig, 'c'));
  auto m = UploadTreeToServer(channel, "ml", dir / "big.bin", {}, *cache);
  liar->Shutdown();
  return m;
}

TEST_CASE("CRC-32C: the standard check value, and extension equals the whole") {
  CHECK(util::Crc32c(0, "123456789") == 0xE3069283U);
  CHECK(util::Crc32c(0, "") == 0U);
  const std::string big = Pattern((1 << 20) + 13, 'z');  // the word loop and the byte tail
  CHECK(util::Crc32c(util::Crc32c(0, std::string_view(big).substr(0, 777)),
                     std::string_view(big).substr(777)) == util::Crc32c(0, big));
}

TEST_CASE("a transfer whose CRC-32C differs from what was sent is DATA_LOSS") {
  TempDir dir;
  testing::IsolatedEnv env{dir};
  LyingArtifacts service;
  service.report_crc = true;
  service.damage = true;
  auto m = UploadToLiar(service, dir);
  CHECK(m.status().code() == StatusCode::kDataLoss);
  CHECK(m.status().message().find("damaged on the way") != std::string::npos);
}

TEST_CASE("a server digest that differs from the client's is DATA_LOSS") {
  TempDir dir;
  testing::IsolatedEnv env{dir};
  LyingArtifacts service;
  auto m = UploadToLiar(service, dir);
  CHECK(m.status().code() == StatusCode::kDataLoss);
  CHECK(m.status().message().find("the client hashed " + util::Sha256Hex(Pattern(kBig, 'c'))) !=
        std::string::npos);
}

}  // namespace
}  // namespace mlcore::remote
