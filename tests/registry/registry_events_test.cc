// Registry events on the local backend: watching (replay, filters, following changes made while
// watching, stopping), and webhooks delivered to a real local HTTP receiver (origin_server.py)
// that checks the HMAC-SHA256 signature with its own implementation: queueing by filters, event
// order, retries with backoff then FAILED, the delivery log, PING, and the errors.
#include <fstream>
#include <sys/stat.h>
#include <thread>

#include <nlohmann/json.hpp>

#include "datacache_support.h"
#include "local/webhook_deliverer.h"
#include "mlcore/invoke.h"
#include "registry/webhook_post.h"
#include "registry_fixture.h"

namespace mlcore::testing {
namespace {

using datacache::testing::OriginServer;

struct EventsFixture : RegistryFixture {
  // Short retries so a failing receiver exhausts its attempts quickly; the deliverer is run in
  // this process (RunWebhookDelivererMain), so no detached one is needed.
  ScopedEnv policy{EnvMap{{"MLC_WEBHOOK_RETRY_BASE_MS", "10"},
                          {"MLC_WEBHOOK_RETRY_MAX_MS", "40"},
                          {"MLC_WEBHOOK_MAX_ATTEMPTS", "3"},
                          {"MLC_WEBHOOK_TIMEOUT_MS", "5000"},
                          {"HOOK_KEY", "k3y-for-tests"},
                          {"MLC_SUPERVISOR", "/nonexistent/mlc-supervisor"}}};
  std::string receiver_root = dir / "receiver";
  std::unique_ptr<OriginServer> receiver;

  EventsFixture() {
    std::filesystem::create_directories(receiver_root);
    receiver = std::make_unique<OriginServer>(receiver_root);
  }

  std::string State() { return dir / "state"; }

  Result<v1::Webhook> Hook(const std::string& path, std::vector<v1::RegistryEventType> types = {},
                           std::vector<std::string> models = {}) {
    v1::Webhook hook;
    hook.set_project("ml");
    hook.set_url(receiver->Url(path));
    hook.set_enabled(true);
    hook.mutable_secret()->set_name("HOOK_KEY");
    hook.mutable_secret()->set_source(v1::SECRET_SOURCE_ENV);
    for (auto t : types) hook.add_event_types(t);
    for (auto& m : models) hook.add_models(m);
    return client->CreateWebhook(hook);
  }

  std::vector<nlohmann::json> Posts(const std::string& path) {
    std::vector<nlohmann::json> out;
    std::ifstream in(receiver_root + "/_posts.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      if (j["path"] == path) out.push_back(j);
    }
    return out;
  }

