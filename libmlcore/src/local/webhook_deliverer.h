// Webhook delivery on the local backend. Registry changes queue deliveries in registry.db (see
// RegistryStore); a detached `mlc-supervisor --deliver-webhooks --state DIR` works the queue while
// anything is unfinished, holding `<state>/webhooks.lock` so at most one runs per state
// directory, and exits when the queue is empty. Any process that queues deliveries (or opens the
// registry while some are unfinished, e.g. after a reboot) starts one when none runs.
//
// Secrets: an ENV secret is read from the creating process's environment at CreateWebhook and kept
// in `<state>/webhook-secrets/<id>` (mode 0600), as jobs keep theirs; a FILE secret is read from
// its owner-only file at every delivery.
#pragma once

#include <chrono>
#include <string>

#include "local/registry_store.h"
#include "mlcore/status.h"
#include "registry/webhook_post.h"

namespace mlcore::local {

// Delivery timing. The defaults are registry.proto's contract; the local backend reads overrides
// from MLC_WEBHOOK_TIMEOUT_MS, MLC_WEBHOOK_RETRY_BASE_MS, MLC_WEBHOOK_RETRY_MAX_MS and
// MLC_WEBHOOK_MAX_ATTEMPTS in the environment of the process that starts the deliverer.
struct WebhookPolicy {
  std::chrono::milliseconds timeout{10'000};
  std::chrono::milliseconds retry_base{10'000};  // first retry; doubles on each failure
  std::chrono::milliseconds retry_max{3'600'000};
  int max_attempts = 10;
  static WebhookPolicy FromEnvironment();
};

// Checks `hook.secret` and, for ENV, captures its value now into the state directory: `value`
// when not empty (the caller read it), else the variable of this process. Errors:
// INVALID_ARGUMENT (malformed reference), FAILED_PRECONDITION (the variable is unset, the file is
// not owner-only), NOT_FOUND (no such file or key).
Status CaptureWebhookSecret(const std::string& state_dir, const v1::Webhook& hook,
                            const std::string& value = {});
// Forgets a captured secret (no error when there is none).
void ForgetWebhookSecret(const std::string& state_dir, const std::string& webhook_id);
// The secret's value for a delivery now. Errors as CaptureWebhookSecret's.
Result<std::string> ResolveWebhookSecret(const std::string& state_dir, const v1::Webhook& hook);

// Counts `attempt`, made at `now_us`, on `delivery`: attempts, last HTTP status, error, latency
// and attempt time (the status is the caller's to set).
void RecordAttempt(const registry::WebhookAttempt& attempt, int64_t now_us,
                   v1::WebhookDelivery* delivery);

// Makes one attempt of `due` and records its outcome (SUCCEEDED, RETRYING with the next attempt
// time, or FAILED after the last attempt). Returns the delivery as recorded.
Result<v1::WebhookDelivery> AttemptDelivery(RegistryStore& store, const std::string& state_dir,
                                            const RegistryStore::DueDelivery& due,
                                            const WebhookPolicy& policy);

// Starts a detached deliverer for `state_dir` unless one runs.
Status StartWebhookDeliverer(const std::string& state_dir);

// The deliverer's main: works the queue until it is empty. Returns at once (0) when another
// process holds the lock.
int RunWebhookDelivererMain(const std::string& state_dir);

}  // namespace mlcore::local
