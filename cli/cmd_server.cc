// mlc server
#include <signal.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/config.h"
#include "mlcore/jobs.h"
#include "mlcore/server.h"

namespace mlc {
namespace {

std::string StateDirOr(const std::string& state) {
  if (!state.empty()) return state;
  std::string uri = mlcore::DefaultBackendUri();
  return uri.substr(std::string_view("local://").size());
}

void PrintSecret(const mlcore::v1::CreateTokenResponse& token) {
  std::cout << token.secret() << "\n";
  std::cerr << "API token " << token.token().id() << " for " << token.token().user()
            << ": shown once, store it now (`mlc login SERVER` reads it from stdin)\n";
}

// `mlc server user add|ls|disable|enable|token`: the users of a state directory, out of band.
void AddServerUserCommands(CLI::App* server) {
  auto* user = server->add_subcommand("user", "Manage the server's users (on its state directory)");
  user->require_subcommand(1);
  auto state = std::make_shared<std::string>();
  user->add_option("--state", *state, "State directory (default: the local backend's)");

  struct AddArgs {
    std::string name, display_name, email, ttl = "0";
    bool admin = false, token = false;
  };
  auto add = std::make_shared<AddArgs>();
  auto* add_cmd = user->add_subcommand("add", "Create a user (optionally with a first token)");
  add_cmd->add_option("name", add->name, "Login name ([a-z0-9._-])")->required();
  add_cmd->add_flag("--admin", add->admin, "Server administrator: ADMIN of every project");
  add_cmd->add_option("--display-name", add->display_name, "Name shown in listings");
  add_cmd->add_option("--email", add->email, "Contact e-mail");
  add_cmd->add_flag("--token", add->token, "Also mint an API token and print it (once)");
  add_cmd->add_option("--ttl", add->ttl, "Lifetime of that token (90d, 12h; 0 = never expires)");
  OnRun(add_cmd, [state, add]() -> mlcore::Status {
    mlcore::v1::User u;
    u.set_name(add->name);
    u.set_display_name(add->display_name);
    u.set_email(add->email);
    u.set_admin(add->admin);
    MLC_ASSIGN_OR_RETURN(auto ttl, mlcore::ParseDurationText(add->ttl));
    MLC_ASSIGN_OR_RETURN(auto created, mlcore::server::AddUser(StateDirOr(*state), u));
    std::cerr << "user " << created.name() << " created" << (created.admin() ? " (admin)" : "")
              << "\n";
    if (add->token) {
      MLC_ASSIGN_OR_RETURN(
          auto token, mlcore::server::MintToken(StateDirOr(*state), created.name(), "first token",
                                                std::chrono::seconds(ttl.seconds())));
      PrintSecret(token);
    }
    return mlcore::Status::Ok();
  });

  auto* ls = user->add_subcommand("ls", "List users");
  OnRun(ls, [state]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto users, mlcore::server::ListUsers(StateDirOr(*state)));
    std::vector<std::vector<std::string>> rows;
    for (const auto& u : users) {
      rows.push_back({u.name(), u.admin() ? "yes" : "", u.disabled() ? "disabled" : "active",
                      u.display_name(), u.email(), Age(u.create_time().seconds())});
    }
    PrintTable({"NAME", "ADMIN", "STATE", "DISPLAY NAME", "EMAIL", "AGE"}, rows);
    return mlcore::Status::Ok();
  });

  for (bool disable : {true, false}) {
    auto name = std::make_shared<std::string>();
    auto* c = user->add_subcommand(disable ? "disable" : "enable",
                                   disable ? "Disable a user: its tokens stop working at once"
                                           : "Enable a disabled user again");
    c->add_option("name", *name, "User")->required();
    OnRun(c, [state, name, disable]() -> mlcore::Status {
      MLC_RETURN_IF_ERROR(
          mlcore::server::SetUserDisabled(StateDirOr(*state), *name, disable).status());
      std::cerr << "user " << *name << (disable ? " disabled" : " enabled") << "\n";
      return mlcore::Status::Ok();
    });
  }

  struct TokenArgs {
    std::string name, description = "minted by mlc server user token", ttl = "0";
  };
  auto tok = std::make_shared<TokenArgs>();
  auto* token_cmd = user->add_subcommand("token", "Mint an API token for a user, out of band");
  token_cmd->add_option("name", tok->name, "User")->required();
  token_cmd->add_option("--description", tok->description, "What the token is for");
  token_cmd->add_option("--ttl", tok->ttl, "Lifetime (90d, 12h; 0 = never expires)");
  OnRun(token_cmd, [state, tok]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto ttl, mlcore::ParseDurationText(tok->ttl));
    MLC_ASSIGN_OR_RETURN(auto token,
                         mlcore::server::MintToken(StateDirOr(*state), tok->name, tok->description,
                                                   std::chrono::seconds(ttl.seconds())));
    PrintSecret(token);
    return mlcore::Status::Ok();
  });
}

}  // namespace

