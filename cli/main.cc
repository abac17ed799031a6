// mlc: the mlcore command-line client. Thin by design: parse, call the Client, print.
#include <iostream>

#include <CLI/CLI.hpp>

#include "app.h"
#include "exit_codes.h"

int main(int argc, char** argv) {
  CLI::App app{"mlc: run ML jobs, track experiments, move artifacts and register models.\n"};
  app.name("mlc");
  app.footer(
      "Examples:\n"
      "  mlc project create ml-research --guaranteed cpu=8,memory=32Gi --limit cpu=32,gpu=4\n"
      "  mlc config set-context dev --backend local:///srv/mlcore --project ml-research --use\n"
      "  mlc job submit --flavor cpu-2-8 --follow -- python train.py --lr 0.01\n"
      "  mlc job ls; mlc job logs -f train-g6d8y6; mlc quota\n"
      "\nExit codes: 0 ok, 1 error, 2 usage or invalid argument, 3 not found, 4 conflict,\n"
      "5 permission denied, 6 quota or rate limit, 7 unavailable (retry), 8 cancelled.\n"
      "Environment: MLC_BACKEND, MLC_PROJECT, MLC_CONTEXT, MLC_CONFIG.");
  app.fallthrough();
  app.require_subcommand(1);

  mlc::Globals globals;
  app.add_option("--backend", globals.backend,
                 "Backend URI (local://PATH, grpc://HOST:PORT, slurm+http://HOST:PORT); default "
                 "from MLC_BACKEND, "
                 "the config context, then local://$XDG_DATA_HOME/mlcore");
  app.add_option("-p,--project", globals.project,
                 "Project to act on (default: MLC_PROJECT or "
                 "the config context)");
  app.add_option("--context", globals.context, "Config context to use instead of the current one");
  app.add_option("--config", globals.config,
                 "Config file (default: MLC_CONFIG or "
                 "~/.config/mlcore/config.yaml)");
  app.add_option("-o,--output", globals.output, "Output format")
      ->check(CLI::IsMember({"table", "json", "yaml"}));

  mlc::AddVersionCommand(app, globals);
  mlc::AddConfigCommands(app, globals);
  mlc::AddProjectCommands(app, globals);
  mlc::AddApiCommands(app, globals);
  mlc::AddSimCommand(app, globals);
  mlc::AddJobCommands(app, globals);
  mlc::AddQuotaCommands(app, globals);
  mlc::AddRunCommands(app, globals);
  mlc::AddTrackingCommands(app, globals);
  mlc::AddArtifactCommands(app, globals);
  mlc::AddDataCommands(app, globals);
  mlc::AddModelCommands(app, globals);
  mlc::AddPipelineCommands(app, globals);
  mlc::AddAuthCommands(app, globals);
#ifdef MLC_HAVE_GRPC
  mlc::AddServerCommand(app, globals);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mlc: error: " << e.what() << "\n"
              << "Run 'mlc --help' (or 'mlc COMMAND --help') for usage.\n";
    return mlc::kExitUsage;
  } catch (const mlcore::Status& status) {
    std::cerr << "mlc: error: " << status.message() << " [" << mlcore::StatusCodeName(status.code())
              << "]\n";
    return mlc::ExitCodeFor(status.code());
  } catch (const std::exception& e) {
    std::cerr << "mlc: internal error: " << e.what() << "\n";
    return mlc::kExitError;
  }
  return mlc::CommandExitCode();
}
