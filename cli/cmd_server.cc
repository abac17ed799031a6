// mlc server
#include <signal.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/config.h"
#include "mlcore/server.h"

namespace mlc {

void AddServerCommand(CLI::App& app, Globals& /*globals*/) {
  struct Args {
    std::vector<std::string> listen;
    std::string state;
    bool insecure_local = false;
    int workers = 0;
    bool access_log = false;
    int grace_s = 10;
    std::string metrics;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "server", "Serve the mlcore gRPC API (every service of proto/mlcore/v1) from a state dir");
  cmd->add_option("--listen", args->listen,
                  "Address to listen on, repeatable: HOST:PORT (port 0 picks one) or "
                  "unix:///path.sock (default 127.0.0.1:7070)");
  cmd->add_option("--state", args->state,
                  "State directory served (default: the local backend's, "
                  "$XDG_DATA_HOME/mlcore)");
  cmd->add_flag("--insecure-local", args->insecure_local,
                "Serve without authentication; only loopback addresses and Unix sockets");
  cmd->add_option("--workers", args->workers, "Threads for unary calls (default 2 x cores, >= 4)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--access-log", args->access_log, "Log one line per call to stderr");
  cmd->add_option("--metrics-listen", args->metrics,
                  "Serve Prometheus metrics over HTTP at HOST:PORT (GET /metrics)");
  cmd->add_option("--grace", args->grace_s,
                  "Seconds in-flight calls get to finish on SIGINT/SIGTERM (default 10)")
      ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Examples:\n"
      "  mlc server --insecure-local --state /srv/mlcore\n"
      "  mlc server --insecure-local --listen unix:///run/user/1000/mlc.sock\n"
      "  mlc --backend grpc://127.0.0.1:7070 job ls     # from another shell\n"
      "\nPrints one line per address served (\"serving grpc://127.0.0.1:7070\"), then runs until\n"
      "SIGINT or SIGTERM, when it drains in-flight calls and exits 0.");
  OnRun(cmd, [args]() -> mlcore::Status {
    // Signals are taken synchronously below; block them before the server starts its threads.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    mlcore::server::ServerOptions options;
    options.listen = args->listen;
    options.insecure_local = args->insecure_local;
    options.workers = args->workers;
    options.access_log = args->access_log;
    options.metrics_listen = args->metrics;
    options.state_dir = args->state;
    if (options.state_dir.empty()) {
      std::string uri = mlcore::DefaultBackendUri();
      options.state_dir = uri.substr(std::string_view("local://").size());
    }
    auto server = mlcore::server::Server::Start(options);
    if (!server.ok()) return server.status();
    for (const auto& uri : (*server)->uris()) std::cout << "serving " << uri << "\n";
    if (!(*server)->metrics_url().empty())
      std::cout << "metrics " << (*server)->metrics_url() << "\n";
    std::cout << "state " << options.state_dir << std::endl;
    int received = 0;
    sigwait(&signals, &received);
    std::cerr << "mlc server: " << (received == SIGINT ? "SIGINT" : "SIGTERM")
              << ", draining in-flight calls\n";
    (*server)->Shutdown(std::chrono::seconds(args->grace_s));
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
