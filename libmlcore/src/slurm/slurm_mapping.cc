#include "slurm/slurm_mapping.h"

#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

namespace mlcore::slurm {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr int kCommandNotFound = 127;

std::string Base64UrlDecode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  uint32_t acc = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) break;  // '=' padding or junk ends the data
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Result<std::string> BuildSubmitBody(const v1::Job& job, const Placement& placement) {
  const v1::JobSpec& spec = job.spec();
  std::vector<std::string> argv;
  if (!spec.entrypoint().empty()) argv.push_back(spec.entrypoint());
  for (const auto& c : spec.command()) argv.push_back(c);
  for (const auto& a : spec.args()) argv.push_back(a);
  if (argv.empty()) {
    return InvalidArgumentError("job \"" + spec.name() +
                                "\" has no command; the Slurm backend runs commands, not images: "
                                "give one (`mlc job run -- CMD ARGS`)");
  }
  std::string quoted;
  for (const auto& a : argv) quoted += " " + ShellQuote(a);
  // The check keeps a typo from ending as a bare "exit 127" (exec's own message is the shell's).
  std::string script = "#!/bin/sh\n# mlcore job " + job.id() + " (" + spec.name() + ")\n" +
                       "if ! command -v " + ShellQuote(argv[0]) +
                       " >/dev/null 2>&1; then\n"
                       "  echo \"mlcore: command not found: \"" +
                       ShellQuote(argv[0]) + " >&2\n  exit " + std::to_string(kCommandNotFound) +
                       "\nfi\nexec" + quoted + "\n";

  json j;
  j["name"] = spec.name();
  j["current_working_directory"] = spec.working_dir().empty() ? "/" : spec.working_dir();
  j["standard_output"] = placement.stdout_path;
  j["standard_error"] = placement.stderr_path;
  json env = json::object();
  for (const auto& [k, v] : placement.env) env[k] = v;
  if (env.empty()) env["MLC_JOB_ID"] = job.id();  // Slurm requires a non-empty environment
  j["environment"] = env;
  if (!placement.partition.empty()) j["partition"] = placement.partition;
  if (!placement.qos.empty()) j["qos"] = placement.qos;
  const v1::Resources& r = job.resources();
  int replicas = std::max(1, spec.replicas());
  if (replicas > 1) j["nodes"] = replicas;
  if (r.cpu_millis() > 0) j["cpus_per_task"] = (r.cpu_millis() + 999) / 1000;
  if (r.memory_bytes() > 0) {
    j["memory_per_node"] = (r.memory_bytes() + (1LL << 20) - 1) >> 20;  // MiB, Slurm's unit
  }
  if (r.gpu() > 0) j["tres_per_node"] = "gres:gpu:" + std::to_string(r.gpu());
  if (spec.has_deadline()) {
    int64_t seconds = TimeUtil::DurationToSeconds(spec.deadline());
    if (TimeUtil::DurationToMilliseconds(spec.deadline()) > seconds * 1000) ++seconds;
    if (seconds > 0) j["time_limit"] = (seconds + 59) / 60;  // minutes, rounded up
  }
  j["requeue"] = spec.preemptible();
  json body;
  body["script"] = script;
  body["job"] = j;
  return body.dump();
}

void DecodeWaitStatus(int64_t wait_status, std::optional<int32_t>* exit_code,
                      std::optional<int32_t>* signal) {
  exit_code->reset();
  signal->reset();
  const int32_t sig = static_cast<int32_t>(wait_status & 0x7f);
  if (sig == 0) {
    *exit_code = static_cast<int32_t>((wait_status >> 8) & 0xff);
  } else if (sig != 0x7f) {
    *signal = sig;
  }
}

ObservedState MapSlurmState(const std::string& slurm_state, const std::string& reason,
                            int64_t wait_status, const std::string& argv0) {
  ObservedState out;
  const std::string& s = slurm_state;
  auto decode = [&] { DecodeWaitStatus(wait_status, &out.exit_code, &out.signal); };
  auto reason_text = [&] {
    return reason.empty() || reason == "None" ? std::string() : " (" + reason + ")";
  };
  if (s == "PENDING" || s == "REQUEUED" || s == "REQUEUE_HOLD" || s == "REQUEUE_FED") {
    out.state = v1::JOB_STATE_PENDING;
    out.message =
        reason.empty() || reason == "None" ? "waiting in Slurm" : "waiting in Slurm: " + reason;
    // Slurm's reason codes, said in words for the common ones.
    if (reason == "Resources") {
      out.message += " (not enough free CPU, memory or GPU in the partition now)";
    } else if (reason == "Priority") {
      out.message += " (jobs of higher priority go first)";
    }
  } else if (s == "CONFIGURING") {
    out.state = v1::JOB_STATE_STARTING;
  } else if (s == "RUNNING" || s == "COMPLETING" || s == "SUSPENDED" || s == "STAGE_OUT" ||
             s == "SIGNALING" || s == "RESIZING" || s == "STOPPED") {
    out.state = v1::JOB_STATE_RUNNING;
  } else if (s == "COMPLETED") {
    decode();
    out.state = v1::JOB_STATE_SUCCEEDED;
  } else if (s == "FAILED" || s == "OUT_OF_MEMORY" || s == "SPECIAL_EXIT") {
    decode();
    out.state = v1::JOB_STATE_FAILED;
    if (s == "OUT_OF_MEMORY") {
      out.message = "out of memory (Slurm OUT_OF_MEMORY)";
    } else if (out.exit_code == kCommandNotFound) {
      out.message = "command not found: " + argv0;
    } else if (out.exit_code) {
      out.message = "exited with code " + std::to_string(*out.exit_code);
    } else if (out.signal) {
      out.message = "killed by signal " + std::to_string(*out.signal);
    } else {
      out.message = "failed in Slurm" + reason_text();
    }
  } else if (s == "CANCELLED") {
    decode();
    out.state = v1::JOB_STATE_CANCELLED;
    out.message = "cancelled in Slurm" + reason_text();
  } else if (s == "TIMEOUT" || s == "DEADLINE") {
    decode();
    out.state = v1::JOB_STATE_TIMED_OUT;
    out.message = "reached its time limit (Slurm " + s + ")";
  } else if (s == "NODE_FAIL" || s == "BOOT_FAIL") {
    out.state = v1::JOB_STATE_LOST;
    out.message = "lost: Slurm " + s + reason_text();
  } else if (s == "PREEMPTED") {
    decode();
    out.state = v1::JOB_STATE_PREEMPTED;
    out.message = "preempted by Slurm" + reason_text();
  } else {
    out.state = v1::JOB_STATE_RUNNING;
    out.message = "Slurm state " + s;
  }
  return out;
}

