// mlc config show|path|get-contexts|set-context|use-context|delete-context
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app.h"
#include "mlcore/config.h"

namespace mlc {
namespace {

std::string ConfigPath(const Globals& globals) {
  return globals.config.empty() ? mlcore::DefaultConfigPath() : globals.config;
}

mlcore::Status Show(const Globals& globals) {
  MLC_ASSIGN_OR_RETURN(auto resolved, mlcore::ResolveConfig(globals.client_options()));
  MLC_ASSIGN_OR_RETURN(auto file, mlcore::LoadConfigFile(resolved.config_path));
  if (globals.format() == OutputFormat::kTable) {
    std::cout << "config file: " << resolved.config_path
              << (resolved.config_exists ? "" : " (does not exist yet)") << "\n"
              << "context:     " << (resolved.context.empty() ? "(none)" : resolved.context) << "\n"
              << "backend:     " << resolved.backend << "   (from " << resolved.backend_source
              << ")\n"
              << "project:     " << (resolved.project.empty() ? "(none)" : resolved.project)
              << "   (from " << resolved.project_source << ")\n";
    if (!file.contexts.empty()) {
      std::cout << "contexts:    ";
      for (size_t i = 0; i < file.contexts.size(); ++i) {
        std::cout << (i ? ", " : "") << file.contexts[i].name;
      }
      std::cout << "\n";
    }
    return mlcore::Status::Ok();
  }
  nlohmann::json out = {{"configPath", resolved.config_path},
                        {"configExists", resolved.config_exists},
                        {"context", resolved.context},
                        {"backend", resolved.backend},
                        {"backendSource", resolved.backend_source},
                        {"project", resolved.project},
                        {"projectSource", resolved.project_source},
                        {"contexts", nlohmann::json::array()}};
  for (const auto& c : file.contexts) {
    out["contexts"].push_back({{"name", c.name}, {"backend", c.backend}, {"project", c.project}});
  }
  PrintJsonText(out.dump(), globals.format());
  return mlcore::Status::Ok();
}

mlcore::Status GetContexts(const Globals& globals) {
  MLC_ASSIGN_OR_RETURN(auto file, mlcore::LoadConfigFile(ConfigPath(globals)));
  if (globals.format() != OutputFormat::kTable) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : file.contexts) {
      out.push_back({{"name", c.name},
                     {"backend", c.backend},
                     {"project", c.project},
                     {"current", c.name == file.current_context}});
    }
    PrintJsonText(out.dump(), globals.format());
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : file.contexts) {
    rows.push_back({c.name == file.current_context ? "*" : "", c.name,
                    c.backend.empty() ? "(default)" : c.backend,
                    c.project.empty() ? "-" : c.project});
  }
  PrintTable({"CURRENT", "NAME", "BACKEND", "PROJECT"}, rows);
  return mlcore::Status::Ok();
}

}  // namespace

void AddConfigCommands(CLI::App& app, Globals& globals) {
  auto* config = app.add_subcommand("config", "Show and edit the client configuration");
  config->require_subcommand(1);
  config->footer(
      "Examples:\n"
      "  mlc config show\n"
      "  mlc config set-context dev --backend local:///srv/mlcore --project ml-research --use\n"
      "  mlc config use-context dev");

  auto* show = config->add_subcommand("show",
                                      "Show the resolved backend and project, and where "
                                      "each comes from");
  OnRun(show, [&globals] { return Show(globals); });

  auto* path = config->add_subcommand("path", "Print the config file's path");
  OnRun(path, [&globals] {
    std::cout << ConfigPath(globals) << "\n";
    return mlcore::Status::Ok();
  });

  auto* get = config->add_subcommand("get-contexts", "List the contexts of the config file");
  OnRun(get, [&globals] { return GetContexts(globals); });

  auto* set = config->add_subcommand("set-context", "Create or update a context");
  static mlcore::ConfigContext context;
  static bool use = false;
  set->add_option("name", context.name, "Context name")->required();
  set->add_option("--backend", context.backend, "Backend URI for this context");
  set->add_option("-p,--project", context.project, "Default project for this context");
  set->add_flag("--use", use, "Also make it the current context");
  OnRun(set, [&globals]() -> mlcore::Status {
    std::string file = ConfigPath(globals);
    MLC_RETURN_IF_ERROR(mlcore::SetConfigContext(file, context));
    if (use) MLC_RETURN_IF_ERROR(mlcore::UseConfigContext(file, context.name));
    std::cout << "context \"" << context.name << "\" saved in " << file << "\n";
    return mlcore::Status::Ok();
  });

  auto* use_cmd = config->add_subcommand("use-context", "Make a context the current one");
  static std::string use_name;
  use_cmd->add_option("name", use_name, "Context name")->required();
  OnRun(use_cmd, [&globals]() -> mlcore::Status {
    MLC_RETURN_IF_ERROR(mlcore::UseConfigContext(ConfigPath(globals), use_name));
    std::cout << "switched to context \"" << use_name << "\"\n";
    return mlcore::Status::Ok();
  });

  auto* del = config->add_subcommand("delete-context", "Remove a context");
  static std::string del_name;
  del->add_option("name", del_name, "Context name")->required();
  OnRun(del, [&globals]() -> mlcore::Status {
    MLC_RETURN_IF_ERROR(mlcore::DeleteConfigContext(ConfigPath(globals), del_name));
    std::cout << "context \"" << del_name << "\" deleted\n";
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
