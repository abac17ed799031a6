#include "mlcore/config.h"

#include <unistd.h>

#include <algorithm>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/validation.h"
#include "mlcore/uri.h"
#include "util/fs.h"

namespace mlcore {
namespace {

std::string Where(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

Status ConfigError(const std::string& path, const YAML::Mark& mark, const std::string& what) {
  return InvalidArgumentError("malformed config file " + Where(path, mark) + ": " + what +
                              " (fix the file, or point MLC_CONFIG at another one)");
}

// Loads the YAML document of a config file; a missing file is an empty map.
Result<YAML::Node> LoadDocument(const std::string& path) {
  auto text = util::ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return YAML::Node(YAML::NodeType::Map);
    return text.status();
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::ParserException& e) {
    return ConfigError(path, e.mark, e.msg);
  } catch (const YAML::Exception& e) {
    return ConfigError(path, e.mark, e.msg);
  }
  if (root.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return ConfigError(path, root.Mark(),
                       "the top level must be a mapping with keys "
                       "current-context and contexts");
  }
  return root;
}

Result<std::string> ScalarField(const std::string& path, const YAML::Node& node, const char* key) {
  YAML::Node value = node[key];
  if (!value || value.IsNull()) return std::string();
  if (!value.IsScalar()) {
    return ConfigError(path, value.Mark(), std::string("\"") + key + "\" must be a string");
  }
  return value.Scalar();
}

Result<ConfigFile> Parse(const std::string& path, const YAML::Node& root) {
  ConfigFile file;
  file.path = path;
  MLC_ASSIGN_OR_RETURN(file.current_context, ScalarField(path, root, "current-context"));
  YAML::Node contexts = root["contexts"];
  if (contexts && !contexts.IsNull()) {
    if (!contexts.IsMap()) {
      return ConfigError(path, contexts.Mark(),
                         "\"contexts\" must map context names to {backend, project}");
    }
    for (const auto& entry : contexts) {
      ConfigContext context;
      context.name = entry.first.as<std::string>();
      const YAML::Node& body = entry.second;
      if (!body.IsNull() && !body.IsMap()) {
        return ConfigError(path, body.Mark(),
                           "context \"" + context.name +
                               "\" must be a mapping with keys "
                               "backend and project");
      }
      if (body.IsMap()) {
        for (const auto& field : body) {
          auto key = field.first.as<std::string>();
          if (key != "backend" && key != "project") {
            return ConfigError(path, field.first.Mark(),
                               "unknown key \"" + key + "\" in context \"" + context.name +
                                   "\"; known keys: backend, project");
          }
        }
        MLC_ASSIGN_OR_RETURN(context.backend, ScalarField(path, body, "backend"));
        MLC_ASSIGN_OR_RETURN(context.project, ScalarField(path, body, "project"));
      }
      file.contexts.push_back(std::move(context));
    }
  }
  std::sort(file.contexts.begin(), file.contexts.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return file;
}

std::string KnownContexts(const ConfigFile& file) {
  if (file.contexts.empty()) return "the file defines no contexts";
  std::string out = "known contexts: ";
  for (size_t i = 0; i < file.contexts.size(); ++i) {
    if (i > 0) out += ", ";
    out += file.contexts[i].name;
  }
  return out;
}

Status SaveDocument(const std::string& path, const YAML::Node& root) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    MLC_RETURN_IF_ERROR(util::EnsureDirectory(path.substr(0, slash), "config directory"));
  }
  YAML::Emitter out;
  out << root;
  std::string text = out.c_str();
  text += "\n";
  return util::AtomicWriteFile(path, text, 0600);
}

}  // namespace

const ConfigContext* ConfigFile::Find(const std::string& name) const {
  for (const auto& context : contexts) {
    if (context.name == name) return &context;
  }
  return nullptr;
}

std::string DefaultConfigPath() {
  std::string explicit_path = util::GetEnv("MLC_CONFIG");
  if (!explicit_path.empty()) return util::AbsolutePath(explicit_path);
  std::string base = util::GetEnv("XDG_CONFIG_HOME", util::HomeDir() + "/.config");
  return base + "/mlcore/config.yaml";
}

std::string DefaultBackendUri() {
  std::string base = util::GetEnv("XDG_DATA_HOME", util::HomeDir() + "/.local/share");
  return "local://" + base + "/mlcore";
}

Result<ConfigFile> LoadConfigFile(const std::string& path) {
  MLC_ASSIGN_OR_RETURN(YAML::Node root, LoadDocument(path));
  return Parse(path, root);
}

