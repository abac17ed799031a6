#include "local/webhook_deliverer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "local/job_store.h"
#include "local/log_file.h"
#include "local/process.h"
#include "registry/webhook_post.h"
#include "util/fs.h"
#include "util/secrets.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

// A non-negative integer from the environment, else `fallback`.
int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  long long n = std::strtoll(value, &end, 10);
  return end == value || *end != '\0' || n < 0 ? fallback : n;
}

std::chrono::milliseconds EnvMs(const char* name, std::chrono::milliseconds fallback) {
  return std::chrono::milliseconds(EnvInt(name, fallback.count()));
}

std::string SecretPath(const std::string& state_dir, const std::string& id) {
  return state_dir + "/webhook-secrets/" + id;
}

std::string LockPath(const std::string& state_dir) { return state_dir + "/webhooks.lock"; }

void Log(const std::string& message) {
  std::cerr << FormatLogTime(NowMicros()) << " mlc-supervisor[" << getpid()
            << "] webhooks: " << message << std::endl;
}

// Reads the secret's value as the reference says, in this process.
Result<std::string> ReadReference(const v1::SecretRef& ref) {
  const std::string key = ref.key().empty() ? ref.name() : ref.key();
  if (ref.source() == v1::SECRET_SOURCE_ENV) {
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) {
      return FailedPreconditionError("webhook secret " + ref.name() + ": environment variable " +
                                     key + " is not set; export it and retry");
    }
    return std::string(value);
  }
  if (ref.source() == v1::SECRET_SOURCE_FILE) {
    return util::ReadSecretFromFile(ref.name(), ref.path(), key);
  }
  return InvalidArgumentError("webhook secret " + ref.name() +
                              ": source must be SECRET_SOURCE_ENV or SECRET_SOURCE_FILE");
}

}  // namespace

WebhookPolicy WebhookPolicy::FromEnvironment() {
  WebhookPolicy p;
  p.timeout = EnvMs("MLC_WEBHOOK_TIMEOUT_MS", p.timeout);
  p.retry_base = EnvMs("MLC_WEBHOOK_RETRY_BASE_MS", p.retry_base);
  p.retry_max = EnvMs("MLC_WEBHOOK_RETRY_MAX_MS", p.retry_max);
  p.max_attempts =
      static_cast<int>(std::max<int64_t>(1, EnvInt("MLC_WEBHOOK_MAX_ATTEMPTS", p.max_attempts)));
  return p;
}

Status CaptureWebhookSecret(const std::string& state_dir, const v1::Webhook& hook,
                            const std::string& provided) {
  std::string value = provided;
  if (value.empty() || hook.secret().source() != v1::SECRET_SOURCE_ENV) {
    MLC_ASSIGN_OR_RETURN(value, ReadReference(hook.secret()));
  }
  if (hook.secret().source() != v1::SECRET_SOURCE_ENV) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(state_dir + "/webhook-secrets", ec);
  chmod((state_dir + "/webhook-secrets").c_str(), 0700);
  return util::AtomicWriteFile(SecretPath(state_dir, hook.id()), value, 0600);
}

void ForgetWebhookSecret(const std::string& state_dir, const std::string& webhook_id) {
  unlink(SecretPath(state_dir, webhook_id).c_str());
}

Result<std::string> ResolveWebhookSecret(const std::string& state_dir, const v1::Webhook& hook) {
  if (hook.secret().source() == v1::SECRET_SOURCE_ENV) {
    auto value = util::ReadFile(SecretPath(state_dir, hook.id()));
    if (!value.ok()) {
      return FailedPreconditionError("webhook " + hook.id() + ": the value of secret " +
                                     hook.secret().name() + " captured at creation is missing (" +
                                     value.status().message() + "); re-create the webhook");
    }
    return *value;
  }
  return ReadReference(hook.secret());
}

void RecordAttempt(const registry::WebhookAttempt& attempt, int64_t now_us,
                   v1::WebhookDelivery* delivery) {
  delivery->set_attempts(delivery->attempts() + 1);
  delivery->set_last_http_status(attempt.http_status);
  delivery->set_last_error(attempt.error);
  *delivery->mutable_last_latency() = TimeUtil::MicrosecondsToDuration(attempt.latency_us);
  *delivery->mutable_last_attempt_time() = TimeUtil::MicrosecondsToTimestamp(now_us);
}

