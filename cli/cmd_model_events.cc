// mlc model watch | mlc model webhook create|ls|rm|test|deliveries: the registry's events, followed
// in the terminal or delivered to HTTP endpoints (see docs/registry.md, "Events and webhooks").
#include <algorithm>
#include <cctype>
#include <iostream>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "exit_codes.h"
#include "mlcore/client.h"
#include "mlcore/json.h"
#include "mlcore/v1/registry.pb.h"
#include "tracking_view.h"

namespace mlc {
namespace {

using google::protobuf::util::TimeUtil;
using mlcore::v1::RegistryEvent;
using mlcore::v1::RegistryEventType;
using mlcore::v1::Webhook;
using mlcore::v1::WebhookDelivery;
using mlcore::v1::WebhookDeliveryStatus;

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// "alias_moved" for REGISTRY_EVENT_TYPE_ALIAS_MOVED.
std::string TypeWord(RegistryEventType type) {
  return EnumWord(mlcore::v1::RegistryEventType_Name(type), "REGISTRY_EVENT_TYPE_");
}

std::string StatusWord(WebhookDeliveryStatus status) {
  return EnumWord(mlcore::v1::WebhookDeliveryStatus_Name(status), "WEBHOOK_DELIVERY_STATUS_");
}

// "alias_moved", "ALIAS_MOVED" or the full enum name.
mlcore::Result<RegistryEventType> ParseType(const std::string& word) {
  std::string name = Upper(word);
  if (name.rfind("REGISTRY_EVENT_TYPE_", 0) != 0) name = "REGISTRY_EVENT_TYPE_" + name;
  RegistryEventType type{};
  if (!mlcore::v1::RegistryEventType_Parse(name, &type) ||
      type == mlcore::v1::REGISTRY_EVENT_TYPE_UNSPECIFIED ||
      type == mlcore::v1::REGISTRY_EVENT_TYPE_PING) {
    std::string known;
    for (int t = mlcore::v1::REGISTRY_EVENT_TYPE_MODEL_CREATED;
         t < mlcore::v1::REGISTRY_EVENT_TYPE_PING; ++t) {
      known += (known.empty() ? "" : ", ") + TypeWord(static_cast<RegistryEventType>(t));
    }
    return mlcore::InvalidArgumentError("unknown event type \"" + word + "\"; types: " + known);
  }
  return type;
}

mlcore::Result<WebhookDeliveryStatus> ParseStatus(const std::string& word) {
  std::string name = Upper(word);
  if (name.rfind("WEBHOOK_DELIVERY_STATUS_", 0) != 0) name = "WEBHOOK_DELIVERY_STATUS_" + name;
  WebhookDeliveryStatus status{};
  if (!mlcore::v1::WebhookDeliveryStatus_Parse(name, &status) ||
      status == mlcore::v1::WEBHOOK_DELIVERY_STATUS_UNSPECIFIED) {
    return mlcore::InvalidArgumentError("unknown delivery status \"" + word +
                                        "\"; statuses: pending, succeeded, retrying, failed");
  }
  return status;
}

// One line per event: "#12  2026-11-22T23:10:01Z  alias_moved  ranker@champion -> 3 (was 2)".
std::string EventLine(const RegistryEvent& e) {
  std::string what = e.model();
  switch (e.type()) {
    case mlcore::v1::REGISTRY_EVENT_TYPE_MODEL_RENAMED:
      what = e.previous_name() + " -> " + e.model();
      break;
    case mlcore::v1::REGISTRY_EVENT_TYPE_VERSION_CREATED:
    case mlcore::v1::REGISTRY_EVENT_TYPE_VERSION_READY:
    case mlcore::v1::REGISTRY_EVENT_TYPE_VERSION_FAILED:
      what += "/" + std::to_string(e.version());
      break;
    case mlcore::v1::REGISTRY_EVENT_TYPE_ALIAS_SET:
      what += "@" + e.alias() + " -> " + std::to_string(e.version());
      break;
    case mlcore::v1::REGISTRY_EVENT_TYPE_ALIAS_MOVED:
      what += "@" + e.alias() + " -> " + std::to_string(e.version()) + " (was " +
              std::to_string(e.previous_version()) + ")";
      break;
    case mlcore::v1::REGISTRY_EVENT_TYPE_ALIAS_DELETED:
      what += "@" + e.alias() + " deleted (was " + std::to_string(e.previous_version()) + ")";
      break;
    default:
      break;
  }
  return "#" + std::to_string(e.sequence()) + "  " + TimeUtil::ToString(e.time()) + "  " +
         TypeWord(e.type()) + "  " + what + (e.actor().empty() ? "" : "  by " + e.actor());
}

struct WatchFlags {
  std::vector<std::string> models;
  std::vector<std::string> types;
  int64_t after = -1;
  bool from_start = false;
  int count = 0;
};

mlcore::Status Watch(const Globals& globals, const WatchFlags& f) {
  mlcore::v1::WatchRegistryEventsRequest request;
  for (const auto& m : f.models) request.add_models(m);
  for (const auto& t : f.types) {
    MLC_ASSIGN_OR_RETURN(RegistryEventType type, ParseType(t));
    request.add_types(type);
  }
  if (f.from_start) request.set_after_sequence(0);
  if (f.after >= 0) request.set_after_sequence(f.after);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  CatchInterrupts();
  int seen = 0;
  const bool table = globals.format() == OutputFormat::kTable;
  mlcore::JsonOptions json;
  return client->WatchRegistryEvents(
      request,
      [&](const RegistryEvent& e) {
        if (table) {
          std::cout << EventLine(e) << std::endl;
        } else {
          std::cout << mlcore::ToJson(e, json) << std::endl;  // JSON lines
        }
        ++seen;
        return !Interrupted() && (f.count == 0 || seen < f.count) && std::cout.good();
      },
      [] { return !Interrupted(); });
}

struct CreateHookFlags {
  std::string url;
  std::string secret_env;
  std::string secret_file;
  std::string secret_key;
  std::string secret_name;
  std::vector<std::string> types;
  std::vector<std::string> models;
  std::string description;
  bool disabled = false;
};

mlcore::Status CreateHook(const Globals& globals, const CreateHookFlags& f) {
  Webhook hook;
  hook.set_url(f.url);
  hook.set_description(f.description);
  hook.set_enabled(!f.disabled);
  if (f.secret_env.empty() == f.secret_file.empty()) {
    return mlcore::InvalidArgumentError(
        "give exactly one of --secret-env VAR (the signing key is that environment variable's "
        "value) or --secret-file PATH (an owner-only dotenv/YAML file, with --secret-key KEY)");
  }
  mlcore::v1::SecretRef* secret = hook.mutable_secret();
  if (!f.secret_env.empty()) {
    secret->set_source(mlcore::v1::SECRET_SOURCE_ENV);
    secret->set_name(f.secret_name.empty() ? f.secret_env : f.secret_name);
    secret->set_key(f.secret_env);
  } else {
    secret->set_source(mlcore::v1::SECRET_SOURCE_FILE);
    secret->set_path(f.secret_file);
    secret->set_key(f.secret_key);
    secret->set_name(f.secret_name.empty()
                         ? (f.secret_key.empty() ? "WEBHOOK_SECRET" : f.secret_key)
                         : f.secret_name);
  }
  for (const auto& t : f.types) {
    MLC_ASSIGN_OR_RETURN(RegistryEventType type, ParseType(t));
    hook.add_event_types(type);
  }
  for (const auto& m : f.models) hook.add_models(m);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(Webhook created, client->CreateWebhook(hook));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(created, globals.format());
  } else {
    std::cout << created.id() << "\n";
    std::cerr << "Created webhook " << created.id() << " -> " << created.url()
              << (created.enabled() ? "" : " (disabled)") << ". Try it: mlc model webhook test "
              << created.id() << "\n";
  }
  return mlcore::Status::Ok();
}

std::string HookFilters(const Webhook& h) {
  std::string out;
  for (int t : h.event_types()) {
    out += (out.empty() ? "" : ",") + TypeWord(static_cast<RegistryEventType>(t));
  }
  if (out.empty()) out = "all events";
  if (h.models_size() > 0) {
    std::string models;
    for (const auto& m : h.models()) models += (models.empty() ? "" : ",") + m;
    out += " of " + models;
  }
  return out;
}

mlcore::Status ListHooks(const Globals& globals) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ListWebhooksRequest request;
  request.set_page_size(1000);
  mlcore::v1::ListWebhooksResponse all;
  do {
    MLC_ASSIGN_OR_RETURN(auto page, client->ListWebhooks(request));
    for (auto& h : *page.mutable_webhooks()) *all.add_webhooks() = std::move(h);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  if (all.webhooks_size() == 0) {
    std::cerr << "No webhooks. Add one with: mlc model webhook create URL --secret-env VAR\n";
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : all.webhooks()) {
    rows.push_back({h.id(), h.url(), HookFilters(h), h.enabled() ? "yes" : "no", h.secret().name(),
                    Ago(h.create_time())});
  }
  PrintIndentedTable({"ID", "URL", "EVENTS", "ENABLED", "SECRET", "CREATED"}, rows, 0);
  return mlcore::Status::Ok();
}

std::string DeliveryOutcome(const WebhookDelivery& d) {
  std::string out = StatusWord(d.status());
  if (d.last_http_status() != 0) out += ", HTTP " + std::to_string(d.last_http_status());
  if (!d.last_error().empty() && d.last_error().rfind("HTTP ", 0) != 0) {
    out += ", " + d.last_error();
  }
  if (d.attempts() > 0) {
    out += ", " + std::to_string(TimeUtil::DurationToMilliseconds(d.last_latency())) + " ms";
  }
  return out;
}

mlcore::Status TestHook(const Globals& globals, const std::string& id) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(WebhookDelivery d, client->TestWebhook(id));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(d, globals.format());
  } else {
    std::cout << "ping " << d.id() << ": " << DeliveryOutcome(d) << "\n";
  }
  if (d.status() != mlcore::v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED) {
    CommandExitCode() = kExitUnavailable;  // the receiver did not take it; retry later
  }
  return mlcore::Status::Ok();
}