  std::vector<v1::WebhookDelivery> Deliveries(const std::string& id) {
    v1::ListWebhookDeliveriesRequest r;
    r.set_webhook_id(id);
    auto page = client->ListWebhookDeliveries(r);
    REQUIRE(page.ok());
    return {page->deliveries().begin(), page->deliveries().end()};
  }
};

TEST_CASE_FIXTURE(EventsFixture, "webhooks get every matching event, signed, in order") {
  MLC_REQUIRE_OK(CreateModel("ranker"));
  MLC_REQUIRE_OK(CreateModel("other-model"));
  const int64_t before = Events().back().sequence();  // webhooks get what happens after them
  auto all = Hook("/all?secret=k3y-for-tests");
  MLC_REQUIRE_OK(all);
  CHECK(all->id().rfind("wh-", 0) == 0);
  CHECK(all->created_by() != "");
  auto aliases =
      Hook("/aliases?secret=k3y-for-tests",
           {v1::REGISTRY_EVENT_TYPE_ALIAS_SET, v1::REGISTRY_EVENT_TYPE_ALIAS_MOVED}, {"ranker"});
  MLC_REQUIRE_OK(aliases);
  MLC_REQUIRE_OK(FromRun("ranker"));
  MLC_REQUIRE_OK(FromRun("ranker"));
  MLC_REQUIRE_OK(SetAlias("ranker", "champion", 1));
  MLC_REQUIRE_OK(SetAlias("ranker", "champion", 2));
  MLC_REQUIRE_OK(FromRun("other-model"));
  MLC_REQUIRE_OK(SetAlias("other-model", "champion", 1));

  CHECK(local::RunWebhookDelivererMain(State()) == 0);

  auto posts = Posts("/all");
  auto events = Events("ml", before);
  REQUIRE(events.size() == 6);
  REQUIRE(posts.size() == events.size());
  for (size_t i = 0; i < posts.size(); ++i) {
    INFO("post " << i);
    CHECK(posts[i]["signature_valid"] == true);
    CHECK(posts[i]["content_type"] == "application/json");
    CHECK(posts[i]["event"] == v1::RegistryEventType_Name(events[i].type()));
    CHECK(posts[i]["body"]["sequence"] == std::to_string(events[i].sequence()));  // in order
    CHECK(posts[i]["body"]["project"] == "ml");
  }
  auto filtered = Posts("/aliases");
  REQUIRE(filtered.size() == 2);  // ranker's alias set and moved, not other-model's
  CHECK(filtered[0]["event"] == "REGISTRY_EVENT_TYPE_ALIAS_SET");
  CHECK(filtered[1]["event"] == "REGISTRY_EVENT_TYPE_ALIAS_MOVED");
  CHECK(filtered[1]["body"]["previousVersion"] == "1");
  CHECK(filtered[1]["body"]["version"] == "2");

  // The log names each delivery as the receiver saw it, newest first.
  auto log = Deliveries(aliases->id());
  REQUIRE(log.size() == 2);
  CHECK(log[0].id() == filtered[1]["delivery"]);
  CHECK(log[1].id() == filtered[0]["delivery"]);
  for (const auto& d : log) {
    CHECK(d.status() == v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED);
    CHECK(d.attempts() == 1);
    CHECK(d.last_http_status() == 204);
    CHECK(d.last_error().empty());
  }
}

TEST_CASE_FIXTURE(EventsFixture, "a failing receiver is retried with backoff, then FAILED") {
  auto failing = Hook("/down?secret=k3y-for-tests&fail=1000");
  auto flaky = Hook("/flaky?secret=k3y-for-tests&fail=2");
  MLC_REQUIRE_OK(failing);
  MLC_REQUIRE_OK(flaky);
  MLC_REQUIRE_OK(CreateModel("ranker"));
  MLC_REQUIRE_OK(FromRun("ranker"));

  CHECK(local::RunWebhookDelivererMain(State()) == 0);

  // Two events (model created, version created READY at once) per webhook.
  auto down = Deliveries(failing->id());
  REQUIRE(down.size() == 2);
  for (const auto& d : down) {
    CHECK(d.status() == v1::WEBHOOK_DELIVERY_STATUS_FAILED);
    CHECK(d.attempts() == 3);
    CHECK(d.last_http_status() == 500);
    CHECK(d.last_error() == "HTTP 500");
  }
  CHECK(Posts("/down").size() == 6);
  // The flaky one failed twice on the first event, then delivered everything in order.
  auto flaky_log = Deliveries(flaky->id());
  REQUIRE(flaky_log.size() == 2);
  CHECK(flaky_log[1].attempts() == 3);
  CHECK(flaky_log[1].status() == v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED);
  CHECK(flaky_log[0].attempts() == 1);
  CHECK(flaky_log[0].status() == v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED);
  auto posts = Posts("/flaky");
  REQUIRE(posts.size() == 4);
  CHECK(posts[0]["delivery"] == posts[2]["delivery"]);  // the same delivery id on each retry
  CHECK(posts[2]["event"] == "REGISTRY_EVENT_TYPE_MODEL_CREATED");
  CHECK(posts[3]["event"] == "REGISTRY_EVENT_TYPE_VERSION_CREATED");

  v1::ListWebhookDeliveriesRequest failed_only;
  failed_only.set_webhook_id(failing->id());
  failed_only.add_statuses(v1::WEBHOOK_DELIVERY_STATUS_FAILED);
  failed_only.set_page_size(2);
  auto page = client->ListWebhookDeliveries(failed_only);
  MLC_REQUIRE_OK(page);
  failed_only.set_page_size(1);
  page = client->ListWebhookDeliveries(failed_only);
  MLC_REQUIRE_OK(page);
  CHECK(page->deliveries_size() == 1);
  REQUIRE(!page->next_page_token().empty());
  failed_only.set_page_token(page->next_page_token());
  auto rest = client->ListWebhookDeliveries(failed_only);
  MLC_REQUIRE_OK(rest);
  CHECK(rest->deliveries_size() == 1);
  CHECK(rest->deliveries(0).id() != page->deliveries(0).id());
  CHECK(rest->next_page_token().empty());
}

TEST_CASE_FIXTURE(EventsFixture, "ping, disabled webhooks, deletion and the errors") {
  auto hook = Hook("/ping?secret=k3y-for-tests");
  MLC_REQUIRE_OK(hook);
  auto ping = client->TestWebhook(hook->id());
  MLC_REQUIRE_OK(ping);
  CHECK(ping->status() == v1::WEBHOOK_DELIVERY_STATUS_SUCCEEDED);
  CHECK(ping->event_type() == v1::REGISTRY_EVENT_TYPE_PING);
  auto posts = Posts("/ping");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0]["signature_valid"] == true);
  CHECK(posts[0]["event"] == "REGISTRY_EVENT_TYPE_PING");
  CHECK(Deliveries(hook->id()).size() == 1);  // in the log

