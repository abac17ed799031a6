// Client: RegistryService's events, watched and delivered to webhooks. Validation lives here so
// every backend reports the same errors.
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "core/validation.h"
#include "mlcore/backend.h"
#include "mlcore/client.h"
#include "registry/model_uri.h"
#include "registry/webhook_post.h"

namespace mlcore {
namespace {

bool IsVariableName(const std::string& s) { return s.size() <= 128 && IsEnvName(s); }

Status ValidateEventTypes(const google::protobuf::RepeatedField<int>& types, bool allow_ping) {
  for (int t : types) {
    if (t == v1::REGISTRY_EVENT_TYPE_UNSPECIFIED || !v1::RegistryEventType_IsValid(t) ||
        (!allow_ping && t == v1::REGISTRY_EVENT_TYPE_PING)) {
      std::string known;
      for (int k = v1::REGISTRY_EVENT_TYPE_MODEL_CREATED; k < v1::REGISTRY_EVENT_TYPE_PING; ++k) {
        known += (known.empty() ? "" : ", ") +
                 v1::RegistryEventType_Name(static_cast<v1::RegistryEventType>(k));
      }
      return InvalidArgumentError("event type " + std::to_string(t) +
                                  " cannot be filtered on; the types are " + known);
    }
  }
  return Status::Ok();
}

Status ValidateModels(const google::protobuf::RepeatedPtrField<std::string>& models) {
  for (const std::string& m : models) MLC_RETURN_IF_ERROR(registry::ValidateModelName(m));
  return Status::Ok();
}

Status ValidateWebhookId(const std::string& id) {
  if (id.empty()) return InvalidArgumentError("give the webhook's id (`mlc model webhook ls`)");
  return Status::Ok();
}

}  // namespace

Result<v1::ModelVersion> Client::RegisterModelVersion(const v1::CreateModelVersionRequest& r,
                                                      const ProgressFn& progress) {
  const bool upload =
      r.source().kind() == v1::MODEL_SOURCE_KIND_UPLOAD && !r.source().path().empty();
  v1::CreateModelVersionRequest req = r;
  if (upload) {
    std::error_code ec;
    if (!std::filesystem::is_directory(r.source().path(), ec)) {
      return NotFoundError("no directory " + r.source().path() + " to register");
    }
    req.mutable_source()->set_path(
        std::filesystem::absolute(r.source().path(), ec).lexically_normal().string());
  }
  MLC_ASSIGN_OR_RETURN(v1::ModelVersion v, CreateModelVersion(req));
  if (!upload || v.status() != v1::MODEL_VERSION_STATUS_PENDING_UPLOAD) return v;
  auto uploaded = backend_->UploadTree(v.project(), req.source().path(), progress);
  v1::FinishModelVersionUploadRequest finish;
  finish.set_project(v.project());
  finish.set_model(v.model());
  finish.set_version(v.version());
  if (uploaded.ok()) {
    finish.set_manifest_digest(uploaded->digest());
  } else {
    finish.set_failure_message(uploaded.status().message());
  }
  auto finished = FinishModelVersionUpload(finish);
  if (!uploaded.ok()) return uploaded.status();
  return finished;
}

Status Client::WatchRegistryEvents(const v1::WatchRegistryEventsRequest& r,
                                   const std::function<bool(const v1::RegistryEvent&)>& sink,
                                   const std::function<bool()>& keep_watching) {
  v1::WatchRegistryEventsRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "registry events"));
  MLC_RETURN_IF_ERROR(ValidateProjectName(req.project()));
  MLC_RETURN_IF_ERROR(ValidateModels(req.models()));
  MLC_RETURN_IF_ERROR(ValidateEventTypes(req.types(), false));
  if (req.has_after_sequence() && req.after_sequence() < 0) {
    return InvalidArgumentError("after_sequence " + std::to_string(req.after_sequence()) +
                                " is negative; give 0 to replay the whole log");
  }
  return backend_->WatchRegistryEvents(req, sink, keep_watching);
}

Result<v1::Webhook> Client::CreateWebhook(const v1::Webhook& webhook) {
  v1::CreateWebhookRequest request;
  *request.mutable_webhook() = webhook;
  return CreateWebhook(request);
}

