// Shared plumbing of the mlc commands: global options, opening the client, printing results.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mlcore/client.h"
#include "mlcore/status.h"

namespace CLI {
class App;
}

namespace google::protobuf {
class Message;
}

namespace mlc {

enum class OutputFormat { kTable, kJson, kYaml };

// Options every command accepts (set before the noun: `mlc -o json project ls`, or after it).
struct Globals {
  std::string backend;
  std::string project;
  std::string context;
  std::string config;
  std::string output = "table";
  OutputFormat format() const;
  mlcore::ClientOptions client_options() const;
};

// Opens the client the global options describe.
mlcore::Result<std::unique_ptr<mlcore::Client>> OpenClient(const Globals& globals);

// A command's body: returns OK or the error to report.
using Action = std::function<mlcore::Status()>;

// The exit code a command wants when it succeeded as an mlc call but reports an outcome (the
// exit code of a followed job, say). 0 by default; main() returns it.
int& CommandExitCode();

// Registers `action` to run when `command` is selected (after parsing succeeds).
void OnRun(CLI::App* command, Action action);

// Prints a message as JSON or YAML (for -o json|yaml).
void PrintMessage(const google::protobuf::Message& message, OutputFormat format);

// Prints rows as an aligned table with a header line.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// Prints a JSON text as YAML (or as JSON, pretty, for kJson).
void PrintJsonText(const std::string& json, OutputFormat format);

// "3m", "5h", "2d": time since a Unix time in seconds, kubectl style.
std::string Age(int64_t unix_seconds);

// Lowercase enum value name without its prefix ("MODEL_VERSION_STATUS_READY" -> "ready").
std::string EnumWord(std::string name, const std::string& prefix);

// Ctrl-C then sets a flag instead of killing mlc mid-write: for commands that follow or wait
// (the followed thing keeps going). Interrupted() says whether it was pressed.
void CatchInterrupts();
bool Interrupted();

// The text of a pipeline file, or of standard input for "-". Errors: NOT_FOUND.
mlcore::Result<std::string> ReadPipelineText(const std::string& file);

// Command registration, one function per noun.
void AddVersionCommand(CLI::App& app, Globals& globals);
void AddConfigCommands(CLI::App& app, Globals& globals);
void AddProjectCommands(CLI::App& app, Globals& globals);
void AddApiCommands(CLI::App& app, Globals& globals);
void AddSimCommand(CLI::App& app, Globals& globals);
void AddJobCommands(CLI::App& app, Globals& globals);
void AddJobAttachCommands(CLI::App* job, Globals& globals);  // exec, port-forward
void AddQuotaCommands(CLI::App& app, Globals& globals);      // quota, flavor, node
void AddRunCommands(CLI::App& app, Globals& globals);
void AddRunMetricsCommands(CLI::App* run, Globals& globals);  // metrics, compare
void AddTrackingCommands(CLI::App& app, Globals& globals);    // exp, sync, gc, tracking-policy
void AddArtifactCommands(CLI::App& app, Globals& globals);
void AddDataCommands(CLI::App& app, Globals& globals);
void AddModelCommands(CLI::App& app, Globals& globals);
void AddPipelineCommands(CLI::App& app, Globals& globals);          // lint
void AddPipelineRunCommands(CLI::App* pipeline, Globals& globals);  // run, ls, get, logs, ...
void AddModelEventCommands(CLI::App* model, Globals& globals);      // watch, webhook
void AddServerCommand(CLI::App& app, Globals& globals);             // only with gRPC
void AddAuthCommands(CLI::App& app, Globals& globals);  // login, logout, whoami, token, role

}  // namespace mlc