void AddServerCommand(CLI::App& app, Globals& /*globals*/) {
  struct Args {
    std::vector<std::string> listen;
    std::string state;
    bool insecure_local = false;
    std::string tls_cert, tls_key, tls_client_ca;
    int workers = 0;
    bool access_log = false;
    int grace_s = 10;
    std::string metrics;
    std::string http;
    std::string engine;
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
  cmd->add_option("--engine", args->engine,
                  "Backend the services run on (default local://STATE); slurm+http://HOST:PORT "
                  "fronts a Slurm cluster, its job store in --state");
  cmd->add_flag("--insecure-local", args->insecure_local,
                "Serve without authentication; only loopback addresses and Unix sockets");
  cmd->add_option("--tls-cert", args->tls_cert,
                  "PEM certificate chain for TLS on TCP listens (needed beyond loopback)");
  cmd->add_option("--tls-key", args->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--tls-client-ca", args->tls_client_ca,
                  "PEM CAs of accepted client certificates (their common name is the user)");
  cmd->add_option("--workers", args->workers, "Threads for unary calls (default 2 x cores, >= 4)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--access-log", args->access_log, "Log one line per call to stderr");
  cmd->add_option("--metrics-listen", args->metrics,
                  "Serve Prometheus metrics over HTTP at HOST:PORT (GET /metrics)");
  cmd->add_option("--http", args->http,
                  "Serve the API as HTTP/JSON and the web UI at HOST:PORT (port 0 picks one)");
  cmd->add_option("--grace", args->grace_s,
                  "Seconds in-flight calls get to finish on SIGINT/SIGTERM (default 10)")
      ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Examples:\n"
      "  mlc server user add ann --admin --token --state /srv/mlcore   # first administrator\n"
      "  mlc server --state /srv/mlcore                                # tokens and roles\n"
      "  mlc server --listen 0.0.0.0:7443 --tls-cert srv.pem --tls-key srv.key --state "
      "/srv/mlcore\n"
      "  mlc server --insecure-local --state /srv/mlcore\n"
      "  mlc server --insecure-local --listen unix:///run/user/1000/mlc.sock\n"
      "  mlc server --state /srv/mlcore --engine slurm+http://127.0.0.1:6820?user=ci   # a "
      "cluster\n"
      "  mlc --backend grpc://127.0.0.1:7070 job ls     # from another shell\n"
      "\nPrints one line per address served (\"serving grpc://127.0.0.1:7070\"), then runs until\n"
      "SIGINT or SIGTERM, when it drains in-flight calls and exits 0.");
  AddServerUserCommands(cmd);
  auto* openapi = cmd->add_subcommand(
      "openapi",
      "Print the OpenAPI 3.1 document of the HTTP/JSON API (as GET /api/v1/openapi.json)");
  OnRun(openapi, []() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(std::string doc, mlcore::server::OpenApiJson());
    std::cout << doc;
    return mlcore::Status::Ok();
  });
  OnRun(cmd, [args, cmd]() -> mlcore::Status {
    if (!cmd->get_subcommands().empty()) return mlcore::Status::Ok();  // `mlc server user ...`
    // Signals are taken synchronously below; block them before the server starts its threads.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    mlcore::server::ServerOptions options;
    options.listen = args->listen;
    options.insecure_local = args->insecure_local;
    options.tls_cert_file = args->tls_cert;
    options.tls_key_file = args->tls_key;
    options.tls_client_ca_file = args->tls_client_ca;
    options.workers = args->workers;
    options.access_log = args->access_log;
    options.metrics_listen = args->metrics;
    options.http_listen = args->http;
    options.state_dir = StateDirOr(args->state);
    options.engine = args->engine;
    auto server = mlcore::server::Server::Start(options);
    if (!server.ok()) return server.status();
    for (const auto& uri : (*server)->uris()) std::cout << "serving " << uri << "\n";
    if (!(*server)->metrics_url().empty())
      std::cout << "metrics " << (*server)->metrics_url() << "\n";
    if (!(*server)->http_url().empty()) std::cout << "http " << (*server)->http_url() << "\n";
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