mlcore::Status Deliveries(const Globals& globals, const std::string& id,
                          const std::vector<std::string>& statuses, int limit) {
  mlcore::v1::ListWebhookDeliveriesRequest request;
  request.set_webhook_id(id);
  for (const auto& s : statuses) {
    MLC_ASSIGN_OR_RETURN(WebhookDeliveryStatus status, ParseStatus(s));
    request.add_statuses(status);
  }
  request.set_page_size(std::clamp(limit, 1, 1000));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto page, client->ListWebhookDeliveries(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(page, globals.format());
    return mlcore::Status::Ok();
  }
  if (page.deliveries_size() == 0) {
    std::cerr << "No deliveries" << (statuses.empty() ? "" : " in those statuses") << ".\n";
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : page.deliveries()) {
    std::string event = d.event_sequence() == 0 ? "ping" : "#" + std::to_string(d.event_sequence());
    std::string next = d.has_next_attempt_time() ? TimeUtil::ToString(d.next_attempt_time()) : "-";
    rows.push_back({d.id(), event, TypeWord(d.event_type()), StatusWord(d.status()),
                    std::to_string(d.attempts()),
                    d.last_http_status() == 0 ? "-" : std::to_string(d.last_http_status()),
                    d.last_error().empty() ? "-" : d.last_error(), next, Ago(d.create_time())});
  }
  PrintIndentedTable(
      {"ID", "EVENT", "TYPE", "STATUS", "ATTEMPTS", "HTTP", "ERROR", "NEXT ATTEMPT", "CREATED"},
      rows, 0);
  if (!page.next_page_token().empty()) {
    std::cerr << "(newest " << page.deliveries_size() << " shown; --limit shows more)\n";
  }
  return mlcore::Status::Ok();
}

}  // namespace

