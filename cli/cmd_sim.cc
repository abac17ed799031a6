// mlc sim TRACE: replays a job trace on simulated nodes through the scheduling core.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>

#include "app.h"
#include "mlcore/resources.h"
#include "mlcore/scheduling.h"

namespace mlc {
namespace {

struct SimArgs {
  std::string trace;
  int nodes = 0;
  std::string node_flavor;
  std::string node_resources;
  std::string world;
  std::string placement = "best-fit";
  double pass_interval_s = 0;
  double horizon_s = 0;
  std::string json_out;
  std::string plot_out;
};

std::string Seconds(const google::protobuf::Duration& d) {
  int64_t s = d.seconds();
  char buf[64];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 7200) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

std::string Percent(double f) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", f * 100);
  return buf;
}

mlcore::Result<std::string> ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!st.ok()) return mlcore::InternalError("cannot render JSON: " + st.ToString());
  return out;
}

mlcore::Status Run(const Globals& globals, const SimArgs& args) {
  mlcore::v1::SimulateRequest request;
  auto* config = request.mutable_config();
  if (!args.world.empty()) {
    std::ifstream in(args.world);
    if (!in) return mlcore::NotFoundError("cannot open world file " + args.world);
    std::stringstream text;
    text << in.rdbuf();
    google::protobuf::util::JsonParseOptions options;
    auto st = google::protobuf::util::JsonStringToMessage(text.str(), config, options);
    if (!st.ok()) {
      return mlcore::InvalidArgumentError(
          args.world + ": not a SimulationConfig in JSON: " + std::string(st.message()));
    }
  }
  if (args.nodes > 0) {
    mlcore::v1::Resources capacity;
    if (!args.node_flavor.empty()) {
      const auto catalog = config->catalog().flavors_size() > 0
                               ? config->catalog()
                               : mlcore::DefaultFlavorCatalog("sim");
      MLC_ASSIGN_OR_RETURN(capacity, mlcore::ResolveFlavor(catalog, args.node_flavor));
    } else {
      MLC_ASSIGN_OR_RETURN(capacity, mlcore::ParseResources(args.node_resources.empty()
                                                                ? "cpu=128,memory=1536Gi,gpu=8"
                                                                : args.node_resources));
    }
    for (auto& n : mlcore::MakeNodes(args.nodes, capacity, "node"))
      *config->add_nodes() = std::move(n);
  }
  if (config->nodes_size() == 0) {
    return mlcore::InvalidArgumentError(
        "no nodes to simulate; pass --nodes N (and --node-flavor "
        "or --node-resources) or a --world file with nodes");
  }
  if (args.placement == "first-fit") {
    config->mutable_scheduler()->set_placement(mlcore::v1::PLACEMENT_POLICY_FIRST_FIT);
  }
  if (args.pass_interval_s > 0) {
    config->mutable_pass_interval()->set_seconds(static_cast<int64_t>(args.pass_interval_s));
  }
  if (args.horizon_s > 0)
    request.mutable_horizon()->set_seconds(static_cast<int64_t>(args.horizon_s));
  MLC_ASSIGN_OR_RETURN(auto trace, mlcore::LoadTrace(args.trace));
  for (auto& r : trace) *request.add_trace() = std::move(r);
  request.set_include_timeline(!args.json_out.empty() || !args.plot_out.empty());
  MLC_ASSIGN_OR_RETURN(auto response, mlcore::RunSimulation(request));

  std::string json_path = args.json_out;
  if (!args.json_out.empty() || !args.plot_out.empty()) {
    if (json_path.empty()) json_path = args.plot_out + ".json";
    MLC_ASSIGN_OR_RETURN(std::string json, ToJson(response));
    std::ofstream out(json_path);
    out << json << "\n";
    if (!out) return mlcore::UnavailableError("cannot write " + json_path);
  }
  if (!args.plot_out.empty()) {
    // Plotting lives in the Python layer (matplotlib); the CLI only hands it the JSON summary.
    std::string cmd = "python3 -m mlcore.sim_plot '" + json_path + "' '" + args.plot_out + "'";
    if (std::system(cmd.c_str()) != 0) {
      return mlcore::FailedPreconditionError("plotting failed (" + cmd +
                                             "); install the Python package and matplotlib "
                                             "(pip install matplotlib), or plot " +
                                             json_path + " yourself");
    }
  }

  const auto& s = response.summary();
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(s, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "nodes " << s.nodes() << ", jobs " << s.jobs_submitted() << ": completed "
            << s.jobs_completed() << ", never started " << s.jobs_never_started()
            << ", preemptions " << s.preemptions() << ", deadline misses " << s.deadline_misses()
            << ", quota violations " << s.quota_violations() << "\n"
            << "utilization: cpu " << Percent(s.mean_cpu_utilization()) << ", memory "
            << Percent(s.mean_memory_utilization()) << ", gpu " << Percent(s.mean_gpu_utilization())
            << "; max queue " << s.max_queue_length() << "; makespan " << Seconds(s.makespan())
            << "; " << s.passes() << " passes in "
            << s.wall_time().seconds() * 1000 + s.wall_time().nanos() / 1000000 << " ms\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : s.wait_stats()) {
    rows.push_back({w.project(), std::to_string(w.jobs_started()), Seconds(w.p50()),
                    Seconds(w.p90()), Seconds(w.p99()), Seconds(w.max_wait())});
  }
  PrintTable({"PROJECT", "STARTED", "WAIT P50", "P90", "P99", "MAX"}, rows);
  for (const auto& v : s.violation_examples()) std::cerr << "violation: " << v << "\n";
  if (!json_path.empty()) std::cerr << "summary written to " << json_path << "\n";
  if (!args.plot_out.empty()) std::cerr << "plot written to " << args.plot_out << "\n";
  return mlcore::Status::Ok();
}

}  // namespace

void AddSimCommand(CLI::App& app, Globals& globals) {
  static SimArgs args;
  auto* sim = app.add_subcommand(
      "sim", "Replay a job trace (CSV or JSONL) on simulated nodes through the scheduler");
  sim->add_option("trace", args.trace, "Trace file: .csv, or .jsonl (one job per line)")
      ->required();
  sim->add_option("--nodes", args.nodes, "Number of identical simulated nodes");
  sim->add_option("--node-flavor", args.node_flavor,
                  "Node shape from the flavor catalog, e.g. gpu-8-96-1024");
  sim->add_option("--node-resources", args.node_resources,
                  "Node shape, e.g. cpu=128,memory=1536Gi,gpu=8 (the default)");
  sim->add_option("--world", args.world,
                  "SimulationConfig as JSON: nodes, projects with quotas, priority classes, "
                  "catalog, scheduler tunables");
  sim->add_option("--placement", args.placement, "Placement policy")
      ->check(CLI::IsMember({"best-fit", "first-fit"}));
  sim->add_option("--pass-interval", args.pass_interval_s, "Seconds between passes (default 10)");
  sim->add_option("--horizon", args.horizon_s, "Stop after this many simulated seconds");
  sim->add_option("--json", args.json_out, "Write the summary and timeline as JSON here");
  sim->add_option("--plot", args.plot_out,
                  "Write a PNG of utilization and queue length over time (needs matplotlib)");
  sim->footer(
      "Examples:\n"
      "  python3 examples/gen_trace.py --seed 1 --jobs 30000 > day.csv\n"
      "  mlc sim day.csv --nodes 120 --node-flavor gpu-8-96-1024 --json day.json --plot day.png\n"
      "  mlc sim examples/traces/sample.csv --nodes 4 -o json");
  OnRun(sim, [&globals] { return Run(globals, args); });
}

}  // namespace mlc
