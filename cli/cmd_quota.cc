// mlc quota, mlc flavor ls, mlc node ls
#include <iostream>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/jobs.h"
#include "mlcore/resources.h"

namespace mlc {
namespace {

// "3/8" style for one resource: used / limit ("-" for no limit).
std::string Of(int64_t used, int64_t limit, bool bytes, bool cpu) {
  auto fmt = [&](int64_t v) {
    if (bytes) return mlcore::FormatBytes(v);
    if (cpu) {
      return v % 1000 == 0 ? std::to_string(v / 1000) : std::to_string(v) + "m";
    }
    return std::to_string(v);
  };
  return fmt(used) + "/" + (limit > 0 ? fmt(limit) : "-");
}

}  // namespace

void AddQuotaCommands(CLI::App& app, Globals& globals) {
  static bool per_user = false;
  static std::string only_user;
  auto* quota = app.add_subcommand("quota", "Each project's guaranteed and limit quota and usage");
  quota->add_flag("--users", per_user, "Also show usage per user");
  quota->add_option("-u,--user", only_user, "Only this user's usage");
  quota->footer("Columns: used/limit per resource (running jobs), guaranteed quota, jobs.");
  OnRun(quota, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    mlcore::v1::GetQuotaUsageRequest request;
    request.set_project(globals.project);
    request.set_include_sub_projects(!globals.project.empty());
    request.set_per_user(per_user || !only_user.empty());
    request.set_user(only_user);
    MLC_ASSIGN_OR_RETURN(auto response, client->GetQuotaUsage(request));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(response, globals.format());
      return mlcore::Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& u : response.usages()) {
      rows.push_back({u.project(), Of(u.used().cpu_millis(), u.limit().cpu_millis(), false, true),
                      Of(u.used().memory_bytes(), u.limit().memory_bytes(), true, false),
                      Of(u.used().gpu(), u.limit().gpu(), false, false),
                      mlcore::FormatResources(u.guaranteed()), std::to_string(u.running_jobs()),
                      std::to_string(u.pending_jobs())});
      for (const auto& user : u.users()) {
        rows.push_back({"  " + user.user(), mlcore::FormatResources(user.used()), "", "", "",
                        std::to_string(user.running_jobs()), std::to_string(user.pending_jobs())});
      }
    }
    if (rows.empty()) {
      std::cerr << "No projects yet. Create one with: mlc project create NAME\n";
      return mlcore::Status::Ok();
    }
    PrintTable({"PROJECT", "CPU", "MEMORY", "GPU", "GUARANTEED", "RUNNING", "PENDING"}, rows);
    return mlcore::Status::Ok();
  });

  auto* flavor = app.add_subcommand("flavor", "The flavors (CPU/GPU/RAM shapes) jobs can ask for");
  flavor->alias("flavors");
  flavor->require_subcommand(1);
  auto* flavor_ls = flavor->add_subcommand("ls", "List flavors");
  OnRun(flavor_ls, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto response, client->ListFlavors());
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(response, globals.format());
      return mlcore::Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& catalog : response.catalogs()) {
      for (const auto& f : catalog.flavors()) {
        std::string notes;
        if (f.name() == catalog.default_flavor()) notes = "default";
        if (f.name() == catalog.test_flavor()) notes += notes.empty() ? "test" : ", test";
        rows.push_back({f.name(), catalog.region(), mlcore::FormatResources(f.resources()), notes});
      }
    }
    PrintTable({"NAME", "REGION", "RESOURCES", "NOTES"}, rows);
    return mlcore::Status::Ok();
  });

  auto* node = app.add_subcommand("node", "The machines jobs run on");
  node->alias("nodes");
  node->require_subcommand(1);
  auto* node_ls = node->add_subcommand("ls", "List nodes and their capacity");
  OnRun(node_ls, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto response, client->ListNodes());
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(response, globals.format());
      return mlcore::Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : response.nodes()) {
      rows.push_back({n.name(), n.region(), mlcore::FormatResources(n.capacity())});
    }
    PrintTable({"NAME", "REGION", "CAPACITY"}, rows);
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
