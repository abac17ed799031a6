// mlc server at the wire level: raw gRPC calls against a real server on 127.0.0.1, for what the
// typed client never sends (malformed and oversized messages, unknown methods), the health and
// reflection services, the caller's identity and shutdown.
#include "mlcore/server.h"

#include <unistd.h>

#include <arpa/inet.h>
#include <chrono>
#include <future>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_context.h>
#include <grpcpp/impl/codegen/sync_stream.h>

#include "mlcore/client.h"
#include "mlcore/tracking.h"
#include "mlcore/v1/artifacts.pb.h"
#include "mlcore/v1/pipelines.pb.h"
#include "mlcore/v1/projects.pb.h"
#include "unit/test_support.h"
#include "util/sha256.h"

namespace mlcore {
namespace {

using testing::TempDir;

struct Fixture {
  TempDir dir;
  testing::IsolatedEnv env{dir};
  std::unique_ptr<server::Server> server;
  std::string address;  // host:port
  std::shared_ptr<grpc::Channel> channel;

  explicit Fixture(std::string metrics_listen = {}) {
    server::ServerOptions options;
    options.state_dir = dir.path() + "/state";
    options.insecure_local = true;
    options.listen = {"127.0.0.1:0"};
    options.metrics_listen = std::move(metrics_listen);
    auto started = server::Server::Start(options);
    REQUIRE(started.ok());
    server = std::move(started).value();
    address = server->uris().at(0).substr(std::string("grpc://").size());
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  ~Fixture() { server->Shutdown(std::chrono::seconds(1)); }

  // One raw unary call; returns the status and fills `response`.
  grpc::Status Call(const std::string& method, const std::string& request_bytes,
                    std::string* response = nullptr,
                    const std::map<std::string, std::string>& metadata = {}) {
    grpc::GenericStub stub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer reply;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &reply,
                   [&](grpc::Status s) { done.set_value(std::move(s)); });
    grpc::Status status = done.get_future().get();
    if (response != nullptr && status.ok()) {
      std::vector<grpc::Slice> slices;
      (void)reply.Dump(&slices);
      response->clear();
      for (const auto& s : slices)
        response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return status;
  }
};

// GET `url` ("http://127.0.0.1:PORT/path") over a plain socket; the whole response.
std::string HttpGet(const std::string& url) {
  const std::string rest = url.substr(std::string("http://").size());
  const std::string hostport = rest.substr(0, rest.find('/'));
  const std::string path = rest.substr(rest.find('/'));
  const int port = std::stoi(hostport.substr(hostport.rfind(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
  close(fd);
  return response;
}

TEST_CASE("/metrics counts calls by method and code, ingested points and gauges") {
  Fixture f("127.0.0.1:0");
  const std::string url = f.server->metrics_url();
  REQUIRE(url.starts_with("http://127.0.0.1:"));
  v1::GetProjectRequest get;
  get.set_name("missing");
  CHECK(f.Call("/mlcore.v1.ProjectService/GetProject", get.SerializeAsString()).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  CHECK(f.Call("/mlcore.v1.ProjectService/GetProject", get.SerializeAsString()).error_code() ==
        grpc::StatusCode::NOT_FOUND);
  const std::string body = HttpGet(url);
  CHECK(body.starts_with("HTTP/1.1 200 OK"));
  CHECK(body.find("mlcore_rpc_calls_total{method=\"mlcore.v1.ProjectService/GetProject\","
                  "code=\"NOT_FOUND\"} 2\n") != std::string::npos);
  CHECK(body.find("mlcore_rpc_duration_seconds_count{method=\"mlcore.v1.ProjectService/"
                  "GetProject\"} 2\n") != std::string::npos);
  CHECK(body.find("mlcore_metric_points_ingested_total 0\n") != std::string::npos);
  CHECK(body.find("mlcore_unary_queue_length 0\n") != std::string::npos);
  CHECK(body.find("mlcore_jobs_running 0\n") != std::string::npos);
  CHECK(body.find("mlcore_cache_hit_ratio{tier=") != std::string::npos);
  CHECK(HttpGet(url.substr(0, url.rfind('/')) + "/nope").starts_with("HTTP/1.1 404"));
}

TEST_CASE("a malformed request is INVALID_ARGUMENT naming the message type") {
  Fixture f;
  auto status = f.Call("/mlcore.v1.ProjectService/GetProject", std::string("\xff\xff\xff\x07", 4));
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message().find("mlcore.v1.GetProjectRequest") != std::string::npos);
}

TEST_CASE("an oversized request is refused before it is read") {
  Fixture f;
  v1::CreateProjectRequest request;
  request.mutable_project()->set_name("big");
  request.mutable_project()->set_description(std::string(65 << 20, 'x'));
  auto status = f.Call("/mlcore.v1.ProjectService/CreateProject", request.SerializeAsString());
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Nothing was created.
  std::string reply;
  v1::GetProjectRequest get;
  get.set_name("big");
  CHECK(f.Call("/mlcore.v1.ProjectService/GetProject", get.SerializeAsString()).error_code() ==
        grpc::StatusCode::NOT_FOUND);
}

// One UploadBlob stream of raw messages; the status, and the response when OK.
grpc::Status RawUpload(Fixture& f, const std::vector<std::string>& messages,
                       v1::UploadBlobResponse* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::internal::RpcMethod rpc("/mlcore.v1.ArtifactService/UploadBlob",
                                grpc::internal::RpcMethod::BIDI_STREAMING, f.channel);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          f.channel.get(), rpc, &ctx));
  for (const std::string& m : messages) {
    grpc::Slice slice(m);
    grpc::ByteBuffer buffer(&slice, 1);
    if (!stream->Write(buffer)) break;
  }
  stream->WritesDone();
  grpc::ByteBuffer reply;
  std::string bytes;
  while (stream->Read(&reply)) {
    std::vector<grpc::Slice> slices;
    (void)reply.Dump(&slices);
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  grpc::Status status = stream->Finish();
  if (status.ok() && response != nullptr) REQUIRE(response->ParseFromString(bytes));
  return status;
}

TEST_CASE("upload chunks are decoded straight from the wire, as protobuf would decode them") {
  Fixture f;
  v1::CreateProjectRequest create;
  create.mutable_project()->set_name("ml");
  REQUIRE(f.Call("/mlcore.v1.ProjectService/CreateProject", create.SerializeAsString()).ok());
  int n = 0;
  auto header = [&] {
    v1::UploadBlobRequest m;
    m.mutable_header()->set_project("ml");
    m.mutable_header()->set_upload_id("u" + std::to_string(++n));
    return m.SerializeAsString();
  };
  auto chunk = [](const std::string& bytes, bool finish = false) {
    v1::UploadBlobRequest m;
    m.set_chunk(bytes);
    m.set_finish(finish);
    return m.SerializeAsString();
  };
  const std::string big(3 << 20, 'a');  // chunks across the 8 MiB pieces
  std::string all;
  std::vector<std::string> messages = {header()};
  for (int i = 0; i < 5; ++i) {
    std::string part = big + std::to_string(i);
    all += part;
    messages.push_back(chunk(part, i == 4));
  }
  v1::UploadBlobResponse done;
  REQUIRE(RawUpload(f, messages, &done).ok());
  CHECK(done.digest() == util::Sha256Hex(all));
  CHECK(done.committed_bytes() == static_cast<int64_t>(all.size()));

  SUBCASE("a chunk field twice in one message: the last counts; unknown fields are skipped") {
    std::string twice = chunk("first") + chunk("second", true);
    twice += std::string("\xa0\x06\x01", 3);  // field 100, varint 1: unknown to this server
    REQUIRE(RawUpload(f, {header(), twice}, &done).ok());
    CHECK(done.digest() == util::Sha256Hex("second"));
  }
  SUBCASE("a header after the first message, or bytes that do not decode: INVALID_ARGUMENT") {
    auto status = RawUpload(f, {header(), chunk("x"), header()}, nullptr);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message().find("only the first") != std::string::npos);
    status = RawUpload(f,
                       {header(), chunk("x"),
                        std::string("\x12\x20"
                                    "abc",
                                    5)},
                       nullptr);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message().find("UploadBlobRequest") != std::string::npos);
  }
}

TEST_CASE("PipelineService/LintPipeline is served: every problem in the response") {
  Fixture f;
  v1::LintPipelineRequest request;
  request.set_file("p.yaml");
  request.set_text(
      "name: loop\n"
      "steps:\n"
      "  - {name: a, job: {command: [\"true\"], flavor: gpu-huge}, depends_on: [b]}\n"
      "  - {name: b, job: {command: [\"true\"]}, depends_on: [a]}\n");
  std::string bytes;
  auto status =
      f.Call("/mlcore.v1.PipelineService/LintPipeline", request.SerializeAsString(), &bytes);
  REQUIRE_MESSAGE(status.ok(), status.error_message());
  v1::LintPipelineResponse response;
  REQUIRE(response.ParseFromString(bytes));
  REQUIRE(response.problems_size() == 2);
  // In file order: the cycle at step a's line, then a's flavor further right on it (the server's
  // flavor catalog is the one checked).
  CHECK(response.problems(0).code() == "cycle");
  CHECK(response.problems(0).line() == 3);
  CHECK(response.problems(1).code() == "unknown_flavor");
  CHECK(response.problems(1).line() == 3);
  CHECK(response.problems(1).message().find("step \"a\"") != std::string::npos);
  CHECK_FALSE(response.has_resolved_spec());
  CHECK(f.Call("/mlcore.v1.PipelineService/LintPipeline", "").error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("unknown methods are UNIMPLEMENTED; PipelineService is served") {
  Fixture f;
  CHECK(f.Call("/mlcore.v1.ProjectService/NoSuch", "").error_code() ==
        grpc::StatusCode::UNIMPLEMENTED);
  CHECK(f.Call("/mlcore.v1.PipelineService/ListPipelineRuns", "").ok());
  v1::GetPipelineRunRequest get;
  get.set_id("pmissing");
  auto missing = f.Call("/mlcore.v1.PipelineService/GetPipelineRun", get.SerializeAsString());
  CHECK(missing.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(missing.error_message().find("no pipeline run pmissing") != std::string::npos);
  // Without auth, the caller is an administrator and there are no tokens.
  CHECK(f.Call("/mlcore.v1.AuthService/WhoAmI", "").ok());
  auto tokens = f.Call("/mlcore.v1.AuthService/ListTokens", "");
  CHECK(tokens.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(tokens.error_message().find("--insecure-local") != std::string::npos);
}

TEST_CASE("the health service answers SERVING") {
  Fixture f;
  std::string reply;
  auto status = f.Call("/grpc.health.v1.Health/Check", "", &reply);
  REQUIRE(status.ok());
  CHECK(reply == std::string("\x08\x01", 2));  // HealthCheckResponse{status: SERVING}
}

TEST_CASE("reflection lists every mlcore service") {
  Fixture f;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::internal::RpcMethod method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::internal::RpcMethod::BIDI_STREAMING, f.channel);
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          f.channel.get(), method, &ctx));
  grpc::Slice slice(std::string("\x3a\x00", 2));  // ServerReflectionRequest{list_services: ""}
  grpc::ByteBuffer request(&slice, 1);
  REQUIRE(stream->Write(request));
  stream->WritesDone();
  grpc::ByteBuffer reply;
  REQUIRE(stream->Read(&reply));
  std::vector<grpc::Slice> slices;
  (void)reply.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  for (const char* service :
       {"mlcore.v1.JobService", "mlcore.v1.TrackingService", "mlcore.v1.ArtifactService",
        "mlcore.v1.RegistryService", "mlcore.v1.DataService", "grpc.health.v1.Health"}) {
    CHECK_MESSAGE(bytes.find(service) != std::string::npos, service);
  }
  while (stream->Read(&reply)) {
  }
  CHECK(stream->Finish().ok());
}

TEST_CASE("changes are recorded as made by the caller the SDK names") {
  Fixture f;
  v1::CreateProjectRequest request;
  request.mutable_project()->set_name("owned");
  std::string reply;
  REQUIRE(f.Call("/mlcore.v1.ProjectService/CreateProject", request.SerializeAsString(), &reply,
                 {{"mlc-user", "ann"}})
              .ok());
  v1::Project project;
  REQUIRE(project.ParseFromString(reply));
  CHECK(project.created_by() == "ann");
  // An implausible name is not trusted.
  request.mutable_project()->set_name("owned2");
  REQUIRE(f.Call("/mlcore.v1.ProjectService/CreateProject", request.SerializeAsString(), &reply,
                 {{"mlc-user", "ann smith; rm -rf"}})
              .ok());
  REQUIRE(project.ParseFromString(reply));
  CHECK(project.created_by() != "ann smith; rm -rf");
}

TEST_CASE("a server with an HTTP listener shuts down right after it starts") {
  // httplib ignores a stop before its listen loop has begun; Shutdown then waited forever.
  TempDir dir;
  testing::IsolatedEnv env{dir};
  for (int i = 0; i < 20; ++i) {
    server::ServerOptions options;
    options.state_dir = dir.path() + "/state";
    options.insecure_local = true;
    options.listen = {"127.0.0.1:0"};
    options.http_listen = "127.0.0.1:0";
    auto started = server::Server::Start(options);
    REQUIRE(started.ok());
    std::shared_ptr<server::Server> server = std::move(started).value();
    auto done = std::make_shared<std::promise<void>>();
    auto stopped = done->get_future();
    std::thread([server, done] {  // detached: a hung Shutdown fails the test, not hangs it
      server->Shutdown(std::chrono::seconds(1));
      done->set_value();
    })
        .detach();
    REQUIRE(stopped.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  }
}

TEST_CASE("shutdown ends an open watch cleanly and refuses new calls") {
  Fixture f;
  auto client = Client::Open(f.server->uris().at(0));
  REQUIRE(client.ok());
  v1::Project p;
  p.set_name("w");
  REQUIRE((*client)->CreateProject(p).ok());
  std::promise<Status> watch_done;
  std::thread watcher([&] {
    v1::WatchRegistryEventsRequest request;
    request.set_project("w");
    watch_done.set_value(
        (*client)->WatchRegistryEvents(request, [](const v1::RegistryEvent&) { return true; }));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the watch start
  f.server->Shutdown(std::chrono::seconds(5));
  auto result = watch_done.get_future();
  REQUIRE(result.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  watcher.join();
  Status ended = result.get();
  // The stream ends with OK (drained) or UNAVAILABLE (the server went away): never a hang.
  CHECK((ended.ok() || ended.code() == StatusCode::kUnavailable));
  auto after = (*client)->GetProject("w");
  CHECK(after.status().code() == StatusCode::kUnavailable);
  CHECK(after.status().message().find(f.address) != std::string::npos);
}

TEST_CASE("a server killed mid-run: points spool, and sync after a restart uploads them once") {
  TempDir dir;
  testing::IsolatedEnv env(dir);
  server::ServerOptions options;
  options.state_dir = dir.path() + "/state";
  options.insecure_local = true;
  options.listen = {"127.0.0.1:0"};
  auto first = server::Server::Start(options);
  REQUIRE(first.ok());
  const std::string uri = (*first)->uris().at(0);
  options.listen = {uri.substr(std::string("grpc://").size())};  // the restart takes the same port
  auto client = Client::Open(uri);
  REQUIRE(client.ok());
  v1::Project p;
  p.set_name("ml");
  REQUIRE((*client)->CreateProject(p).ok());
  v1::CreateRunRequest create;
  create.mutable_run()->set_project("ml");
  create.mutable_run()->set_name("flaky");
  auto run = (*client)->CreateRun(create);
  REQUIRE(run.ok());
  RunLoggerOptions logger_options;
  logger_options.spool_dir = dir.path() + "/spool";
  auto logger = RunLogger::Attach(**client, run->id(), logger_options);
  REQUIRE(logger.ok());
  for (int i = 0; i < 100; ++i) REQUIRE((*logger)->LogMetric("loss", 1.0, i).ok());
  REQUIRE((*logger)->Flush().ok());  // acknowledged: durable on the server

  (*first)->Shutdown(std::chrono::seconds(1));  // the server goes away mid-run
  first->reset();
  for (int i = 100; i < 200; ++i) REQUIRE((*logger)->LogMetric("loss", 2.0, i).ok());
  Status flushed = (*logger)->Flush();
  CHECK_FALSE(flushed.ok());  // says the batch went to the spool, and where
  CHECK((*logger)->stats().points_spooled == 100);

  auto second = server::Server::Start(options);  // restarted on the same address
  REQUIRE(second.ok());
  // The channel reconnects within the retry window; a sync that still lost the race leaves the
  // file for the next one, which must not write anything twice.
  int64_t uploaded = 0;
  for (int attempt = 0; attempt < 3 && uploaded < 100; ++attempt) {
    auto report = SyncSpool(**client, logger_options.spool_dir);
    REQUIRE(report.ok());
    uploaded += report->points;
  }
  CHECK(uploaded == 100);
  auto again = SyncSpool(**client, logger_options.spool_dir);  // nothing left, nothing twice
  REQUIRE(again.ok());
  CHECK(again->points == 0);
  CHECK(again->files == 0);
  v1::GetMetricHistoryRequest history;
  history.set_run_id(run->id());
  history.set_key("loss");
  auto series = (*client)->GetMetricHistory(history);
  REQUIRE(series.ok());
  REQUIRE(series->series().steps_size() == 200);
  CHECK(series->series().values(99) == 1.0);
  CHECK(series->series().values(100) == 2.0);
  (void)(*logger)->Close(v1::RUN_STATUS_FINISHED);
  logger->reset();
  (*second)->Shutdown(std::chrono::seconds(1));
}

}  // namespace
}  // namespace mlcore
