// The data cache in one process: tiers, origins (HTTP faults, file://), verification, eviction.
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "datacache/data_cache.h"
#include "datacache/files.h"
#include "datacache/proto.h"
#include "datacache_support.h"
#include "unit/test_support.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace mlcore::datacache {
namespace {

using mlcore::testing::TempDir;
using mlcore::testing::WriteFile;
using testing::Content;
using testing::CountFiles;
using testing::OriginServer;
using testing::TestOptions;

struct Fixture {
  TempDir dir;
  std::string root = dir / "origin";
  Fixture() { REQUIRE(util::EnsureDirectory(root, "origin").ok()); }
  std::string Put(const std::string& name, const std::string& content) {
    WriteFile(root + "/" + name, content);
    return content;
  }
  std::unique_ptr<DataCache> Open(uint64_t capacity = 0, bool cold = false) {
    auto cache = DataCache::Open(TestOptions(dir, capacity, cold));
    INFO(cache.status().ToString());
    REQUIRE(cache.ok());
    return std::move(cache).value();
  }
};

std::string Read(const std::string& path) {
  auto r = util::ReadFile(path);
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("a miss fetches from the origin, the next load hits the hot tier") {
  Fixture f;
  OriginServer server(f.root);
  std::string content = f.Put("a.bin", Content(200000, 1));
  auto cache = f.Open();
  auto first = cache->Load(server.Url("/a.bin"));
  MLC_REQUIRE_OK(first);
  CHECK(first->source == Source::kOrigin);
  CHECK(first->digest == util::Sha256Hex(content));
  CHECK(first->size_bytes == content.size());
  CHECK(Read(first->local_path) == content);
  auto second = cache->Load(server.Url("/a.bin"));
  MLC_REQUIRE_OK(second);
  CHECK(second->source == Source::kHot);
  CHECK(second->local_path == first->local_path);
  CHECK(server.Stats("/a.bin").requests == 1);

  auto stats = cache->GetStats();
  MLC_REQUIRE_OK(stats);
  REQUIRE(stats->tiers.size() == 1);
  CHECK(stats->tiers[0].hits == 1);
  CHECK(stats->tiers[0].misses == 1);
  CHECK(stats->tiers[0].entries == 1);
  CHECK(stats->tiers[0].used_bytes == 200000);
  CHECK(stats->origin_fetches == 1);
  CHECK(stats->origin_bytes == 200000);
  v1::CacheStats proto = ToProto(*stats);
  CHECK(proto.tiers(0).tier() == v1::CACHE_TIER_HOT);
  CHECK(ToProto(*second).source() == v1::LOAD_SOURCE_HOT);

  auto entries = cache->List();
  MLC_REQUIRE_OK(entries);
  REQUIRE(entries->size() == 1);
  v1::CacheEntry entry = ToProto((*entries)[0]);
  CHECK(entry.uri() == server.Url("/a.bin"));
  CHECK(entry.access_count() == 2);
  CHECK(!entry.etag().empty());
  CHECK(entry.last_modified_time().seconds() > 0);
}

TEST_CASE("a cold hit after the hot copy is evicted, also from another machine's hot tier") {
  Fixture f;
  OriginServer server(f.root);
  std::string content = f.Put("c.bin", Content(50000, 2));
  auto cache = f.Open(0, /*cold=*/true);
  MLC_REQUIRE_OK(cache->Load(server.Url("/c.bin")));
  auto evicted = cache->Evict(server.Url("/c.bin"), static_cast<int>(Tier::kHot));
  MLC_REQUIRE_OK(evicted);
  CHECK(evicted->entries_evicted == 1);
  auto again = cache->Load(server.Url("/c.bin"));
  MLC_REQUIRE_OK(again);
  CHECK(again->source == Source::kCold);
  CHECK(Read(again->local_path) == content);

  // A second machine: its own hot tier and index, the same cold directory.
  TempDir other;
  DataCacheOptions o = TestOptions(other);
  o.cold_dir = f.dir / "cold";
  auto remote = DataCache::Open(o);
  MLC_REQUIRE_OK(remote);
  auto shared = (*remote)->Load(server.Url("/c.bin"));
  MLC_REQUIRE_OK(shared);
  CHECK(shared->source == Source::kCold);
  CHECK(server.Stats("/c.bin").requests == 1);
  auto stats = cache->GetStats();
  MLC_REQUIRE_OK(stats);
  REQUIRE(stats->tiers.size() == 2);
  CHECK(stats->tiers[1].hits == 1);
  CHECK(stats->tiers[1].bytes_written == 50000);
}

TEST_CASE("revalidation uses a conditional GET and refetches changed content") {
  Fixture f;
  OriginServer server(f.root);
  f.Put("r.bin", Content(30000, 3));
  auto cache = f.Open();
  MLC_REQUIRE_OK(cache->Load(server.Url("/r.bin")));
  LoadOptions reval;
  reval.revalidate = true;
  auto same = cache->Load(server.Url("/r.bin"), reval);
  MLC_REQUIRE_OK(same);
  CHECK(same->source == Source::kHot);
  CHECK(server.Stats("/r.bin").not_modified == 1);

  std::string changed = f.Put("r.bin", Content(30000, 4));
  auto fresh = cache->Load(server.Url("/r.bin"), reval);
  MLC_REQUIRE_OK(fresh);
  CHECK(fresh->source == Source::kOrigin);
  CHECK(fresh->digest == util::Sha256Hex(changed));
  CHECK(server.Stats("/r.bin").requests == 3);
}

TEST_CASE("a download reset mid-body resumes with a Range request") {
  Fixture f;
  OriginServer server(f.root);
  std::string content = f.Put("reset.bin", Content(300000, 5));
  auto cache = f.Open();
  auto r = cache->Load(server.Url("/reset.bin?reset=100000"));
  MLC_REQUIRE_OK(r);
  CHECK(Read(r->local_path) == content);
  CHECK(r->digest == util::Sha256Hex(content));
  auto s = server.Stats("/reset.bin");
  CHECK(s.requests == 2);
  CHECK(s.ranges == 1);
}

TEST_CASE("5xx answers are retried with backoff, within bounds") {
  Fixture f;
  OriginServer server(f.root);
  std::string content = f.Put("flaky.bin", Content(1000, 6));
  f.Put("down.bin", Content(1000, 7));
  auto cache = f.Open();
  auto r = cache->Load(server.Url("/flaky.bin?fail=2"));
  MLC_REQUIRE_OK(r);
  CHECK(Read(r->local_path) == content);
  CHECK(server.Stats("/flaky.bin").requests == 3);

  auto down = cache->Load(server.Url("/down.bin?fail=100"));
  CHECK(down.status().code() == StatusCode::kUnavailable);
  CHECK(server.Stats("/down.bin").requests == 5);  // max_attempts
  auto missing = cache->Load(server.Url("/nope.bin"));
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

TEST_CASE("a wrong Content-Length is detected and nothing is published") {
  Fixture f;
  OriginServer server(f.root);
  f.Put("len.bin", Content(20000, 8));
  auto cache = f.Open();
  auto r = cache->Load(server.Url("/len.bin?wronglen=1"));
  INFO(r.status().ToString());
  CHECK(r.status().code() == StatusCode::kDataLoss);
  CHECK(r.status().message().find("Content-Length") != std::string::npos);
  CHECK(CountFiles(f.dir / "hot/objects") == 0);
  CHECK(CountFiles(f.dir / "hot/tmp") == 0);
}

TEST_CASE(
    "a digest mismatch refetches once, then fails with FAILED_PRECONDITION and serves nothing") {
  Fixture f;
  OriginServer server(f.root);
  std::string content = f.Put("d.bin", Content(10000, 9));
  auto cache = f.Open();
  LoadOptions opt;
  opt.expected_digest = util::Sha256Hex("something else");
  auto r = cache->Load(server.Url("/d.bin"), opt);
  CHECK(r.status().code() == StatusCode::kFailedPrecondition);
  CHECK(server.Stats("/d.bin").requests == 2);
  CHECK(CountFiles(f.dir / "hot/objects") == 0);
  auto entries = cache->List();
  MLC_REQUIRE_OK(entries);
  CHECK(entries->empty());
  auto stats = cache->GetStats();
  MLC_REQUIRE_OK(stats);
  CHECK(stats->verification_failures == 2);

  opt.expected_digest = util::Sha256Hex(content);
  auto ok = cache->Load(server.Url("/d.bin"), opt);
  MLC_REQUIRE_OK(ok);
  opt.expected_digest = "XYZ";
  CHECK(cache->Load(server.Url("/d.bin"), opt).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("eight threads loading one URL fetch it once") {
  Fixture f;
  OriginServer server(f.root);
  std::string content = f.Put("sf.bin", Content(160000, 10));
  auto cache = f.Open();
  std::vector<std::thread> threads;
  threads.reserve(8);
  std::vector<Result<LoadResult>> results(8, Result<LoadResult>(UnknownError("not run")));
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = cache->Load(server.Url("/sf.bin?slow=10")); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    MLC_REQUIRE_OK(r);
    CHECK(r->digest == util::Sha256Hex(content));
  }
  CHECK(server.Stats("/sf.bin").requests == 1);
  auto stats = cache->GetStats();
  MLC_REQUIRE_OK(stats);
  CHECK(stats->origin_fetches == 1);
  CHECK(stats->tiers[0].hits + stats->single_flight_waits >= 7);
}

TEST_CASE("LRU eviction keeps the hot tier under its cap and never evicts pinned entries") {
  Fixture f;
  OriginServer server(f.root);
  for (const char* name : {"e1", "e2", "e3", "e4"}) f.Put(name, Content(100000, name[1]));
  f.Put("huge", Content(400000, 11));
  auto cache = f.Open(/*capacity=*/300000);
  LoadOptions pin;
  pin.pin_owner = "user:ann";
  MLC_REQUIRE_OK(cache->Load(server.Url("/e1"), pin));
  MLC_REQUIRE_OK(cache->Load(server.Url("/e2")));
  MLC_REQUIRE_OK(cache->Load(server.Url("/e3")));
  MLC_REQUIRE_OK(cache->Load(server.Url("/e4")));  // evicts e2, the least recently used unpinned
  auto stats = cache->GetStats();
  MLC_REQUIRE_OK(stats);
  CHECK(stats->tiers[0].used_bytes <= 300000);
  CHECK(stats->tiers[0].evictions == 1);
  CHECK(stats->tiers[0].pinned_bytes == 100000);
  auto e1 = cache->Load(server.Url("/e1"));
  MLC_REQUIRE_OK(e1);
  CHECK(e1->source == Source::kHot);
  auto e2 = cache->Load(server.Url("/e2"));  // refetched, evicting e3
  MLC_REQUIRE_OK(e2);
  CHECK(e2->source == Source::kOrigin);

  auto huge = cache->Load(server.Url("/huge"));
  CHECK(huge.status().code() == StatusCode::kResourceExhausted);
  CHECK(huge.status().message().find("user:ann") != std::string::npos);
  CHECK(CountFiles(f.dir / "hot/tmp") == 0);

  MLC_REQUIRE_OK(cache->Pin(server.Url("/e2"), "job:7"));
  MLC_REQUIRE_OK(cache->Pin(server.Url("/e4"), "job:7"));
  auto full = cache->Load(server.Url("/e3"));  // everything pinned: no room
  CHECK(full.status().code() == StatusCode::kResourceExhausted);
  CHECK(full.status().message().find("job:7") != std::string::npos);
  auto refused = cache->Evict(server.Url("/e1"));
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("user:ann") != std::string::npos);
  MLC_REQUIRE_OK(cache->Unpin(server.Url("/e1"), "user:ann"));
  MLC_REQUIRE_OK(cache->Load(server.Url("/e3")));  // e1 is evictable again
  auto pinned = cache->List(ListFilter{0, "", true, ""});
  MLC_REQUIRE_OK(pinned);
  CHECK(pinned->size() == 2);
  auto all = cache->EvictAllUnpinned();
  MLC_REQUIRE_OK(all);
  CHECK(all->entries_evicted == 1);
  CHECK(cache->Pin(server.Url("/never"), "user:x").code() == StatusCode::kNotFound);
}

TEST_CASE("file:// origins and plain paths") {
  Fixture f;
  std::string content = f.Put("local.bin", Content(70000, 12));
  auto cache = f.Open(0, /*cold=*/true);
  auto r = cache->Load("file://" + f.root + "/local.bin");
  MLC_REQUIRE_OK(r);
  CHECK(r->source == Source::kOrigin);
  CHECK(Read(r->local_path) == content);
  auto plain = cache->Load(f.root + "/local.bin");
  MLC_REQUIRE_OK(plain);
  CHECK(plain->source == Source::kHot);
  LoadOptions reval;
  reval.revalidate = true;
  auto same = cache->Load(f.root + "/local.bin", reval);
  MLC_REQUIRE_OK(same);
  CHECK(same->source == Source::kHot);
  auto missing = cache->Load(f.root + "/missing.bin");
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

TEST_CASE("unknown schemes are rejected, naming the supported ones") {
  Fixture f;
  auto cache = f.Open();
  auto r = cache->Load("s3://bucket/key");
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("file, http, https") != std::string::npos);
  CHECK(cache->Load("").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a progress callback sees the bytes and may cancel") {
  Fixture f;
  OriginServer server(f.root);
  f.Put("p.bin", Content(100000, 13));
  auto cache = f.Open();
  LoadOptions opt;
  uint64_t last = 0;
  uint64_t total = 0;
  opt.progress = [&](uint64_t done, uint64_t all) {
    last = done;
    total = all;
    return true;
  };
  MLC_REQUIRE_OK(cache->Load(server.Url("/p.bin"), opt));
  CHECK(last == 100000);
  CHECK(total == 100000);
  opt.progress = [](uint64_t, uint64_t) { return false; };
  auto cancelled = cache->Load(server.Url("/p.bin?x=1"), opt);
  CHECK(cancelled.status().code() == StatusCode::kCancelled);
  CHECK(CountFiles(f.dir / "hot/tmp") == 0);
}

// Objects larger than one hashing buffer (1 MiB) are hashed on a second thread while the caller
// writes; these exercise that path.
TEST_CASE("large objects are verified while streaming: resume, refetch, restart, cancel") {
  Fixture f;
  OriginServer server(f.root);
  std::string content = f.Put("big.bin", Content(5 * 1000 * 1000 + 17, 21));
  auto cache = f.Open();
  auto r = cache->Load(server.Url("/big.bin?chunk=65536&reset=3000001"));
  MLC_REQUIRE_OK(r);
  CHECK(r->digest == util::Sha256Hex(content));
  CHECK(Read(r->local_path) == content);
  CHECK(server.Stats("/big.bin").ranges == 1);

  LoadOptions opt;
  opt.expected_digest = util::Sha256Hex("not the content");
  auto bad = cache->Load(server.Url("/big.bin?chunk=65536&x=1"), opt);
  CHECK(bad.status().code() == StatusCode::kFailedPrecondition);
  CHECK(CountFiles(f.dir / "hot/tmp") == 0);

  uint64_t calls = 0;
  opt.expected_digest.clear();
  opt.progress = [&](uint64_t done, uint64_t) { return ++calls < 3 || done < 2000000; };
  auto cancelled = cache->Load(server.Url("/big.bin?chunk=65536&x=2"), opt);
  CHECK(cancelled.status().code() == StatusCode::kCancelled);
  CHECK(CountFiles(f.dir / "hot/tmp") == 0);

  // A restart (the origin could not resume) discards what was hashed and written so far.
  auto tmp = TempObject::Create(f.dir / "hot");
  MLC_REQUIRE_OK(tmp);
  std::string first = Content(3 * 1000 * 1000, 22);
  for (size_t at = 0; at < first.size(); at += 70001) {
    MLC_REQUIRE_OK((*tmp)->Write(std::string_view(first).substr(at, 70001)));
  }
  MLC_REQUIRE_OK((*tmp)->Restart());
  std::string second = Content(2 * 1000 * 1000 + 5, 23);
  for (size_t at = 0; at < second.size(); at += 300007) {
    MLC_REQUIRE_OK((*tmp)->Write(std::string_view(second).substr(at, 300007)));
  }
  MLC_REQUIRE_OK((*tmp)->Finish());
  CHECK((*tmp)->bytes_written() == second.size());
  CHECK((*tmp)->Digest() == util::Sha256Hex(second));
  CHECK(Read((*tmp)->path()) == second);
  std::string published = f.dir / "published.bin";
  MLC_REQUIRE_OK((*tmp)->Publish(published));
  CHECK(Read(published) == second);
  CHECK(!(*tmp)->Write("more").ok());  // finished

  // Dropped mid-stream (an error or a cancel upstream): the thread stops, the part goes.
  auto dropped = TempObject::Create(f.dir / "hot");
  MLC_REQUIRE_OK(dropped);
  MLC_REQUIRE_OK((*dropped)->Write(first));
  dropped->reset();
  CHECK(CountFiles(f.dir / "hot/tmp") == 0);
}

}  // namespace
}  // namespace mlcore::datacache
