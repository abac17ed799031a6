// mlc version
#include <iostream>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/version.h"

namespace mlc {

void AddVersionCommand(CLI::App& app, Globals& globals) {
  auto* cmd = app.add_subcommand("version", "Print the version of mlc and libmlcore");
  OnRun(cmd, [&globals]() -> mlcore::Status {
    std::string version(mlcore::Version());
    std::string commit(mlcore::GitCommit());
    std::string build(mlcore::BuildType());
    std::string api(mlcore::ApiVersion());
    if (globals.format() == OutputFormat::kTable) {
      std::cout << "mlc " << version << " (commit " << commit << ", " << build << ", API " << api
                << ")\n";
      return mlcore::Status::Ok();
    }
    std::string json = "{\"version\":\"" + version + "\",\"gitCommit\":\"" + commit +
                       "\",\"buildType\":\"" + build + "\",\"apiVersion\":\"" + api + "\"}";
    PrintJsonText(json, globals.format());
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
