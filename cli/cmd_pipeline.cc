// mlc pipeline lint (the other verbs: cmd_pipeline_run.cc)
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/jobs.h"
#include "mlcore/pipelines.h"

namespace mlc {

mlcore::Result<std::string> ReadPipelineText(const std::string& file) {
  if (file == "-") {
    return std::string((std::istreambuf_iterator<char>(std::cin)),
                       std::istreambuf_iterator<char>());
  }
  std::ifstream in(file);
  if (!in) {
    return mlcore::NotFoundError("cannot read pipeline file " + file +
                                 " (relative paths start at the current directory)");
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void AddPipelineCommands(CLI::App& app, Globals& globals) {
  auto* pipeline = app.add_subcommand("pipeline", "Run and check pipelines of jobs");
  pipeline->alias("pipelines");
  pipeline->require_subcommand(1);
  pipeline->footer(
      "Examples:\n"
      "  mlc pipeline lint pipeline.yaml\n"
      "  mlc pipeline run pipeline.yaml -i rows=1000 --wait\n"
      "  mlc pipeline get p3f9c0a1b2c4d --plot dag.png\n"
      "  mlc pipeline resume p3f9c0a1b2c4d\n"
      "  python -c 'import mlcore, flow; mlcore.compile(flow.train, \"p.yaml\")' && "
      "mlc pipeline lint p.yaml\n"
      "  mlc pipeline lint -o yaml pipeline.json   # the resolved spec and every problem\n"
      "File format: docs/pipelines.md");

  static std::string lint_file;
  auto* lint = pipeline->add_subcommand(
      "lint",
      "Check a pipeline file (YAML or JSON) without running it: names, cycles, edges, "
      "types, conditions, parallel-for and each step's job spec");
  lint->add_option("file", lint_file, "Pipeline file (YAML or JSON); - reads standard input")
      ->required();
  lint->footer(
      "Every problem is printed at once as FILE:LINE:COLUMN: error: MESSAGE (WHAT TO DO).\n"
      "Exit code 0 when there are only warnings, 2 when there is an error.");
  OnRun(lint, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(std::string text, ReadPipelineText(lint_file));
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    mlcore::v1::LintPipelineRequest request;
    request.set_text(std::move(text));
    request.set_file(lint_file == "-" ? "<stdin>" : lint_file);
    MLC_ASSIGN_OR_RETURN(auto response, client->LintPipeline(request));
    std::vector<mlcore::v1::LintProblem> problems(response.problems().begin(),
                                                  response.problems().end());
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(response, globals.format());
    } else if (!problems.empty()) {
      std::cout << mlcore::FormatLintProblems(problems);
    }
    if (!response.has_resolved_spec()) {
      size_t errors = 0;
      for (const auto& p : problems) errors += p.severity() == mlcore::v1::LINT_SEVERITY_ERROR;
      return mlcore::InvalidArgumentError(request.file() + ": " + std::to_string(errors) +
                                          (errors == 1 ? " error" : " errors") +
                                          " in the pipeline (listed above)");
    }
    if (globals.format() == OutputFormat::kTable) {
      const auto& spec = response.resolved_spec();
      std::cout << request.file() << ": ok (pipeline " << spec.name() << ", " << spec.steps_size()
                << (spec.steps_size() == 1 ? " step" : " steps") << ", " << spec.edges_size()
                << (spec.edges_size() == 1 ? " edge" : " edges") << ")\n";
    }
    return mlcore::Status::Ok();
  });
  AddPipelineRunCommands(pipeline, globals);
}

}  // namespace mlc