Result<v1::WebhookDelivery> AttemptDelivery(RegistryStore& store, const std::string& state_dir,
                                            const RegistryStore::DueDelivery& due,
                                            const WebhookPolicy& policy) {
  v1::WebhookDelivery d = due.delivery;
  const int64_t now = NowMicros();
  registry::WebhookAttempt attempt;
  if (due.event.sequence() == 0) {
    attempt.error = "event " + std::to_string(d.event_sequence()) + " is no longer in the log";
  } else {
    auto secret = ResolveWebhookSecret(state_dir, due.webhook);
    if (!secret.ok()) {
      attempt.error = secret.status().message();
    } else {
      attempt =
          registry::PostWebhook(due.webhook.url(), *secret, due.event, d.id(), policy.timeout);
    }
  }
  RecordAttempt(attempt, now, &d);
  d.clear_next_attempt_time();
  int64_t due_us = 0;
  if (attempt.ok()) {
    d.set_status(v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED);
  } else if (d.attempts() >= policy.max_attempts || due.event.sequence() == 0) {
    d.set_status(v1::WEBHOOK_DELIVERY_STATUS_FAILED);
  } else {
    int64_t backoff_ms = policy.retry_base.count();
    for (int i = 1; i < d.attempts() && backoff_ms < policy.retry_max.count(); ++i) backoff_ms *= 2;
    backoff_ms = std::min<int64_t>(backoff_ms, policy.retry_max.count());
    due_us = NowMicros() + backoff_ms * 1000;
    d.set_status(v1::WEBHOOK_DELIVERY_STATUS_RETRYING);
    *d.mutable_next_attempt_time() = TimeUtil::MicrosecondsToTimestamp(due_us);
  }
  MLC_RETURN_IF_ERROR(store.UpdateDelivery(d, due_us));
  return d;
}

Status StartWebhookDeliverer(const std::string& state_dir) {
  int fd = open(LockPath(state_dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return util::FromErrno(errno, "cannot open " + LockPath(state_dir));
  const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);                       // releases the probe's lock
  if (!free) return Status::Ok();  // a deliverer runs; it polls the queue
  MLC_ASSIGN_OR_RETURN(std::string binary, SupervisorBinary());
  return SpawnDetached({binary, "--deliver-webhooks", "--state", state_dir},
                       state_dir + "/webhooks.log")
      .status();
}

int RunWebhookDelivererMain(const std::string& state_dir) {
  int fd = open(LockPath(state_dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    Log("cannot open " + LockPath(state_dir) + ": " + std::strerror(errno));
    return 2;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) return 0;  // another deliverer has the queue
  auto store = RegistryStore::Open(state_dir + "/registry.db");
  if (!store.ok()) {
    Log("cannot open the registry: " + store.status().ToString());
    return 2;
  }
  const WebhookPolicy policy = WebhookPolicy::FromEnvironment();
  constexpr auto kPoll = std::chrono::milliseconds(100);  // new work queued by other processes
  while (true) {
    auto due = (*store)->DueDeliveries(NowMicros());
    if (!due.ok()) {
      Log("cannot read the delivery queue: " + due.status().ToString());
      return 2;
    }
    for (const auto& item : *due) {
      auto done = AttemptDelivery(**store, state_dir, item, policy);
      if (!done.ok()) {
        Log("cannot record delivery " + item.delivery.id() + ": " + done.status().ToString());
        return 2;
      }
      if (done->status() != v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED) {
        Log("delivery " + done->id() + " of event " + std::to_string(done->event_sequence()) +
            " to " + item.webhook.url() + ": " + done->last_error() + " (" +
            v1::WebhookDeliveryStatus_Name(done->status()) + ")");
      }
    }
    if (!due->empty()) continue;
    auto next = (*store)->NextDeliveryDue();
    if (!next.ok()) {
      Log("cannot read the delivery queue: " + next.status().ToString());
      return 2;
    }
    if (*next == 0) {
      // Empty: let go of the lock, then look once more, so a delivery queued by a process that
      // saw the lock held is never stranded.
      flock(fd, LOCK_UN);
      auto again = (*store)->NextDeliveryDue();
      if (!again.ok() || *again == 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) return 0;
      continue;
    }
    auto wait = std::chrono::microseconds(std::max<int64_t>(0, *next - NowMicros()));
    std::this_thread::sleep_for(std::min<std::chrono::microseconds>(wait, kPoll));
  }
}

}  // namespace mlcore::local
