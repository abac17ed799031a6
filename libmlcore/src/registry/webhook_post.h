// One webhook delivery over HTTP, as registry.proto's Webhook message specifies it: the event as
// proto3 JSON, POSTed with X-Mlcore-Event, X-Mlcore-Delivery, X-Mlcore-Timestamp and an
// X-Mlcore-Signature of HMAC-SHA256(secret, timestamp + "." + body). Shared by every backend that
// delivers webhooks; it knows nothing of queues or stores.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "mlcore/status.h"
#include "mlcore/v1/registry.pb.h"

namespace mlcore::registry {

// "sha256=" + lowercase hex of HMAC-SHA256(secret, std::to_string(timestamp) + "." + body).
std::string WebhookSignature(std::string_view secret, int64_t timestamp, std::string_view body);

// Checks a webhook target: an absolute https URL, or http to a loopback host (localhost,
// 127.0.0.0/8, [::1]). Errors: INVALID_ARGUMENT saying which rule the URL breaks.
Status ValidateWebhookUrl(const std::string& url);

// What one attempt got.
struct WebhookAttempt {
  int http_status = 0;  // 0 when no answer was received
  std::string error;    // empty on success: "connection refused", "timeout after 10s", "HTTP 500"
  int64_t latency_us = 0;  // from the start of the request to the end of the answer
  int64_t timestamp = 0;   // the X-Mlcore-Timestamp sent (unix seconds)
  bool ok() const { return error.empty(); }
};

// POSTs `event` to `url` once, signed with `secret`, as delivery `delivery_id`. Any 2xx answer
// within `timeout` is success.
WebhookAttempt PostWebhook(const std::string& url, std::string_view secret,
                           const v1::RegistryEvent& event, const std::string& delivery_id,
                           std::chrono::milliseconds timeout);

}  // namespace mlcore::registry
