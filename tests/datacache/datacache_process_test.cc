// The data cache across processes: single flight, dead-process pins, killed downloads, disk full.
#include <signal.h>
#include <unistd.h>

#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <vector>

#include <doctest/doctest.h>

#include "datacache/data_cache.h"
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
using testing::RunInChild;
using testing::TestOptions;

TEST_CASE("four processes loading one URL fetch it once") {
  TempDir dir;
  std::string root = dir / "origin";
  MLC_REQUIRE_OK(util::EnsureDirectory(root, "origin"));
  std::string content = Content(160000, 20);
  WriteFile(root + "/sp.bin", content);
  OriginServer server(root);
  DataCacheOptions options = TestOptions(dir);
  { MLC_REQUIRE_OK(DataCache::Open(options)); }  // create the index once
  std::string url = server.Url("/sp.bin?slow=10");
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto cache = DataCache::Open(options);
      if (!cache.ok()) ::_exit(2);
      auto r = (*cache)->Load(url);
      ::_exit(r.ok() && r->digest == util::Sha256Hex(content) ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(server.Stats("/sp.bin").requests == 1);
  auto cache = DataCache::Open(options);
  MLC_REQUIRE_OK(cache);
  auto stats = (*cache)->GetStats();
  MLC_REQUIRE_OK(stats);
  CHECK(stats->origin_fetches == 1);
}

TEST_CASE("a pin held by a process is released once the process is gone") {
  TempDir dir;
  std::string source = dir / "src.bin";
  WriteFile(source, Content(5000, 21));
  DataCacheOptions options = TestOptions(dir);
  { MLC_REQUIRE_OK(DataCache::Open(options)); }
  int to_child[2];
  int to_parent[2];
  REQUIRE(::pipe(to_child) == 0);
  REQUIRE(::pipe(to_parent) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto cache = DataCache::Open(options);
    LoadOptions opt;
    opt.pin_owner = PidPinOwner();
    bool ok = cache.ok() && (*cache)->Load(source, opt).ok();
    char c = ok ? 'y' : 'n';
    (void)!::write(to_parent[1], &c, 1);
    (void)!::read(to_child[0], &c, 1);  // wait for the parent to look
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(to_parent[0], &c, 1) == 1);
  REQUIRE(c == 'y');
  auto cache = DataCache::Open(options);
  MLC_REQUIRE_OK(cache);
  auto held = (*cache)->List();
  MLC_REQUIRE_OK(held);
  REQUIRE(held->size() == 1);
  REQUIRE((*held)[0].pins.size() == 1);
  CHECK((*held)[0].pins[0].owner.rfind("pid:", 0) == 0);
  CHECK((*held)[0].pins[0].owner.find(std::to_string(pid)) != std::string::npos);
  (void)!::write(to_child[1], &c, 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);
  auto released = (*cache)->List();
  MLC_REQUIRE_OK(released);
  REQUIRE(released->size() == 1);
  CHECK((*released)[0].pins.empty());
}

TEST_CASE("a killed download leaves no visible object and does not block the next load") {
  TempDir dir;
  std::string root = dir / "origin";
  MLC_REQUIRE_OK(util::EnsureDirectory(root, "origin"));
  std::string content = Content(size_t{256} * 1024, 22);
  WriteFile(root + "/k.bin", content);
  OriginServer server(root);
  DataCacheOptions options = TestOptions(dir);
  { MLC_REQUIRE_OK(DataCache::Open(options)); }
  std::string url = server.Url("/k.bin?slow=40");
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto cache = DataCache::Open(options);
    if (cache.ok()) (*cache)->Load(url).status().IgnoreError();
    ::_exit(0);
  }
  // Kill the child once its download is under way.
  while (CountFiles(options.hot_dir + "/tmp") == 0) ::usleep(5000);
  ::usleep(50000);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(CountFiles(options.hot_dir + "/objects") == 0);

  auto cache = DataCache::Open(options);
  MLC_REQUIRE_OK(cache);
  auto r = (*cache)->Load(url);
  MLC_REQUIRE_OK(r);
  CHECK(r->source == Source::kOrigin);
  CHECK(r->digest == util::Sha256Hex(content));
  CHECK(CountFiles(options.hot_dir + "/objects") == 1);
  CHECK(CountFiles(options.hot_dir + "/tmp") == 0);
}

TEST_CASE("a full disk fails the load with RESOURCE_EXHAUSTED and publishes nothing") {
  TempDir dir;
  std::string source = dir / "big.bin";
  WriteFile(source, Content(1 << 20, 23));
  DataCacheOptions options = TestOptions(dir);
  { MLC_REQUIRE_OK(DataCache::Open(options)); }
  int code = RunInChild([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing us
    auto cache = DataCache::Open(options);
    if (!cache.ok()) return 2;
    rlimit limit{rlim_t{256} * 1024, rlim_t{256} * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 3;
    auto r = (*cache)->Load(source);
    if (r.ok()) return 0;
    if (r.status().message().find("/tmp/") == std::string::npos) return 4;  // names the path
    return static_cast<int>(r.status().code());
  });
  CHECK(code == static_cast<int>(StatusCode::kResourceExhausted));
  CHECK(CountFiles(options.hot_dir + "/objects") == 0);
  CHECK(CountFiles(options.hot_dir + "/tmp") == 0);
  auto cache = DataCache::Open(options);
  MLC_REQUIRE_OK(cache);
  auto entries = (*cache)->List();
  MLC_REQUIRE_OK(entries);
  CHECK(entries->empty());
}

}  // namespace
}  // namespace mlcore::datacache