  // A dead receiver: the ping's failure is in the delivery, not the status.
  v1::Webhook dead;
  dead.set_project("ml");
  dead.set_url("http://127.0.0.1:1/hook");
  dead.set_enabled(true);
  dead.mutable_secret()->set_name("HOOK_KEY");
  dead.mutable_secret()->set_source(v1::SECRET_SOURCE_ENV);
  auto dead_hook = client->CreateWebhook(dead);
  MLC_REQUIRE_OK(dead_hook);
  auto refused = client->TestWebhook(dead_hook->id());
  MLC_REQUIRE_OK(refused);
  CHECK(refused->status() == v1::WEBHOOK_DELIVERY_STATUS_FAILED);
  CHECK(refused->last_error() == "connection refused");

  // Disabled: nothing queued.
  v1::Webhook paused = dead;
  paused.set_url(receiver->Url("/paused?secret=k3y-for-tests"));
  paused.set_enabled(false);
  auto paused_hook = client->CreateWebhook(paused);
  MLC_REQUIRE_OK(paused_hook);
  MLC_REQUIRE_OK(CreateModel("ranker"));
  CHECK(local::RunWebhookDelivererMain(State()) == 0);
  CHECK(Posts("/paused").empty());
  auto dead_log = Deliveries(dead_hook->id());
  REQUIRE(dead_log.size() == 2);  // the ping and model_created
  CHECK(dead_log[0].event_type() == v1::REGISTRY_EVENT_TYPE_MODEL_CREATED);
  CHECK(dead_log[0].status() == v1::WEBHOOK_DELIVERY_STATUS_FAILED);
  CHECK(dead_log[0].last_error() == "connection refused");
  CHECK(dead_log[0].attempts() == 3);

  // A FILE secret is read at each delivery.
  const std::string secrets = dir / "hook.env";
  WriteFile(secrets, "export OTHER=x\nSIGNING_KEY=\"from-file\"\n");
  chmod(secrets.c_str(), 0600);
  v1::Webhook from_file = dead;
  from_file.set_url(receiver->Url("/file?secret=from-file"));
  from_file.mutable_secret()->set_source(v1::SECRET_SOURCE_FILE);
  from_file.mutable_secret()->set_path(secrets);
  from_file.mutable_secret()->set_key("SIGNING_KEY");
  auto file_hook = client->CreateWebhook(from_file);
  MLC_REQUIRE_OK(file_hook);
  MLC_REQUIRE_OK(client->TestWebhook(file_hook->id()));
  REQUIRE(Posts("/file").size() == 1);
  CHECK(Posts("/file")[0]["signature_valid"] == true);
  chmod(secrets.c_str(), 0644);
  auto loose = client->TestWebhook(file_hook->id());
  CHECK(loose.status().code() == StatusCode::kFailedPrecondition);
  CHECK(loose.status().message().find("chmod 600") != std::string::npos);