void AddModelEventCommands(CLI::App* model, Globals& globals) {
  static WatchFlags watch_flags;
  auto* watch = model->add_subcommand(
      "watch", "Print registry events as they happen (Ctrl-C stops; -o json for JSON lines)");
  watch->add_option("--model", watch_flags.models, "Only events of this model (repeatable)");
  watch->add_option("--type", watch_flags.types,
                    "Only events of this type, e.g. alias_moved, version_created (repeatable)");
  watch->add_option("--after", watch_flags.after,
                    "Replay events after this sequence number first, then follow");
  watch->add_flag("--from-start", watch_flags.from_start, "Replay the whole log, then follow");
  watch->add_option("--count", watch_flags.count, "Stop after this many events");
  OnRun(watch, [&globals] { return Watch(globals, watch_flags); });

  auto* webhook = model->add_subcommand("webhook", "Deliver registry events to HTTP endpoints");
  webhook->alias("webhooks");
  webhook->require_subcommand(1);
  webhook->footer(
      "Each event is POSTed as JSON with X-Mlcore-Signature: sha256=HMAC(secret, timestamp.body);\n"
      "failed deliveries are retried with backoff (see docs/registry.md).\n"
      "Examples:\n"
      "  export RANKER_HOOK_KEY=...\n"
      "  mlc model webhook create https://ci.example.com/hooks/mlcore --secret-env "
      "RANKER_HOOK_KEY \\\n"
      "      --event alias_set --event alias_moved --model ranker\n"
      "  mlc model webhook test wh-0123456789abcdef\n"
      "  mlc model webhook deliveries wh-0123456789abcdef --status failed");

  static CreateHookFlags create_flags;
  auto* create = webhook->add_subcommand("create", "Register a webhook for the project");
  create->add_option("url", create_flags.url, "https URL (http only to 127.0.0.1/localhost)")
      ->required();
  create->add_option("--secret-env", create_flags.secret_env,
                     "Environment variable holding the signing key (read now)");
  create->add_option("--secret-file", create_flags.secret_file,
                     "Owner-only dotenv/YAML file holding the key (read at each delivery)");
  create->add_option("--secret-key", create_flags.secret_key,
                     "Key inside --secret-file (default: the secret's name)");
  create->add_option("--secret-name", create_flags.secret_name, "Label shown in listings");
  create->add_option("--event", create_flags.types, "Only this event type (repeatable)");
  create->add_option("--model", create_flags.models, "Only events of this model (repeatable)");
  create->add_option("--description", create_flags.description, "Free text");
  create->add_flag("--disabled", create_flags.disabled, "Create paused (no deliveries)");
  OnRun(create, [&globals] { return CreateHook(globals, create_flags); });

  auto* ls = webhook->add_subcommand("ls", "List the project's webhooks");
  OnRun(ls, [&globals] { return ListHooks(globals); });

  static std::string rm_id;
  auto* rm = webhook->add_subcommand("rm", "Delete a webhook and its pending deliveries");
  rm->add_option("id", rm_id, "Webhook id")->required();
  OnRun(rm, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_RETURN_IF_ERROR(client->DeleteWebhook(rm_id));
    std::cerr << "Deleted webhook " << rm_id << "\n";
    return mlcore::Status::Ok();
  });

  static std::string test_id;
  auto* test = webhook->add_subcommand(
      "test", "Send a ping now and show the answer (exit 7 when it was not delivered)");
  test->add_option("id", test_id, "Webhook id")->required();
  OnRun(test, [&globals] { return TestHook(globals, test_id); });

  static std::string deliveries_id;
  static std::vector<std::string> deliveries_status;
  static int deliveries_limit = 50;
  auto* deliveries =
      webhook->add_subcommand("deliveries", "A webhook's delivery log, newest first");
  deliveries->add_option("id", deliveries_id, "Webhook id")->required();
  deliveries->add_option("--status", deliveries_status,
                         "Only pending, succeeded, retrying or failed (repeatable)");
  deliveries->add_option("--limit", deliveries_limit, "At most this many (default 50)");
  OnRun(deliveries, [&globals] {
    return Deliveries(globals, deliveries_id, deliveries_status, deliveries_limit);
  });
}

}  // namespace mlc