Result<v1::Webhook> Client::CreateWebhook(const v1::CreateWebhookRequest& request) {
  const v1::Webhook& webhook = request.webhook();
  v1::CreateWebhookRequest out = request;
  v1::Webhook& hook = *out.mutable_webhook();
  MLC_ASSIGN_OR_RETURN(*hook.mutable_project(), ProjectOrDefault(webhook.project(), "a webhook"));
  MLC_RETURN_IF_ERROR(ValidateProjectName(hook.project()));
  MLC_RETURN_IF_ERROR(registry::ValidateWebhookUrl(hook.url()));
  v1::SecretRef* secret = hook.mutable_secret();
  if (!webhook.has_secret() || secret->name().empty()) {
    return InvalidArgumentError(
        "a webhook needs a secret to sign its deliveries: name it and say where its value is "
        "(source ENV with the variable, or FILE with an owner-only file)");
  }
  if (!IsVariableName(secret->name())) {
    return InvalidArgumentError("secret name \"" + secret->name() +
                                "\" is invalid; use 1-128 letters, digits and '_', not starting "
                                "with a digit");
  }
  if (secret->source() == v1::SECRET_SOURCE_ENV) {
    if (!secret->path().empty()) {
      return InvalidArgumentError("secret " + secret->name() +
                                  " has a path but its source is ENV; remove the path or use FILE");
    }
    if (!secret->key().empty() && !IsVariableName(secret->key())) {
      return InvalidArgumentError("invalid environment variable name \"" + secret->key() + "\"");
    }
    if (out.secret_value().empty()) {
      // Read here, in the caller's process: a remote backend must not read its own environment.
      const std::string var = secret->key().empty() ? secret->name() : secret->key();
      const char* value = std::getenv(var.c_str());
      if (value == nullptr || *value == '\0') {
        return FailedPreconditionError("webhook secret " + secret->name() +
                                       ": environment variable " + var +
                                       " is not set; export it and retry");
      }
      out.set_secret_value(value);
    }
  } else if (secret->source() == v1::SECRET_SOURCE_FILE) {
    if (secret->path().empty()) {
      return InvalidArgumentError("secret " + secret->name() +
                                  " reads a file but has no path; give an owner-only dotenv or "
                                  "YAML file");
    }
    // Deliveries happen elsewhere and later: make the path absolute now.
    std::error_code ec;
    auto absolute = std::filesystem::absolute(secret->path(), ec);
    if (!ec) secret->set_path(absolute.lexically_normal().string());
  } else {
    return InvalidArgumentError("secret " + secret->name() +
                                " has no source; use ENV (an environment variable) or FILE");
  }
  MLC_RETURN_IF_ERROR(ValidateEventTypes(hook.event_types(), false));
  MLC_RETURN_IF_ERROR(ValidateModels(hook.models()));
  return backend_->CreateWebhook(out);
}

Result<v1::ListWebhooksResponse> Client::ListWebhooks(const v1::ListWebhooksRequest& r) {
  v1::ListWebhooksRequest req = r;
  MLC_ASSIGN_OR_RETURN(*req.mutable_project(), ProjectOrDefault(r.project(), "webhooks"));
  MLC_RETURN_IF_ERROR(ValidateProjectName(req.project()));
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  req.set_page_size(page_size);
  return backend_->ListWebhooks(req);
}

Status Client::DeleteWebhook(const std::string& id) {
  MLC_RETURN_IF_ERROR(ValidateWebhookId(id));
  return backend_->DeleteWebhook(id);
}

Result<v1::WebhookDelivery> Client::TestWebhook(const std::string& id) {
  MLC_RETURN_IF_ERROR(ValidateWebhookId(id));
  return backend_->TestWebhook(id);
}

Result<v1::ListWebhookDeliveriesResponse> Client::ListWebhookDeliveries(
    const v1::ListWebhookDeliveriesRequest& r) {
  MLC_RETURN_IF_ERROR(ValidateWebhookId(r.webhook_id()));
  for (int s : r.statuses()) {
    if (s == v1::WEBHOOK_DELIVERY_STATUS_UNSPECIFIED || !v1::WebhookDeliveryStatus_IsValid(s)) {
      return InvalidArgumentError(
          "delivery status " + std::to_string(s) +
          " cannot be filtered on; use PENDING, SUCCEEDED, RETRYING or FAILED");
    }
  }
  v1::ListWebhookDeliveriesRequest req = r;
  MLC_ASSIGN_OR_RETURN(int page_size, ResolvePageSize(r.page_size()));
  req.set_page_size(page_size);
  return backend_->ListWebhookDeliveries(req);
}

}  // namespace mlcore
