#include "registry/webhook_post.h"

#include <ctime>
#include <memory>
#include <mutex>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <curl/curl.h>

#include "mlcore/json.h"
#include "util/sha256.h"

namespace mlcore::registry {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool IsLoopbackHost(std::string host) {
  if (!host.empty() && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

size_t Discard(char* /*data*/, size_t size, size_t count, void* /*user*/) { return size * count; }

}  // namespace

std::string WebhookSignature(std::string_view secret, int64_t timestamp, std::string_view body) {
  std::string message = std::to_string(timestamp);
  message += '.';
  message.append(body);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &size);
  return "sha256=" + util::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

Status ValidateWebhookUrl(const std::string& url) {
  GlobalInit();
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (url.empty() || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return InvalidArgumentError("webhook URL \"" + url +
                                "\" is not an absolute URL; give e.g. https://hooks.example.com/x");
  }
  char* scheme = nullptr;
  char* host = nullptr;
  curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0);
  curl_url_get(u.get(), CURLUPART_HOST, &host, 0);
  std::string s = scheme != nullptr ? scheme : "";
  std::string h = host != nullptr ? host : "";
  curl_free(scheme);
  curl_free(host);
  if (s == "https") return Status::Ok();
  if (s == "http" && IsLoopbackHost(h)) return Status::Ok();
  if (s == "http") {
    return InvalidArgumentError("webhook URL \"" + url + "\" uses http to " + h +
                                "; use https (plain http is allowed only to a loopback address, "
                                "such as http://127.0.0.1:PORT/...)");
  }
  return InvalidArgumentError("webhook URL \"" + url + "\" has scheme \"" + s +
                              "\"; use https (or http to a loopback address)");
}

WebhookAttempt PostWebhook(const std::string& url, std::string_view secret,
                           const v1::RegistryEvent& event, const std::string& delivery_id,
                           std::chrono::milliseconds timeout) {
  GlobalInit();
  WebhookAttempt attempt;
  attempt.timestamp = static_cast<int64_t>(std::time(nullptr));
  const std::string body = ToJson(event);
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) {
    attempt.error = "cannot initialise libcurl";
    return attempt;
  }
  curl_slist* headers = nullptr;
  for (const std::string& header :
       {std::string("Content-Type: application/json"),
        "X-Mlcore-Event: " + v1::RegistryEventType_Name(event.type()),
        "X-Mlcore-Delivery: " + delivery_id,
        "X-Mlcore-Timestamp: " + std::to_string(attempt.timestamp),
        "X-Mlcore-Signature: " + WebhookSignature(secret, attempt.timestamp, body),
        std::string("Expect:")}) {
    headers = curl_slist_append(headers, header.c_str());
  }
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "mlcore-webhooks");
  curl_easy_setopt(h.get(), CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is not a delivery
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  auto start = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(h.get());
  attempt.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  curl_slist_free_all(headers);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    attempt.error = "timeout after " + std::to_string(timeout.count()) + " ms";
    return attempt;
  }
  if (rc == CURLE_COULDNT_CONNECT) {
    attempt.error = "connection refused";
    return attempt;
  }
  if (rc != CURLE_OK) {
    attempt.error = error[0] != '\0' ? error : curl_easy_strerror(rc);
    return attempt;
  }
  long code = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &code);
  attempt.http_status = static_cast<int>(code);
  if (code < 200 || code > 299) attempt.error = "HTTP " + std::to_string(code);
  return attempt;
}

}  // namespace mlcore::registry