  // Deletion keeps nothing pending and forgets the webhook.
  MLC_REQUIRE_OK(client->DeleteWebhook(hook->id()));
  CHECK(client->DeleteWebhook(hook->id()).code() == StatusCode::kNotFound);
  v1::ListWebhookDeliveriesRequest gone;
  gone.set_webhook_id(hook->id());
  CHECK(client->ListWebhookDeliveries(gone).status().code() == StatusCode::kNotFound);
  CHECK(client->TestWebhook("wh-nope").status().code() == StatusCode::kNotFound);
  v1::ListWebhooksRequest list;
  list.set_project("ml");
  auto listed = client->ListWebhooks(list);
  MLC_REQUIRE_OK(listed);
  CHECK(listed->webhooks_size() == 3);  // dead, paused, from_file
  for (const auto& h : listed->webhooks()) CHECK(h.id() != hook->id());
  list.set_page_size(2);
  auto first = client->ListWebhooks(list);
  MLC_REQUIRE_OK(first);
  CHECK(first->webhooks_size() == 2);
  list.set_page_token(first->next_page_token());
  auto second = client->ListWebhooks(list);
  MLC_REQUIRE_OK(second);
  REQUIRE(second->webhooks_size() == 1);
  CHECK(second->webhooks(0).id() == listed->webhooks(2).id());

  // Bad webhooks are refused with what to do.
  auto refuse = [&](const v1::Webhook& h, StatusCode code, const std::string& says) {
    auto r = client->CreateWebhook(h);
    INFO(r.status().ToString());
    CHECK(r.status().code() == code);
    CHECK(r.status().message().find(says) != std::string::npos);
  };
  v1::Webhook bad = dead;
  bad.set_url("http://hooks.example.com/x");
  refuse(bad, StatusCode::kInvalidArgument, "loopback");
  bad.set_url("ftp://127.0.0.1/x");
  refuse(bad, StatusCode::kInvalidArgument, "https");
  bad.set_url("not a url");
  refuse(bad, StatusCode::kInvalidArgument, "absolute URL");
  bad = dead;
  bad.mutable_secret()->set_key("MLC_TEST_UNSET_VARIABLE");
  refuse(bad, StatusCode::kFailedPrecondition, "MLC_TEST_UNSET_VARIABLE");
  bad = dead;
  bad.clear_secret();
  refuse(bad, StatusCode::kInvalidArgument, "secret");
  bad = dead;
  bad.mutable_secret()->set_source(v1::SECRET_SOURCE_FILE);
  bad.mutable_secret()->set_path(dir / "missing.env");
  refuse(bad, StatusCode::kNotFound, "missing.env");
  bad = dead;
  bad.add_models("no-such-model");
  refuse(bad, StatusCode::kNotFound, "no-such-model");
  bad = dead;
  bad.add_event_types(v1::REGISTRY_EVENT_TYPE_PING);
  refuse(bad, StatusCode::kInvalidArgument, "ALIAS_MOVED");
  bad = dead;
  bad.set_project("nope");
  refuse(bad, StatusCode::kNotFound, "nope");
}

