#include "app.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "mlcore/json.h"

namespace mlc {

OutputFormat Globals::format() const {
  if (output == "json") return OutputFormat::kJson;
  if (output == "yaml") return OutputFormat::kYaml;
  return OutputFormat::kTable;
}

mlcore::ClientOptions Globals::client_options() const {
  mlcore::ClientOptions options;
  options.backend = backend;
  options.project = project;
  options.context = context;
  options.config_path = config;
  return options;
}

mlcore::Result<std::unique_ptr<mlcore::Client>> OpenClient(const Globals& globals) {
  return mlcore::Client::Open(globals.client_options());
}

int& CommandExitCode() {
  static int code = 0;
  return code;
}

void OnRun(CLI::App* command, Action action) {
  // The status travels out of CLI11 through an exception caught in main().
  command->callback([action = std::move(action)] {
    mlcore::Status status = action();
    if (!status.ok()) throw status;
  });
}

namespace {

void EmitYaml(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        EmitYaml(out, item);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : value) EmitYaml(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string:
      out << value.get<std::string>();
      break;
    case nlohmann::json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << value.dump();
  }
}

}  // namespace

void PrintJsonText(const std::string& json, OutputFormat format) {
  auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    std::cout << json << "\n";
    return;
  }
  if (format == OutputFormat::kYaml) {
    YAML::Emitter out;
    EmitYaml(out, parsed);
    std::cout << out.c_str() << "\n";
  } else {
    std::cout << parsed.dump(2) << "\n";
  }
}

void PrintMessage(const google::protobuf::Message& message, OutputFormat format) {
  PrintJsonText(mlcore::ToJson(message), format);
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

std::string Age(int64_t unix_seconds) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  int64_t age = std::max<int64_t>(0, now - unix_seconds);
  if (age < 120) return std::to_string(age) + "s";
  if (age < 7200) return std::to_string(age / 60) + "m";
  if (age < 172800) return std::to_string(age / 3600) + "h";
  return std::to_string(age / 86400) + "d";
}

std::string EnumWord(std::string name, const std::string& prefix) {
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }
}  // namespace

void CatchInterrupts() {
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigaction(SIGINT, &action, nullptr);
}

bool Interrupted() { return g_interrupted != 0; }

}  // namespace mlc
