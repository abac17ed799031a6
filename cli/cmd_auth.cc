// mlc login|logout|whoami, mlc token create|ls|revoke, mlc role grant|revoke|ls
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/config.h"
#include "mlcore/credentials.h"
#include "mlcore/jobs.h"

namespace mlc {
namespace {

namespace v1 = mlcore::v1;

// The token typed or piped in: one line, without echo on a terminal.
mlcore::Result<std::string> ReadToken() {
  const bool tty = isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (tty) {
    std::cerr << "API token: " << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) {
    return mlcore::InvalidArgumentError(
        "no token given: pipe it in (`mlc login SERVER < token.txt`) or type it at the prompt");
  }
  return line;
}

// The server a login is for: the argument, else the configured backend.
mlcore::Result<std::string> ServerUri(const Globals& globals, const std::string& server) {
  mlcore::ClientOptions options = globals.client_options();
  if (!server.empty()) options.backend = server;
  MLC_ASSIGN_OR_RETURN(mlcore::ResolvedConfig config, mlcore::ResolveConfig(options));
  if (!config.backend.starts_with("grpc")) {
    return mlcore::InvalidArgumentError("\"" + config.backend +
                                        "\" is not a server: log in to a grpc:// or grpcs:// URI "
                                        "(the local backend needs no login)");
  }
  return config.backend;
}

std::string Bindings(const v1::WhoAmIResponse& who) {
  std::string out;
  for (const auto& b : who.bindings()) {
    out += (out.empty() ? "" : ", ") + b.project() + " (" +
           EnumWord(v1::Role_Name(b.role()), "ROLE_") + ")";
  }
  return out;
}

void AddLogin(CLI::App& app, Globals& globals) {
  auto server = std::make_shared<std::string>();
  auto* login = app.add_subcommand(
      "login", "Store an API token for a server (read from stdin; checked with the server first)");
  login->add_option("server", *server, "Server URI (default: the configured backend)");
  login->footer(
      "Examples:\n"
      "  mlc login grpc://127.0.0.1:7070            # prompts for the token\n"
      "  mlc login grpcs://ml.example.com:7443 < token.txt\n"
      "The token goes to the credentials file (mode 0600; see `mlc whoami`), never to argv.");
  OnRun(login, [&globals, server]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(std::string uri, ServerUri(globals, *server));
    MLC_ASSIGN_OR_RETURN(std::string token, ReadToken());
    mlcore::ClientOptions options = globals.client_options();
    options.backend = uri + (uri.find('?') == std::string::npos ? "?" : "&") + "token=" + token;
    MLC_ASSIGN_OR_RETURN(auto client, mlcore::Client::Open(options));
    MLC_ASSIGN_OR_RETURN(v1::WhoAmIResponse who, client->WhoAmI());
    MLC_ASSIGN_OR_RETURN(v1::BackendInfo info, client->GetBackendInfo());
    MLC_RETURN_IF_ERROR(mlcore::SaveToken(info.target(), token));
    std::cout << "logged in to " << info.target() << " as " << who.user().name()
              << (who.user().admin() ? " (server admin)" : "") << "\n";
    if (who.bindings_size() > 0) std::cout << "roles: " << Bindings(who) << "\n";
    std::cout << "token stored in " << mlcore::CredentialsPath() << "\n";
    return mlcore::Status::Ok();
  });

  auto logout_server = std::make_shared<std::string>();
  auto revoke = std::make_shared<bool>(false);
  auto* logout = app.add_subcommand("logout", "Forget the stored token of a server");
  logout->add_option("server", *logout_server, "Server URI (default: the configured backend)");
  logout->add_flag("--revoke", *revoke, "Also revoke the token on the server");
  OnRun(logout, [&globals, logout_server, revoke]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(std::string uri, ServerUri(globals, *logout_server));
    mlcore::ClientOptions options = globals.client_options();
    options.backend = uri;
    MLC_ASSIGN_OR_RETURN(auto client, mlcore::Client::Open(options));
    const std::string target = client->GetBackendInfo()->target();
    if (*revoke) {
      MLC_ASSIGN_OR_RETURN(v1::WhoAmIResponse who, client->WhoAmI());
      if (who.has_token()) MLC_RETURN_IF_ERROR(client->RevokeToken(who.token().id()));
    }
    MLC_RETURN_IF_ERROR(mlcore::ForgetToken(target));
    std::cout << "logged out of " << target << (*revoke ? " (token revoked)" : "") << "\n";
    return mlcore::Status::Ok();
  });