TEST_CASE_FIXTURE(EventsFixture, "watching replays, filters, follows and stops") {
  MLC_REQUIRE_OK(CreateModel("ranker"));
  MLC_REQUIRE_OK(CreateModel("other-model"));
  MLC_REQUIRE_OK(FromRun("ranker"));
  MLC_REQUIRE_OK(SetAlias("ranker", "champion", 1));

  auto watch = [&](v1::WatchRegistryEventsRequest r, size_t want,
                   const std::function<void()>& while_idle = {}) {
    std::vector<v1::RegistryEvent> got;
    bool acted = false;
    r.set_project("ml");
    Status s = client->WatchRegistryEvents(
        r,
        [&](const v1::RegistryEvent& e) {
          got.push_back(e);
          return got.size() < want;
        },
        [&] {
          // Idle: act once (the next poll sees the change), then stop at the next idle moment.
          if (while_idle && !acted) {
            acted = true;
            while_idle();
            return true;
          }
          return false;
        });
    MLC_CHECK_OK(s);
    return got;
  };

  v1::WatchRegistryEventsRequest replay;
  replay.set_after_sequence(0);
  auto all = watch(replay, 100);
  REQUIRE(all.size() == Events().size());
  CHECK(all.front().type() == v1::REGISTRY_EVENT_TYPE_MODEL_CREATED);
  CHECK(all.back().type() == v1::REGISTRY_EVENT_TYPE_ALIAS_SET);

  v1::WatchRegistryEventsRequest filtered = replay;
  filtered.add_models("ranker");
  filtered.add_types(v1::REGISTRY_EVENT_TYPE_MODEL_CREATED);
  filtered.add_types(v1::REGISTRY_EVENT_TYPE_ALIAS_SET);
  auto some = watch(filtered, 100);
  REQUIRE(some.size() == 2);
  CHECK(some[0].model() == "ranker");
  CHECK(some[1].alias() == "champion");

  v1::WatchRegistryEventsRequest after = replay;
  after.set_after_sequence(all[all.size() - 2].sequence());
  auto tail = watch(after, 100);
  REQUIRE(tail.size() == 1);
  CHECK(tail[0].sequence() == all.back().sequence());

  // Only new events by default: a change made while watching arrives, and nothing older.
  v1::WatchRegistryEventsRequest live;
  live.add_types(v1::REGISTRY_EVENT_TYPE_ALIAS_MOVED);
  auto moved = watch(live, 1, [&] { MLC_REQUIRE_OK(SetAlias("ranker", "champion", 1)); });
  CHECK(moved.empty());  // pointing it where it is changes nothing and emits nothing
  auto created =
      watch(v1::WatchRegistryEventsRequest(), 1, [&] { MLC_REQUIRE_OK(CreateModel("third")); });
  REQUIRE(created.size() == 1);
  CHECK(created[0].model() == "third");
  CHECK(created[0].sequence() > all.back().sequence());

  // Through the generic streaming invoke, as `mlc api stream` and Python use it.
  std::vector<std::string> lines;
  MLC_CHECK_OK(InvokeStreamJson(*client, "RegistryService/WatchRegistryEvents",
                                R"({"project": "ml", "afterSequence": "0"})",
                                [&](const std::string& json) {
                                  lines.push_back(json);
                                  return lines.size() < 2;
                                }));
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].find("\"sequence\":\"" + std::to_string(all[1].sequence()) + "\"") !=
        std::string::npos);
  auto unary = InvokeJson(*client, "RegistryService/WatchRegistryEvents", "{}");
  CHECK(unary.status().code() == StatusCode::kInvalidArgument);
  CHECK(unary.status().message().find("mlc api stream") != std::string::npos);

  v1::WatchRegistryEventsRequest bad;
  bad.set_project("nope");
  CHECK(client->WatchRegistryEvents(bad, [](const v1::RegistryEvent&) { return false; }).code() ==
        StatusCode::kNotFound);
  bad.set_project("ml");
  bad.add_types(v1::REGISTRY_EVENT_TYPE_UNSPECIFIED);
  CHECK(client->WatchRegistryEvents(bad, [](const v1::RegistryEvent&) { return false; }).code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("signatures cover the timestamp, the body and the key; webhook URLs") {
  // The receiver in the tests above checks the HMAC with Python's own implementation.
  std::string a = registry::WebhookSignature("Jefe", 1700000000, "{}");
  CHECK(a.rfind("sha256=", 0) == 0);
  CHECK(a.size() == 7 + 64);
  CHECK(a != registry::WebhookSignature("Jefe", 1700000001, "{}"));
  CHECK(a != registry::WebhookSignature("Jefe", 1700000000, "{ }"));
  CHECK(a != registry::WebhookSignature("jefe", 1700000000, "{}"));
  CHECK(registry::ValidateWebhookUrl("https://hooks.example.com/x").ok());
  CHECK(registry::ValidateWebhookUrl("http://localhost:8080/x").ok());
  CHECK(registry::ValidateWebhookUrl("http://[::1]:8080/x").ok());
  CHECK(registry::ValidateWebhookUrl("http://127.0.0.2/x").ok());
  CHECK(!registry::ValidateWebhookUrl("http://10.0.0.1/x").ok());
}

}  // namespace
}  // namespace mlcore::testing