Result<ResolvedConfig> ResolveConfig(const ClientOptions& options) {
  ResolvedConfig resolved;
  resolved.config_path =
      options.config_path.empty() ? DefaultConfigPath() : util::AbsolutePath(options.config_path);
  resolved.config_exists = access(resolved.config_path.c_str(), F_OK) == 0;
  MLC_ASSIGN_OR_RETURN(ConfigFile file, LoadConfigFile(resolved.config_path));

  std::string context_name = options.context;
  std::string context_origin = "argument";
  if (context_name.empty()) {
    context_name = util::GetEnv("MLC_CONTEXT");
    context_origin = "env MLC_CONTEXT";
  }
  if (context_name.empty()) {
    context_name = file.current_context;
    context_origin = "current-context";
  }
  const ConfigContext* context = nullptr;
  if (!context_name.empty()) {
    context = file.Find(context_name);
    if (context == nullptr) {
      return NotFoundError("context \"" + context_name + "\" (from " + context_origin +
                           ") is not defined in " + resolved.config_path + "; " +
                           KnownContexts(file) + " (create it with `mlc config set-context " +
                           context_name + " --backend URI`)");
    }
    resolved.context = context_name;
  }

  if (!options.backend.empty()) {
    resolved.backend = options.backend;
    resolved.backend_source = "argument";
  } else if (auto env = util::GetEnv("MLC_BACKEND"); !env.empty()) {
    resolved.backend = env;
    resolved.backend_source = "env MLC_BACKEND";
  } else if (context != nullptr && !context->backend.empty()) {
    resolved.backend = context->backend;
    resolved.backend_source = "context " + context->name;
  } else {
    resolved.backend = DefaultBackendUri();
    resolved.backend_source = "default";
  }

  if (!options.project.empty()) {
    resolved.project = options.project;
    resolved.project_source = "argument";
  } else if (auto env = util::GetEnv("MLC_PROJECT"); !env.empty()) {
    resolved.project = env;
    resolved.project_source = "env MLC_PROJECT";
  } else if (context != nullptr && !context->project.empty()) {
    resolved.project = context->project;
    resolved.project_source = "context " + context->name;
  } else {
    resolved.project_source = "unset";
  }
  if (!resolved.project.empty()) {
    MLC_RETURN_IF_ERROR(ValidateProjectName(resolved.project)
                            .WithContext("default project (from " + resolved.project_source + ")"));
  }
  return resolved;
}

Status SetConfigContext(const std::string& path, const ConfigContext& context) {
  MLC_RETURN_IF_ERROR(ValidateContextName(context.name));
  if (!context.backend.empty()) MLC_RETURN_IF_ERROR(Uri::Parse(context.backend).status());
  if (!context.project.empty()) MLC_RETURN_IF_ERROR(ValidateProjectName(context.project));
  MLC_ASSIGN_OR_RETURN(YAML::Node root, LoadDocument(path));
  MLC_RETURN_IF_ERROR(Parse(path, root).status());
  if (!root["contexts"] || root["contexts"].IsNull()) {
    root["contexts"] = YAML::Node(YAML::NodeType::Map);
  }
  YAML::Node body = root["contexts"][context.name];
  if (!body.IsMap()) body = YAML::Node(YAML::NodeType::Map);
  if (!context.backend.empty()) body["backend"] = context.backend;
  if (!context.project.empty()) body["project"] = context.project;
  root["contexts"][context.name] = body;
  auto current = root["current-context"];
  if (!current || current.IsNull() || current.Scalar().empty()) {
    root["current-context"] = context.name;
  }
  return SaveDocument(path, root);
}

Status UseConfigContext(const std::string& path, const std::string& name) {
  MLC_ASSIGN_OR_RETURN(YAML::Node root, LoadDocument(path));
  MLC_ASSIGN_OR_RETURN(ConfigFile file, Parse(path, root));
  if (file.Find(name) == nullptr) {
    return NotFoundError("context \"" + name + "\" is not defined in " + path + "; " +
                         KnownContexts(file));
  }
  root["current-context"] = name;
  return SaveDocument(path, root);
}

Status DeleteConfigContext(const std::string& path, const std::string& name) {
  MLC_ASSIGN_OR_RETURN(YAML::Node root, LoadDocument(path));
  MLC_ASSIGN_OR_RETURN(ConfigFile file, Parse(path, root));
  if (file.Find(name) == nullptr) {
    return NotFoundError("context \"" + name + "\" is not defined in " + path + "; " +
                         KnownContexts(file));
  }
  root["contexts"].remove(name);
  if (file.current_context == name) root.remove("current-context");
  return SaveDocument(path, root);
}

}  // namespace mlcore