  auto* whoami = app.add_subcommand("whoami", "Show who the backend takes you for, and your roles");
  OnRun(whoami, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(v1::WhoAmIResponse who, client->WhoAmI());
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(who, globals.format());
      return mlcore::Status::Ok();
    }
    std::cout << "user: " << who.user().name() << (who.user().admin() ? " (server admin)" : "")
              << "\n";
    if (who.has_token()) {
      std::cout << "token: " << who.token().id() << " (" << who.token().secret_prefix() << "…"
                << (who.token().projects_size() > 0 ? ", limited to some projects" : "") << ")\n";
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : who.bindings()) {
      rows.push_back({b.project(), EnumWord(v1::Role_Name(b.role()), "ROLE_"), b.granted_by()});
    }
    if (!rows.empty()) PrintTable({"PROJECT", "ROLE", "GRANTED BY"}, rows);
    return mlcore::Status::Ok();
  });
}

void AddTokens(CLI::App& app, Globals& globals) {
  auto* token = app.add_subcommand("token", "Create, list and revoke API tokens");
  token->require_subcommand(1);

  struct CreateArgs {
    std::string description, ttl = "0", user;
    std::vector<std::string> projects;
  };
  auto create = std::make_shared<CreateArgs>();
  auto* c = token->add_subcommand("create", "Create a token; its secret is printed once");
  c->add_option("--description", create->description, "What the token is for (\"airflow prod\")");
  c->add_option("--project", create->projects, "Limit the token to a project (repeatable)");
  c->add_option("--ttl", create->ttl, "Lifetime (90d, 12h; 0 = never expires)");
  c->add_option("--user", create->user, "For another user (server administrators)");
  OnRun(c, [&globals, create]() -> mlcore::Status {
    v1::CreateTokenRequest r;
    r.set_description(create->description);
    for (const auto& p : create->projects) r.add_projects(p);
    MLC_ASSIGN_OR_RETURN(*r.mutable_ttl(), mlcore::ParseDurationText(create->ttl));
    r.set_user(create->user);
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(v1::CreateTokenResponse out, client->CreateToken(r));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(out, globals.format());
      return mlcore::Status::Ok();
    }
    std::cout << out.secret() << "\n";
    std::cerr << "token " << out.token().id() << " for " << out.token().user()
              << ": shown once, store it now\n";
    return mlcore::Status::Ok();
  });

  auto all = std::make_shared<bool>(false);
  auto ls_user = std::make_shared<std::string>();
  auto* ls = token->add_subcommand("ls", "List your tokens (never their secrets)");
  ls->add_flag("--all", *all, "Include revoked and expired tokens");
  ls->add_option("--user", *ls_user, "Another user's tokens (server administrators)");
  OnRun(ls, [&globals, all, ls_user]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    v1::ListTokensRequest r;
    r.set_user(*ls_user);
    r.set_include_revoked(*all);
    r.set_page_size(1000);
    MLC_ASSIGN_OR_RETURN(auto out, client->ListTokens(r));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(out, globals.format());
      return mlcore::Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : out.tokens()) {
      std::string projects;
      for (const auto& p : t.projects()) projects += (projects.empty() ? "" : ",") + p;
      std::string state = t.has_revoke_time() ? "revoked" : "active";
      rows.push_back({t.id(), t.secret_prefix() + "…", state, projects.empty() ? "*" : projects,
                      Age(t.create_time().seconds()),
                      t.has_last_use_time() ? Age(t.last_use_time().seconds()) : "never",
                      t.description()});
    }
    PrintTable({"ID", "PREFIX", "STATE", "PROJECTS", "AGE", "LAST USED", "DESCRIPTION"}, rows);
    return mlcore::Status::Ok();
  });

  auto id = std::make_shared<std::string>();
  auto* revoke = token->add_subcommand("revoke", "Revoke a token at once");
  revoke->add_option("id", *id, "Token id (see `mlc token ls`)")->required();
  OnRun(revoke, [&globals, id]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_RETURN_IF_ERROR(client->RevokeToken(*id));
    std::cout << "token " << *id << " revoked\n";
    return mlcore::Status::Ok();
  });
}

