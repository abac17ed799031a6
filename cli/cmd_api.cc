// mlc api methods|call: any API method by name, JSON in and out (like grpcurl, in-process).
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/invoke.h"

namespace mlc {

void AddApiCommands(CLI::App& app, Globals& globals) {
  auto* api = app.add_subcommand("api", "Call API methods directly with JSON");
  api->require_subcommand(1);
  api->footer(
      "Examples:\n  mlc api methods\n"
      "  mlc api call ProjectService/GetProject '{\"name\": \"ml-research\"}'\n"
      "  echo '{}' | mlc api call ProjectService/ListProjects -\n"
      "  mlc api stream RegistryService/WatchRegistryEvents '{\"project\": \"ml\"}'");

  auto* methods = api->add_subcommand("methods", "List the methods this build serves");
  OnRun(methods, [] {
    for (const auto& m : mlcore::InvokableMethods()) std::cout << m << "\n";
    return mlcore::Status::Ok();
  });

  static std::string method;
  static std::string request = "{}";
  auto* call = api->add_subcommand("call", "Call a method with a JSON request ('-' reads stdin)");
  call->add_option("method", method, "Method, e.g. ProjectService/ListProjects")->required();
  call->add_option("request", request, "Request JSON (default {})");
  static std::string stream_method;
  static std::string stream_request = "{}";
  auto* stream = api->add_subcommand(
      "stream", "Call a streaming method; print each message as one JSON line until Ctrl-C");
  stream->add_option("method", stream_method, "Method, e.g. RegistryService/WatchRegistryEvents")
      ->required();
  stream->add_option("request", stream_request, "Request JSON (default {}; '-' reads stdin)");
  OnRun(stream, [&globals]() -> mlcore::Status {
    if (stream_request == "-") {
      stream_request.assign(std::istreambuf_iterator<char>(std::cin),
                            std::istreambuf_iterator<char>());
    }
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    CatchInterrupts();
    return mlcore::InvokeStreamJson(
        *client, stream_method, stream_request,
        [](const std::string& json) {
          std::cout << json << std::endl;  // one line per message, flushed for pipes
          return !Interrupted() && std::cout.good();
        },
        [] { return !Interrupted(); });
  });

  OnRun(call, [&globals]() -> mlcore::Status {
    if (request == "-") {
      request.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto response, mlcore::InvokeJson(*client, method, request));
    PrintJsonText(response, globals.format() == OutputFormat::kYaml ? OutputFormat::kYaml
                                                                    : OutputFormat::kJson);
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
