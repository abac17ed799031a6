// A client of slurmrestd's REST API (v0.0.38) over libcurl, with JWT auth.
//
// Connections are kept alive and reused: each call borrows an idle libcurl handle (creating one
// when all are busy, so concurrent callers run in parallel) and returns it afterwards.
//
// The token comes from, first match wins: the URI's `token=` (a JWT, or the word `scontrol` to
// have mlcore mint one with `scontrol token` and mint a new one a minute before it expires), the
// URI's `token_file=` (a file holding the JWT), the environment's SLURM_JWT. The user name sent in
// X-SLURM-USER-NAME is the URI's `user=`, else the current user.
//
// Thread safety: all methods may be called from several threads at once.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mlcore/status.h"
#include "mlcore/uri.h"

namespace mlcore::slurm {

class RestClient {
 public:
  // Builds a client for `uri` (slurm+http://HOST:PORT, slurm+https://HOST:PORT,
  // slurm+unix:///PATH). Errors: INVALID_ARGUMENT (no host or socket path), UNAUTHENTICATED (no
  // token anywhere: the message lists the ways to give one), and those of `scontrol token`.
  static Result<std::unique_ptr<RestClient>> Create(const Uri& uri);
  ~RestClient();

  // One call; `path` is below /slurm/v0.0.38 ("/job/submit"). Returns the parsed answer, or the
  // Status TranslateRestAnswer makes of an error; UNAVAILABLE when slurmrestd cannot be reached
  // (the message names the address). `what` names the operation for messages.
  Result<nlohmann::json> Get(const std::string& path, const std::string& what);
  Result<nlohmann::json> Post(const std::string& path, const std::string& body,
                              const std::string& what);
  Result<nlohmann::json> Delete(const std::string& path, const std::string& what);

  const std::string& user() const { return user_; }
  // "http://127.0.0.1:6820" or "unix:/run/slurmrestd.sock", for messages and BackendInfo.
  const std::string& target() const { return target_; }

 private:
  RestClient() = default;
  Result<nlohmann::json> Call(const char* method, const std::string& path, const std::string* body,
                              const std::string& what);
  // The current token, minting a new one first when it is (about to be) expired and minted by us.
  Result<std::string> Token(bool* expired);
  void* Borrow();             // a CURL* from the idle pool, or a new one
  void Return(void* handle);  // back to the pool

  std::string base_url_;     // "http://host:port/slurm/v0.0.38"
  std::string unix_socket_;  // non-empty for slurm+unix://
  std::string ca_file_;      // slurm+https://: CA bundle to trust (empty = the system's)
  std::string target_;
  std::string user_;
  bool mint_ = false;  // token minted (and re-minted) with `scontrol token`
  int64_t lifespan_s_ = 3600;
  std::mutex token_mu_;
  std::string token_;
  int64_t token_expiry_ = 0;  // unix seconds; 0 = unknown
  std::mutex pool_mu_;
  std::vector<void*> idle_;
};

}  // namespace mlcore::slurm