void AddRoles(CLI::App& app, Globals& globals) {
  auto* role = app.add_subcommand("role", "Grant, revoke and list project roles");
  role->require_subcommand(1);

  struct GrantArgs {
    std::string project, user, role;
  };
  auto grant = std::make_shared<GrantArgs>();
  auto* g = role->add_subcommand("grant", "Give a user a role on a project (needs admin there)");
  g->add_option("project", grant->project, "Project")->required();
  g->add_option("user", grant->user, "User")->required();
  g->add_option("role", grant->role, "viewer, editor or admin")->required();
  OnRun(g, [&globals, grant]() -> mlcore::Status {
    v1::GrantRoleRequest r;
    r.set_project(grant->project);
    r.set_user(grant->user);
    std::string upper = "ROLE_";
    for (char ch : grant->role)
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    v1::Role parsed = v1::ROLE_UNSPECIFIED;
    if (!v1::Role_Parse(upper, &parsed) || parsed == v1::ROLE_UNSPECIFIED) {
      return mlcore::InvalidArgumentError("unknown role \"" + grant->role +
                                          "\"; roles: viewer, editor, admin");
    }
    r.set_role(parsed);
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto b, client->GrantRole(r));
    std::cout << b.user() << " is " << EnumWord(v1::Role_Name(b.role()), "ROLE_") << " of "
              << b.project() << "\n";
    return mlcore::Status::Ok();
  });

  auto revoke = std::make_shared<GrantArgs>();
  auto* rv = role->add_subcommand("revoke", "Remove a user's role on a project");
  rv->add_option("project", revoke->project, "Project")->required();
  rv->add_option("user", revoke->user, "User")->required();
  OnRun(rv, [&globals, revoke]() -> mlcore::Status {
    v1::RevokeRoleRequest r;
    r.set_project(revoke->project);
    r.set_user(revoke->user);
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_RETURN_IF_ERROR(client->RevokeRole(r));
    std::cout << revoke->user << " has no role on " << revoke->project << " any more\n";
    return mlcore::Status::Ok();
  });

  auto filter = std::make_shared<GrantArgs>();
  auto* ls = role->add_subcommand("ls", "List role bindings of projects you administer");
  ls->add_option("--project", filter->project, "Only this project");
  ls->add_option("--user", filter->user, "Only this user");
  OnRun(ls, [&globals, filter]() -> mlcore::Status {
    v1::ListRoleBindingsRequest r;
    r.set_project(filter->project);
    r.set_user(filter->user);
    r.set_page_size(1000);
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto out, client->ListRoleBindings(r));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(out, globals.format());
      return mlcore::Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : out.bindings()) {
      rows.push_back({b.project(), b.user(), EnumWord(v1::Role_Name(b.role()), "ROLE_"),
                      b.granted_by(), Age(b.create_time().seconds())});
    }
    PrintTable({"PROJECT", "USER", "ROLE", "GRANTED BY", "AGE"}, rows);
    return mlcore::Status::Ok();
  });
}

}  // namespace

void AddAuthCommands(CLI::App& app, Globals& globals) {
  AddLogin(app, globals);
  AddTokens(app, globals);
  AddRoles(app, globals);
}

}  // namespace mlc
