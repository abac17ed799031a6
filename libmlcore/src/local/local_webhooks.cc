// RegistryService's events on the local backend: watching the event log of registry.db, and
// webhooks (stored in registry.db, delivered by the deliverer of webhook_deliverer.h).
#include <algorithm>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "local/local_backend.h"
#include "local/registry_store.h"
#include "local/webhook_deliverer.h"
#include "registry/event_filter.h"
#include "registry/webhook_post.h"
#include "util/fs.h"
#include "util/ids.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

// How often a watch looks at the log for changes made by this or other processes.
constexpr auto kWatchPoll = std::chrono::milliseconds(50);

}  // namespace

Status LocalBackend::WatchRegistryEvents(const v1::WatchRegistryEventsRequest& r,
                                         const std::function<bool(const v1::RegistryEvent&)>& sink,
                                         const std::function<bool()>& keep_watching) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(r.project()));
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  int64_t after = 0;
  if (r.has_after_sequence()) {
    after = r.after_sequence();
  } else {
    MLC_ASSIGN_OR_RETURN(after, store->LastEventSequence(r.project()));
  }
  constexpr int kBatch = 1000;
  while (true) {
    // Unfiltered, so that `after` moves past events the filters skip.
    MLC_ASSIGN_OR_RETURN(auto events, store->ListEvents(r.project(), after, {}, {}, kBatch));
    for (const auto& e : events) {
      after = e.sequence();
      if (registry::EventMatches(e, r.types(), r.models()) && !sink(e)) return Status::Ok();
    }
    if (static_cast<int>(events.size()) == kBatch) continue;
    if (keep_watching && !keep_watching()) return Status::Ok();
    std::this_thread::sleep_for(kWatchPoll);
  }
}

Result<v1::Webhook> LocalBackend::CreateWebhook(const v1::CreateWebhookRequest& request) {
  const v1::Webhook& webhook = request.webhook();
  MLC_RETURN_IF_ERROR(CheckProjectExists(webhook.project()));
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  for (const std::string& model : webhook.models()) {
    MLC_RETURN_IF_ERROR(store->GetModel(webhook.project(), model).status());
  }
  v1::Webhook hook = webhook;
  hook.set_id(util::RandomHexId("wh-", 16));
  *hook.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(NowMicros());
  hook.set_created_by(util::CurrentUser());
  MLC_RETURN_IF_ERROR(CaptureWebhookSecret(dir_, hook, request.secret_value()));
  Status stored = store->CreateWebhook(hook);
  if (!stored.ok()) {
    ForgetWebhookSecret(dir_, hook.id());
    return stored;
  }
  return hook;
}

Result<v1::ListWebhooksResponse> LocalBackend::ListWebhooks(const v1::ListWebhooksRequest& r) {
  MLC_RETURN_IF_ERROR(CheckProjectExists(r.project()));
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  return store->ListWebhooks(r.project(), r.page_size(), r.page_token());
}

Status LocalBackend::DeleteWebhook(const std::string& id) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  MLC_RETURN_IF_ERROR(store->DeleteWebhook(id));
  ForgetWebhookSecret(dir_, id);
  return Status::Ok();
}

Result<v1::WebhookDelivery> LocalBackend::TestWebhook(const std::string& id) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  MLC_ASSIGN_OR_RETURN(v1::Webhook hook, store->GetWebhook(id));
  MLC_ASSIGN_OR_RETURN(std::string secret, ResolveWebhookSecret(dir_, hook));
  const int64_t now = NowMicros();
  v1::RegistryEvent ping;
  ping.set_type(v1::REGISTRY_EVENT_TYPE_PING);
  *ping.mutable_time() = TimeUtil::MicrosecondsToTimestamp(now);
  ping.set_actor(util::CurrentUser());
  ping.set_project(hook.project());
  v1::WebhookDelivery d;
  d.set_id(util::RandomHexId("dlv-", 16));
  d.set_webhook_id(hook.id());
  d.set_event_type(v1::REGISTRY_EVENT_TYPE_PING);
  *d.mutable_create_time() = ping.time();
  registry::WebhookAttempt attempt = registry::PostWebhook(
      hook.url(), secret, ping, d.id(), WebhookPolicy::FromEnvironment().timeout);
  d.set_status(attempt.ok() ? v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED
                            : v1::WEBHOOK_DELIVERY_STATUS_FAILED);
  RecordAttempt(attempt, now, &d);
  MLC_RETURN_IF_ERROR(store->RecordDelivery(d));
  return d;
}

Result<v1::ListWebhookDeliveriesResponse> LocalBackend::ListWebhookDeliveries(
    const v1::ListWebhookDeliveriesRequest& r) {
  MLC_ASSIGN_OR_RETURN(RegistryStore * store, Registry());
  MLC_RETURN_IF_ERROR(store->GetWebhook(r.webhook_id()).status());
  return store->ListDeliveries(r, r.page_size());
}

}  // namespace mlcore::local
