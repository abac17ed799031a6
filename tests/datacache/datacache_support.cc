#include "datacache_support.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>

namespace mlcore::datacache::testing {

OriginServer::OriginServer(const std::string& root) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execlp("python3", "python3", MLC_ORIGIN_SERVER, root.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  FILE* out = ::fdopen(fds[0], "r");
  REQUIRE(out != nullptr);
  REQUIRE(std::fscanf(out, "%d", &port_) == 1);
  std::fclose(out);
}

OriginServer::~OriginServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string OriginServer::Url(const std::string& path_and_query) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path_and_query;
}

namespace {
size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}
}  // namespace

OriginServer::PathStats OriginServer::Stats(const std::string& path) const {
  CURL* h = curl_easy_init();
  std::string body;
  std::string url = Url("/_stats?path=" + path);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(h);
  curl_easy_cleanup(h);
  REQUIRE(code == CURLE_OK);
  PathStats s;
  std::istringstream(body) >> s.requests >> s.ranges >> s.not_modified;
  return s;
}

std::string Content(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

int CountFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) != 0) continue;
    n += S_ISDIR(st.st_mode) ? CountFiles(path) : 1;
  }
  ::closedir(d);
  return n;
}

int RunInChild(const std::function<int()>& body) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

DataCacheOptions TestOptions(const mlcore::testing::TempDir& dir, uint64_t capacity, bool cold) {
  DataCacheOptions o;
  o.hot_dir = dir / "hot";
  o.hot_capacity_bytes = capacity;
  if (cold) o.cold_dir = dir / "cold";
  o.origin.initial_backoff_ms = 10;
  o.origin.max_backoff_ms = 50;
  o.origin.low_speed_time_s = 10;
  return o;
}

}  // namespace mlcore::datacache::testing
