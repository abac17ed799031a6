// Where the client finds its backend and default project.
//
// Resolution, first match wins, separately for the backend URI and for the project:
//   1. the explicit argument (ClientOptions, `--backend`/`--project` flags, Python keywords);
//   2. the environment: MLC_BACKEND, MLC_PROJECT;
//   3. the config file's selected context (ClientOptions::context, else MLC_CONTEXT, else the
//      file's `current-context`);
//   4. the default: backend `local://$XDG_DATA_HOME/mlcore` (XDG_DATA_HOME defaults to
//      ~/.local/share), no project.
//
// The config file is YAML at $MLC_CONFIG, else $XDG_CONFIG_HOME/mlcore/config.yaml, else
// ~/.config/mlcore/config.yaml. It holds named contexts, like kubectl's kubeconfig:
//
//   current-context: dev
//   contexts:
//     dev:
//       backend: local:///home/ann/mlcore-dev
//       project: ml-research
//     shared:
//       backend: grpc://mlcore.internal:7070
//       project: recsys
//
// A missing file is an empty config. A malformed one is an INVALID_ARGUMENT error naming the file,
// line and column. Edits rewrite the file atomically (temporary file + rename) and keep keys this
// version does not know; comments are not preserved.
#pragma once

#include <string>
#include <vector>

#include "mlcore/status.h"

namespace mlcore {

// What the caller states explicitly; empty fields are resolved (see above).
struct ClientOptions {
  std::string backend;      // backend URI
  std::string project;      // default project
  std::string context;      // config context to use
  std::string config_path;  // config file; empty = the default path
};

// A named context of the config file.
struct ConfigContext {
  std::string name;
  std::string backend;  // may be empty: falls through to the default
  std::string project;  // may be empty
};

// The outcome of resolution, with the origin of each value for `mlc config show`.
struct ResolvedConfig {
  std::string backend;         // always set
  std::string backend_source;  // "argument", "env MLC_BACKEND", "context dev", "default"
  std::string project;         // may be empty
  std::string project_source;  // as above, or "unset"
  std::string context;         // the context used, or empty
  std::string config_path;     // the config file consulted
  bool config_exists = false;  // whether that file exists
};

// The contents of a config file.
struct ConfigFile {
  std::string path;
  std::string current_context;
  std::vector<ConfigContext> contexts;  // sorted by name

  // Finds a context by name, or nullptr.
  const ConfigContext* Find(const std::string& name) const;
};

// $MLC_CONFIG, else $XDG_CONFIG_HOME/mlcore/config.yaml, else ~/.config/mlcore/config.yaml.
std::string DefaultConfigPath();

// local://$XDG_DATA_HOME/mlcore (XDG_DATA_HOME defaults to ~/.local/share).
std::string DefaultBackendUri();

// Reads a config file; a missing file gives an empty config. Errors: INVALID_ARGUMENT with
// "FILE:LINE:COLUMN: ..." for malformed YAML or wrong types, PERMISSION_DENIED when unreadable.
Result<ConfigFile> LoadConfigFile(const std::string& path);

// Resolves `options` against the environment and the config file.
// Errors: those of LoadConfigFile; NOT_FOUND for a selected context the file lacks.
Result<ResolvedConfig> ResolveConfig(const ClientOptions& options);

// Creates or replaces context `context.name`; empty backend/project fields leave an existing
// context's values unchanged. Makes it current when the file had no current context.
// Errors: INVALID_ARGUMENT (bad name or URI), file errors.
Status SetConfigContext(const std::string& path, const ConfigContext& context);

// Makes `name` the current context. Errors: NOT_FOUND (lists the known contexts).
Status UseConfigContext(const std::string& path, const std::string& name);

// Removes context `name` (and unsets current-context if it was current). Errors: NOT_FOUND.
Status DeleteConfigContext(const std::string& path, const std::string& name);

}  // namespace mlcore
