#include "slurm/slurm_rest.h"

#include <algorithm>
#include <chrono>

#include <curl/curl.h>

#include "slurm/slurm_mapping.h"
#include "util/fs.h"
#include "util/strings.h"
#include "util/subprocess.h"

namespace mlcore::slurm {
namespace {

constexpr const char* kApiPrefix = "/slurm/v0.0.38";
// Mint a new token this long before the old one expires (a third of a shorter lifespan).
constexpr int64_t kRefreshMarginS = 60;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// libcurl's failures, translated once.
Status FromCurl(CURLcode code, const std::string& target, const char* detail) {
  std::string text = detail != nullptr && detail[0] != '\0' ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return UnavailableError("cannot reach slurmrestd at " + target + ": " + text +
                              " (is slurmrestd running? for a dev cluster: "
                              "scripts/slurm-dev-cluster.sh up)");
    case CURLE_PEER_FAILED_VERIFICATION:
      return UnavailableError("TLS with slurmrestd at " + target +
                              " failed: its certificate is not trusted (" + text +
                              "); for a private CA add ca_file=PATH (PEM) to the backend URI");
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
      return UnavailableError("TLS with slurmrestd at " + target + " failed: " + text);
    default:
      return UnknownError("HTTP call to slurmrestd at " + target + " failed: " + text);
  }
}

}  // namespace

Result<std::unique_ptr<RestClient>> RestClient::Create(const Uri& uri) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<RestClient> c(new RestClient());
  if (uri.scheme == "slurm+unix") {
    if (uri.path.empty()) {
      return InvalidArgumentError("backend URI \"" + uri.Redacted() +
                                  "\" names no socket; use slurm+unix:///path/to/slurmrestd.sock");
    }
    c->unix_socket_ = uri.path;
    c->base_url_ = std::string("http://localhost") + kApiPrefix;
    c->target_ = "unix:" + uri.path;
  } else {
    if (uri.authority.empty()) {
      return InvalidArgumentError("backend URI \"" + uri.Redacted() +
                                  "\" names no host; use slurm+http://HOST:PORT (slurmrestd's "
                                  "address, e.g. slurm+http://127.0.0.1:6820)");
    }
    const char* proto = uri.scheme == "slurm+https" ? "https://" : "http://";
    c->target_ = proto + uri.authority;
    c->base_url_ = c->target_ + kApiPrefix;
  }
  auto q = [&](const char* key) {
    auto it = uri.query.find(key);
    return it == uri.query.end() ? std::string() : it->second;
  };
  c->user_ = q("user").empty() ? util::CurrentUser() : q("user");
  if (!q("ca_file").empty()) {
    if (uri.scheme != "slurm+https") {
      return InvalidArgumentError("ca_file= is for slurm+https:// backends, not " + uri.scheme +
                                  "://");
    }
    // Read now, so a wrong path is reported at open and not as a TLS failure later.
    MLC_RETURN_IF_ERROR(util::ReadFile(q("ca_file")).status());
    c->ca_file_ = q("ca_file");
  }
  if (!q("token_lifespan").empty()) {
    try {
      c->lifespan_s_ = std::stoll(q("token_lifespan"));
    } catch (...) {
      c->lifespan_s_ = 0;
    }
    if (c->lifespan_s_ <= 0) {
      return InvalidArgumentError("token_lifespan=" + q("token_lifespan") +
                                  " is not a positive number of seconds");
    }
  }
  std::string token = q("token");
  if (token == "scontrol") {
    c->mint_ = true;
  } else if (!token.empty()) {
    c->token_ = token;
  } else if (!q("token_file").empty()) {
    MLC_ASSIGN_OR_RETURN(std::string text, util::ReadFile(q("token_file")));
    c->token_ = std::string(util::TrimSpace(text));
  } else {
    c->token_ = util::GetEnv("SLURM_JWT");
  }
  if (!c->mint_ && c->token_.empty()) {
    return UnauthenticatedError(
        "no Slurm JWT for " + c->target_ +
        ": set SLURM_JWT (`export $(scontrol token)`), add token=JWT or token_file=PATH to the "
        "backend URI, or token=scontrol to have mlcore mint one with `scontrol token`");
  }
  if (!c->mint_) c->token_expiry_ = JwtExpiry(c->token_).value_or(0);
  return c;
}

RestClient::~RestClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

Result<std::string> RestClient::Token(bool* expired) {
  std::lock_guard lock(token_mu_);
  const int64_t now = NowSeconds();
  *expired = false;
  const int64_t margin = std::min(kRefreshMarginS, lifespan_s_ / 3);
  if (mint_ && (token_.empty() || (token_expiry_ > 0 && now >= token_expiry_ - margin))) {
    MLC_ASSIGN_OR_RETURN(auto r, util::RunCommand({"scontrol", "token", "username=" + user_,
                                                   "lifespan=" + std::to_string(lifespan_s_)}));
    std::string text(util::TrimSpace(r.output));
    const std::string key = "SLURM_JWT=";
    if (r.exit_code != 0 || text.rfind(key, 0) != 0) {
      return UnauthenticatedError(
          "`scontrol token username=" + user_ + "` did not mint a JWT (exit code " +
          std::to_string(r.exit_code) +
          "); only root or SlurmUser may mint tokens for other users, and the cluster needs "
          "AuthAltTypes=auth/jwt");
    }
    token_ = text.substr(key.size());
    token_expiry_ = JwtExpiry(token_).value_or(now + lifespan_s_);
  }
  *expired = !mint_ && token_expiry_ > 0 && now >= token_expiry_;
  return token_;
}

void* RestClient::Borrow() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void RestClient::Return(void* handle) {
  std::lock_guard lock(pool_mu_);
  idle_.push_back(handle);
}

Result<nlohmann::json> RestClient::Call(const char* method, const std::string& path,
                                        const std::string* body, const std::string& what) {
  bool expired = false;
  MLC_ASSIGN_OR_RETURN(std::string token, Token(&expired));
  CURL* curl = static_cast<CURL*>(Borrow());
  if (curl == nullptr) return InternalError("curl_easy_init failed");
  curl_easy_reset(curl);  // keeps the connection cache: the connection is reused
  std::string url = base_url_ + path;
  std::string answer;
  char error[CURL_ERROR_SIZE] = {0};
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("X-SLURM-USER-NAME: " + user_).c_str());
  headers = curl_slist_append(headers, ("X-SLURM-USER-TOKEN: " + token).c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  if (body != nullptr) headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!unix_socket_.empty()) curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, unix_socket_.c_str());
  if (!ca_file_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  Return(curl);
  if (rc != CURLE_OK) return FromCurl(rc, target_, error);
  MLC_RETURN_IF_ERROR(TranslateRestAnswer(status, answer, what, expired));
  nlohmann::json j = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return UnknownError("slurmrestd at " + target_ + " answered " + what +
                        " with something that is not JSON: " + answer.substr(0, 200));
  }
  return j;
}

Result<nlohmann::json> RestClient::Get(const std::string& path, const std::string& what) {
  return Call("GET", path, nullptr, what);
}

Result<nlohmann::json> RestClient::Post(const std::string& path, const std::string& body,
                                        const std::string& what) {
  return Call("POST", path, &body, what);
}

Result<nlohmann::json> RestClient::Delete(const std::string& path, const std::string& what) {
  return Call("DELETE", path, nullptr, what);
}

}  // namespace mlcore::slurm