std::optional<int64_t> JwtExpiry(const std::string& token) {
  size_t a = token.find('.');
  if (a == std::string::npos) return std::nullopt;
  size_t b = token.find('.', a + 1);
  if (b == std::string::npos) return std::nullopt;
  json payload = json::parse(Base64UrlDecode(std::string_view(token).substr(a + 1, b - a - 1)),
                             nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object() || !payload.contains("exp") || !payload["exp"].is_number()) {
    return std::nullopt;
  }
  return payload["exp"].get<int64_t>();
}

Status TranslateRestAnswer(long http_status, const std::string& body, const std::string& what,
                           bool token_expired) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string text;
  int64_t code = 0;
  if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (const auto& e : j["errors"]) {
      std::string one;
      if (e.contains("description") && e["description"].is_string()) {
        one = e["description"].get<std::string>();
      }
      if (e.contains("error") && e["error"].is_string()) {
        std::string err = e["error"].get<std::string>();
        one = one.empty() ? err : one + ": " + err;
      }
      for (const char* key : {"error_number", "error_code"}) {
        if (e.contains(key) && e[key].is_number() && code == 0) code = e[key].get<int64_t>();
      }
      if (!one.empty()) text += (text.empty() ? "" : "; ") + one;
    }
  }
  if (http_status >= 200 && http_status < 300 && text.empty()) return Status::Ok();
  if (text.empty()) {
    text = body.size() > 200 ? body.substr(0, 200) + "..." : body;
    if (text.empty()) text = "HTTP " + std::to_string(http_status);
  }
  const std::string prefix = "slurmrestd: cannot " + what + ": ";
  const std::string token_hint =
      "; get a new JWT (`scontrol token lifespan=86400`, then set SLURM_JWT) or open the "
      "backend with ?token=scontrol to have mlcore mint and refresh one";
  if (token_expired) {
    return UnauthenticatedError(prefix + "the Slurm JWT has expired (Slurm said: " + text + ")" +
                                token_hint);
  }
  if (http_status == 401 || http_status == 403) {
    return UnauthenticatedError(prefix + "authentication failed (HTTP " +
                                std::to_string(http_status) + ": " + text + ")" + token_hint);
  }
  switch (code) {
    case 2017:  // ESLURM_INVALID_JOB_ID
      return NotFoundError(prefix + text);
    case 2000:  // ESLURM_INVALID_PARTITION_NAME
    case 2001:  // ESLURM_DEFAULT_PARTITION_NOT_SET
    case 2005:  // ESLURM_TOO_MANY_REQUESTED_CPUS
    case 2006:  // ESLURM_INVALID_NODE_COUNT
    case 2009:  // ESLURM_JOB_SCRIPT_MISSING
      return InvalidArgumentError(prefix + text);
    case 2002:  // ESLURM_ACCESS_DENIED
      return PermissionDeniedError(prefix + text);
    case 2014:  // ESLURM_REQUESTED_NODE_CONFIG_UNAVAILABLE
    case 2015:  // ESLURM_REQUESTED_PART_CONFIG_UNAVAILABLE
      return ResourceExhaustedError(prefix + text);
    case 2020:  // ESLURM_TRANSITION_STATE_NO_UPDATE
    case 2021:  // ESLURM_ALREADY_DONE
      return FailedPreconditionError(prefix + text);
    case -1:
    case 5005:
      // slurmctld rejected the request's credentials: slurmrestd reports it this way.
      return UnauthenticatedError(prefix + text +
                                  " (slurmctld rejected the request; the usual cause is an "
                                  "invalid or expired JWT or a wrong user name)" +
                                  token_hint);
    default:
      break;
  }
  if (http_status >= 500 || http_status == 0) return UnavailableError(prefix + text);
  if (http_status == 404) return NotFoundError(prefix + text);
  return InvalidArgumentError(prefix + text);
}

}  // namespace mlcore::slurm
