// mlc project create|ls|get|delete
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>

#include "app.h"
#include "mlcore/resources.h"

namespace mlc {
namespace {

struct CreateArgs {
  std::string name;
  std::string description;
  std::string parent;
  std::vector<std::string> labels;
  std::string guaranteed;
  std::string limit;
};

std::vector<std::string> Row(const mlcore::v1::Project& p) {
  return {p.name(),
          p.parent().empty() ? "-" : p.parent(),
          mlcore::FormatResources(p.guaranteed()),
          mlcore::FormatResources(p.limit()),
          Age(p.create_time().seconds()),
          p.description()};
}

const std::vector<std::string> kHeader = {"NAME",  "PARENT", "GUARANTEED",
                                          "LIMIT", "AGE",    "DESCRIPTION"};

mlcore::Status Create(const Globals& globals, const CreateArgs& args) {
  mlcore::v1::Project project;
  project.set_name(args.name);
  project.set_description(args.description);
  project.set_parent(args.parent);
  for (const auto& label : args.labels) {
    auto eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      return mlcore::InvalidArgumentError("invalid label \"" + label + "\"; use KEY=VALUE");
    }
    (*project.mutable_labels())[label.substr(0, eq)] = label.substr(eq + 1);
  }
  MLC_ASSIGN_OR_RETURN(*project.mutable_guaranteed(), mlcore::ParseResources(args.guaranteed));
  MLC_ASSIGN_OR_RETURN(*project.mutable_limit(), mlcore::ParseResources(args.limit));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto created, client->CreateProject(project));
  if (globals.format() == OutputFormat::kTable) {
    std::cout << "project \"" << created.name() << "\" created\n";
  } else {
    PrintMessage(created, globals.format());
  }
  return mlcore::Status::Ok();
}

mlcore::Status List(const Globals& globals, const std::string& parent) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto projects, client->ListAllProjects(parent));
  if (globals.format() != OutputFormat::kTable) {
    mlcore::v1::ListProjectsResponse all;
    for (auto& p : projects) *all.add_projects() = std::move(p);
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  if (projects.empty()) {
    std::cerr << "No projects yet. Create one with: mlc project create NAME\n";
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(projects.size());
  for (const auto& p : projects) rows.push_back(Row(p));
  PrintTable(kHeader, rows);
  return mlcore::Status::Ok();
}

mlcore::Status Get(const Globals& globals, const std::string& name) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto project, client->GetProject(name));
  PrintMessage(project,
               globals.format() == OutputFormat::kJson ? OutputFormat::kJson : OutputFormat::kYaml);
  return mlcore::Status::Ok();
}

}  // namespace

void AddProjectCommands(CLI::App& app, Globals& globals) {
  auto* project = app.add_subcommand("project", "Create, list, describe and delete projects");
  project->alias("projects");
  project->require_subcommand(1);

  static CreateArgs create_args;
  auto* create = project->add_subcommand("create", "Create a project");
  create->add_option("name", create_args.name, "Project name (lowercase letters, digits, '-')")
      ->required();
  create->add_option("-d,--description", create_args.description, "Description");
  create->add_option("--parent", create_args.parent, "Parent project (for a sub-project)");
  create->add_option("-l,--label", create_args.labels, "Label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  create->add_option("--guaranteed", create_args.guaranteed,
                     "Guaranteed quota, e.g. cpu=8,memory=32Gi,gpu=1");
  create->add_option("--limit", create_args.limit, "Limit quota, e.g. cpu=32,memory=128Gi,gpu=4");
  create->footer(
      "Example:\n  mlc project create ml-research --guaranteed cpu=8,memory=32Gi "
      "--limit cpu=32,gpu=4");
  OnRun(create, [&globals] { return Create(globals, create_args); });

  static std::string parent;
  auto* ls = project->add_subcommand("ls", "List projects");
  ls->alias("list");
  ls->add_option("--parent", parent, "Only sub-projects of this project");
  OnRun(ls, [&globals] { return List(globals, parent); });

  static std::string get_name;
  auto* get = project->add_subcommand("get", "Describe a project (YAML, or -o json)");
  get->alias("describe");
  get->add_option("name", get_name, "Project name")->required();
  OnRun(get, [&globals] { return Get(globals, get_name); });

  static std::string delete_name;
  auto* del = project->add_subcommand("delete", "Delete an empty project");
  del->alias("rm");
  del->add_option("name", delete_name, "Project name")->required();
  OnRun(del, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_RETURN_IF_ERROR(client->DeleteProject(delete_name));
    std::cout << "project \"" << delete_name << "\" deleted\n";
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
