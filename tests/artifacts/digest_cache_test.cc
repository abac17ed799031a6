// The client's digest cache: what it trusts (unchanged stat, recorded after the mtime), what it
// does not (a rewrite, a racy entry), and that a corrupt or unusable database never fails a call.
#include "artifacts/digest_cache.h"

#include <fcntl.h>

#include <filesystem>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include "unit/test_support.h"
#include "util/sha256.h"

namespace mlcore::artifacts {
namespace {

using testing::TempDir;
using testing::WriteFile;

constexpr int64_t kHourNs = int64_t{3600} * 1000000000;

// Sets a file's mtime (and atime) `ago_ns` before now.
void Age(const std::string& path, int64_t ago_ns) {
  const int64_t t = NowNs() - ago_ns;
  struct timespec times[2] = {{t / 1000000000, t % 1000000000}, {t / 1000000000, t % 1000000000}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st;
}

// Records `path` with the digest of `content` as read now.
Status RecordNow(DigestCache& cache, const std::string& path, const std::string& content) {
  FileStamp stamp = StampOf(Stat(path), NowNs());
  stamp.digest = util::Sha256Hex(content);
  return cache.Record({stamp}, {path});
}

TEST_CASE("an unchanged file's digest is found; a rewrite of the same size is not trusted") {
  TempDir dir;
  auto cache = DigestCache::Open(dir / "cache/digests.db");
  REQUIRE(cache->enabled());
  const std::string file = dir / "weights.bin";
  WriteFile(file, "0123456789");
  Age(file, kHourNs);
  MLC_REQUIRE_OK(RecordNow(*cache, file, "0123456789"));
  CHECK(cache->Lookup(Stat(file)) == util::Sha256Hex("0123456789"));

  SUBCASE("same size, a new mtime") {
    WriteFile(file, "abcdefghij");
    Age(file, kHourNs / 2);
    CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
  }
  SUBCASE("same size, the mtime put back: the ctime still tells") {
    const struct stat before = Stat(file);
    WriteFile(file, "abcdefghij");
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
    CHECK(Stat(file).st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    if (CtimeNs(Stat(file)) != CtimeNs(before)) CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
  }
  SUBCASE("replaced by another file (a new inode)") {
    WriteFile(dir / "other", "0123456789");
    std::filesystem::rename(dir / "other", file);
    Age(file, kHourNs);
    CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
  }
  SUBCASE("forgotten") {
    cache->Forget(Stat(file));
    CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
  }
  SUBCASE("seen by another process's connection") {
    auto second = DigestCache::Open(dir / "cache/digests.db");
    CHECK(second->Lookup(Stat(file)) == util::Sha256Hex("0123456789"));
  }
}

TEST_CASE("a stamp recorded within the racy window of its mtime is not trusted") {
  TempDir dir;
  auto cache = DigestCache::Open(dir / "digests.db");
  const std::string file = dir / "fresh.bin";
  WriteFile(file, "just written");  // mtime: now
  MLC_REQUIRE_OK(RecordNow(*cache, file, "just written"));
  CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
  // The same file recorded again once its mtime is old enough is trusted.
  Age(file, kHourNs);
  MLC_REQUIRE_OK(RecordNow(*cache, file, "just written"));
  CHECK(cache->Lookup(Stat(file)).has_value());
  // The racy rule, exactly: an mtime less than kRacyStampSlackNs before the recording is racy.
  FileStamp stamp = StampOf(Stat(file), 0);
  stamp.digest = util::Sha256Hex("just written");
  stamp.recorded_ns = stamp.mtime_ns + kRacyStampSlackNs;
  CHECK_FALSE(StampMatches(stamp, Stat(file)));
  stamp.recorded_ns += 1;
  CHECK(StampMatches(stamp, Stat(file)));
}

TEST_CASE("a corrupt cache is replaced, an unusable one remembers nothing, neither fails") {
  TempDir dir;
  const std::string file = dir / "f";
  WriteFile(file, "content");
  Age(file, kHourNs);

  SUBCASE("corrupt: recreated empty and usable") {
    WriteFile(dir / "digests.db", std::string(8192, 'x'));
    auto cache = DigestCache::Open(dir / "digests.db");
    CHECK(cache->enabled());
    CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
    MLC_CHECK_OK(RecordNow(*cache, file, "content"));
    CHECK(cache->Lookup(Stat(file)).has_value());
  }
  SUBCASE("unusable: its directory cannot be created") {
    WriteFile(dir / "not-a-dir", "");
    auto cache = DigestCache::Open(dir / "not-a-dir/digests.db");
    CHECK_FALSE(cache->enabled());
    MLC_CHECK_OK(RecordNow(*cache, file, "content"));
    CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
    cache->Forget(Stat(file));
  }
  SUBCASE("a row that is not ours (no ctime or recording time) is ignored") {
    auto cache = DigestCache::Open(dir / "digests.db");
    FileStamp stamp = StampOf(Stat(file), 0);
    stamp.digest = util::Sha256Hex("content");
    MLC_REQUIRE_OK(cache->Record({stamp}, {file}));
    CHECK_FALSE(cache->Lookup(Stat(file)).has_value());
  }
}

TEST_CASE("the cache's location: $MLC_DIGEST_CACHE, off, else under $XDG_CACHE_HOME") {
  TempDir dir;
  {
    testing::ScopedEnv env(
        testing::EnvMap{{"MLC_DIGEST_CACHE", std::nullopt}, {"XDG_CACHE_HOME", dir.path()}});
    CHECK(DigestCache::DefaultPath() == dir / "mlcore/digests.db");
  }
  {
    testing::ScopedEnv env(testing::EnvMap{{"MLC_DIGEST_CACHE", "off"}});
    CHECK(DigestCache::DefaultPath().empty());
    CHECK_FALSE(DigestCache::Open(DigestCache::DefaultPath())->enabled());
  }
  {
    testing::ScopedEnv env(testing::EnvMap{{"MLC_DIGEST_CACHE", dir / "x.db"}});
    CHECK(DigestCache::DefaultPath() == dir / "x.db");
  }
}

}  // namespace
}  // namespace mlcore::artifacts
