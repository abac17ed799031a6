// Webhooks and the delivery queue of the registry store: webhooks are rows of `webhooks`; every
// event appended for a project queues one `deliveries` row per enabled webhook whose filters
// match, in the same transaction, so a committed change is never left undelivered and a rolled
// back one is never delivered. The deliverer (webhook_deliverer.cc) works the queue.
#include <algorithm>
#include <string>

#include <google/protobuf/util/time_util.h>

#include "core/page_token.h"
#include "local/registry_store.h"
#include "registry/event_filter.h"
#include "util/ids.h"

namespace mlcore::local {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int64_t kPending = v1::WEBHOOK_DELIVERY_STATUS_PENDING;
constexpr int64_t kRetrying = v1::WEBHOOK_DELIVERY_STATUS_RETRYING;

Result<v1::Webhook> ParseWebhook(const std::string& blob, const std::string& path) {
  v1::Webhook hook;
  if (!hook.ParseFromString(blob)) {
    return DataLossError("store " + path + ": a webhook record is corrupt");
  }
  return hook;
}

Result<v1::WebhookDelivery> ParseDelivery(const std::string& blob, const std::string& path) {
  v1::WebhookDelivery delivery;
  if (!delivery.ParseFromString(blob)) {
    return DataLossError("store " + path + ": a webhook delivery record is corrupt");
  }
  return delivery;
}

}  // namespace

Status RegistryStore::EnqueueDeliveriesLocked(const v1::RegistryEvent& event, int64_t now_us) {
  MLC_ASSIGN_OR_RETURN(Query hooks, Prepare("SELECT body FROM webhooks WHERE project = ?"));
  hooks->Bind(1, event.project());
  std::vector<v1::Webhook> targets;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, hooks->Step());
    if (!more) break;
    MLC_ASSIGN_OR_RETURN(v1::Webhook hook, ParseWebhook(hooks->ColumnBlob(0), db_->path()));
    if (hook.enabled() && registry::EventMatches(event, hook.event_types(), hook.models()))
      targets.push_back(std::move(hook));
  }
  for (const v1::Webhook& hook : targets) {
    v1::WebhookDelivery d;
    d.set_id(util::RandomHexId("dlv-", 16));
    d.set_webhook_id(hook.id());
    d.set_event_sequence(event.sequence());
    d.set_event_type(event.type());
    d.set_status(v1::WEBHOOK_DELIVERY_STATUS_PENDING);
    *d.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now_us);
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT INTO deliveries(id, webhook_id, event_sequence, "
                                          "status, due_us, body) VALUES (?, ?, ?, ?, ?, ?)"));
    q->Bind(1, d.id()).Bind(2, hook.id()).Bind(3, event.sequence()).Bind(4, kPending);
    q->Bind(5, now_us).BindBlob(6, d.SerializeAsString());
    MLC_RETURN_IF_ERROR(q->Run());
  }
  if (!targets.empty()) deliveries_queued_ = true;
  return Status::Ok();
}

Result<int64_t> RegistryStore::LastEventSequence(const std::string& project) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT MAX(sequence) FROM events WHERE project = ?"));
  q->Bind(1, project);
  MLC_ASSIGN_OR_RETURN(bool row, q->Step());
  return row && !q->ColumnIsNull(0) ? q->ColumnInt(0) : 0;
}

Status RegistryStore::CreateWebhook(const v1::Webhook& hook) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      Query q, Prepare("INSERT INTO webhooks(id, project, create_us, body) VALUES (?, ?, ?, ?)"));
  q->Bind(1, hook.id()).Bind(2, hook.project());
  q->Bind(3, TimeUtil::TimestampToMicroseconds(hook.create_time()));
  q->BindBlob(4, hook.SerializeAsString());
  return q->Run();
}

Result<v1::Webhook> RegistryStore::GetWebhook(const std::string& id) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT body FROM webhooks WHERE id = ?"));
  q->Bind(1, id);
  MLC_ASSIGN_OR_RETURN(bool found, q->Step());
  if (!found) {
    return NotFoundError("webhook \"" + id +
                         "\" does not exist; `mlc model webhook ls` lists them");
  }
  return ParseWebhook(q->ColumnBlob(0), db_->path());
}

Result<v1::ListWebhooksResponse> RegistryStore::ListWebhooks(const std::string& project,
                                                             int page_size,
                                                             const std::string& page_token) {
  MLC_ASSIGN_OR_RETURN(std::string after, DecodePageToken(page_token, "webhooks"));
  int64_t after_us = -1;
  std::string after_id;
  if (!after.empty()) {
    size_t sep = after.find('/');
    if (sep == std::string::npos) return InvalidArgumentError("malformed webhooks page token");
    after_us = std::stoll(after.substr(0, sep));
    after_id = after.substr(sep + 1);
  }
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q,
                       Prepare("SELECT create_us, id, body FROM webhooks WHERE project = ? "
                               "AND (create_us, id) > (?, ?) ORDER BY create_us, id "
                               "LIMIT ?"));
  q->Bind(1, project).Bind(2, after_us).Bind(3, after_id).Bind(4, int64_t{page_size} + 1);
  v1::ListWebhooksResponse out;
  std::string last;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    if (out.webhooks_size() == page_size) {
      out.set_next_page_token(EncodePageToken(last, "webhooks"));
      break;
    }
    MLC_ASSIGN_OR_RETURN(*out.add_webhooks(), ParseWebhook(q->ColumnBlob(2), db_->path()));
    last = std::to_string(q->ColumnInt(0)) + "/" + q->ColumnText(1);
  }
  return out;
}

Status RegistryStore::DeleteWebhook(const std::string& id) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(auto txn, sqlite::Transaction::Begin(*db_));
  {
    MLC_ASSIGN_OR_RETURN(Query q, Prepare("DELETE FROM webhooks WHERE id = ?"));
    q->Bind(1, id);
    MLC_RETURN_IF_ERROR(q->Run());
    if (db_->Changes() == 0) {
      return NotFoundError("webhook \"" + id +
                           "\" does not exist; `mlc model webhook ls` lists them");
    }
  }
  MLC_ASSIGN_OR_RETURN(Query q,
                       Prepare("DELETE FROM deliveries WHERE webhook_id = ? AND status IN (1, 3)"));
  q->Bind(1, id);
  MLC_RETURN_IF_ERROR(q->Run());
  return txn.Commit();
}

Result<v1::ListWebhookDeliveriesResponse> RegistryStore::ListDeliveries(
    const v1::ListWebhookDeliveriesRequest& r, int page_size) {
  MLC_ASSIGN_OR_RETURN(std::string after, DecodePageToken(r.page_token(), "deliveries"));
  int64_t before_seq = INT64_MAX;
  if (!after.empty()) {
    try {
      before_seq = std::stoll(after);
    } catch (...) {
      return InvalidArgumentError("malformed deliveries page token");
    }
  }
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("SELECT seq, status, body FROM deliveries WHERE "
                                        "webhook_id = ? AND seq < ? ORDER BY seq DESC"));
  q->Bind(1, r.webhook_id()).Bind(2, before_seq);
  v1::ListWebhookDeliveriesResponse out;
  int64_t last = 0;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    auto status = static_cast<v1::WebhookDeliveryStatus>(q->ColumnInt(1));
    if (r.statuses_size() > 0 &&
        std::find(r.statuses().begin(), r.statuses().end(), status) == r.statuses().end()) {
      continue;
    }
    if (out.deliveries_size() == page_size) {
      out.set_next_page_token(EncodePageToken(std::to_string(last), "deliveries"));
      break;
    }
    MLC_ASSIGN_OR_RETURN(*out.add_deliveries(), ParseDelivery(q->ColumnBlob(2), db_->path()));
    last = q->ColumnInt(0);
  }
  return out;
}

Status RegistryStore::RecordDelivery(const v1::WebhookDelivery& delivery) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(Query q, Prepare("INSERT INTO deliveries(id, webhook_id, event_sequence, "
                                        "status, due_us, body) VALUES (?, ?, ?, ?, 0, ?)"));
  q->Bind(1, delivery.id()).Bind(2, delivery.webhook_id()).Bind(3, delivery.event_sequence());
  q->Bind(4, static_cast<int64_t>(delivery.status())).BindBlob(5, delivery.SerializeAsString());
  return q->Run();
}

Result<std::vector<RegistryStore::DueDelivery>> RegistryStore::DueDeliveries(int64_t now_us) {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      Query q, Prepare("SELECT d.body, w.body, e.body, e.sequence FROM deliveries d "
                       "JOIN webhooks w ON w.id = d.webhook_id "
                       "LEFT JOIN events e ON e.sequence = d.event_sequence "
                       "WHERE d.seq IN (SELECT MIN(seq) FROM deliveries WHERE status IN (1, 3) "
                       "GROUP BY webhook_id) AND d.due_us <= ? ORDER BY d.seq"));
  q->Bind(1, now_us);
  std::vector<DueDelivery> out;
  while (true) {
    MLC_ASSIGN_OR_RETURN(bool more, q->Step());
    if (!more) break;
    DueDelivery due;
    MLC_ASSIGN_OR_RETURN(due.delivery, ParseDelivery(q->ColumnBlob(0), db_->path()));
    MLC_ASSIGN_OR_RETURN(due.webhook, ParseWebhook(q->ColumnBlob(1), db_->path()));
    if (!q->ColumnIsNull(3)) {
      if (!due.event.ParseFromString(q->ColumnBlob(2))) {
        return DataLossError("store " + db_->path() + ": registry event " +
                             std::to_string(q->ColumnInt(3)) + " is corrupt");
      }
      due.event.set_sequence(q->ColumnInt(3));
    }
    out.push_back(std::move(due));
  }
  return out;
}

Result<int64_t> RegistryStore::NextDeliveryDue() {
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      Query q, Prepare("SELECT MIN(due_us) FROM deliveries WHERE seq IN (SELECT MIN(seq) FROM "
                       "deliveries WHERE status IN (1, 3) GROUP BY webhook_id)"));
  MLC_ASSIGN_OR_RETURN(bool row, q->Step());
  return row && !q->ColumnIsNull(0) ? q->ColumnInt(0) : 0;
}

Status RegistryStore::UpdateDelivery(const v1::WebhookDelivery& delivery, int64_t due_us) {
  const bool unfinished = delivery.status() == kPending || delivery.status() == kRetrying;
  std::lock_guard lock(mu_);
  MLC_ASSIGN_OR_RETURN(
      Query q, Prepare("UPDATE deliveries SET status = ?, due_us = ?, body = ? WHERE id = ?"));
  q->Bind(1, static_cast<int64_t>(delivery.status())).Bind(2, unfinished ? due_us : 0);
  q->BindBlob(3, delivery.SerializeAsString()).Bind(4, delivery.id());
  return q->Run();
}

}  // namespace mlcore::local
