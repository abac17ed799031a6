// mlc exp ls|create|get, mlc sync, mlc gc, mlc tracking-policy get|set
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app.h"
#include "exit_codes.h"
#include "mlcore/jobs.h"
#include "mlcore/tracking.h"
#include "tracking_view.h"

namespace mlc {
namespace {

std::string Plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// --- mlc exp ---

mlcore::Status ListExperiments(const Globals& globals) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::ListExperimentsResponse all;
  mlcore::v1::ListExperimentsRequest request;
  request.set_page_size(1000);
  do {
    MLC_ASSIGN_OR_RETURN(auto page, client->ListExperiments(request));
    for (auto& e : *page.mutable_experiments()) *all.add_experiments() = std::move(e);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : all.experiments()) {
    rows.push_back(
        {e.name(), e.id(), std::to_string(e.run_count()), Ago(e.create_time()), e.description()});
  }
  PrintIndentedTable({"NAME", "ID", "RUNS", "CREATED", "DESCRIPTION"}, rows, 0);
  return mlcore::Status::Ok();
}

struct ExperimentFlags {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
};

mlcore::Status CreateExperiment(const Globals& globals, const ExperimentFlags& f) {
  mlcore::v1::Experiment experiment;
  experiment.set_name(f.name);
  experiment.set_description(f.description);
  for (const auto& t : f.tags) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitKeyValue(t, "--tag", &k, &v));
    (*experiment.mutable_tags())[k] = v;
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto created, client->CreateExperiment(experiment));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(created, globals.format());
  } else {
    std::cout << "experiment \"" << created.name() << "\" (" << created.id()
              << ") created in project " << created.project() << "\n";
  }
  return mlcore::Status::Ok();
}

// --- mlc sync ---

mlcore::Status Sync(const Globals& globals, const std::string& spool_dir) {
  const std::string dir = spool_dir.empty() ? mlcore::DefaultSpoolDir() : spool_dir;
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto report, mlcore::SyncSpool(*client, dir));
  for (const auto& e : report.errors) std::cerr << "mlc: sync: " << e << "\n";
  if (globals.format() != OutputFormat::kTable) {
    nlohmann::json out = {{"spoolDir", dir},
                          {"files", report.files},
                          {"runsCreated", report.runs_created},
                          {"batchesSent", report.batches_sent},
                          {"duplicates", report.duplicates},
                          {"points", report.points},
                          {"filesLeft", report.files_left},
                          {"errors", report.errors}};
    PrintJsonText(out.dump(), globals.format());
  } else if (report.files == 0 && report.files_left == 0) {
    std::cout << "nothing to sync in " << dir << "\n";
  } else {
    std::cout << "synced " << Plural(report.files, "file", "files") << ": "
              << Plural(report.runs_created, "run created", "runs created") << ", "
              << Plural(report.batches_sent + report.duplicates, "batch", "batches") << " ("
              << report.duplicates << " already applied), "
              << Plural(report.points, "point", "points") << "; "
              << Plural(report.files_left, "file left", "files left") << "\n";
  }
  if (report.files_left > 0) {
    std::cerr << "mlc: " << Plural(report.files_left, "spool file", "spool files") << " kept in "
              << dir << "; run `mlc sync` again once the errors above are fixed\n";
    CommandExitCode() = kExitUnavailable;
  }
  return mlcore::Status::Ok();
}

// --- mlc tracking-policy, mlc gc ---

std::string DescribeRetention(const mlcore::v1::RetentionPolicy& r) {
  if (r.max_age().seconds() <= 0 && r.max_age().nanos() <= 0) return "none (data kept forever)";
  std::string what;
  if (r.delete_metrics()) what = "metrics";
  if (r.delete_artifacts()) what += (what.empty() ? "" : " and ") + std::string("artifacts");
  if (what.empty()) what = "nothing (neither metrics nor artifacts selected)";
  // Whole days as days ("30d"), the rest as FormatDurationText does ("720h" reads poorly).
  const auto& age = r.max_age();
  const std::string age_text = age.nanos() == 0 && age.seconds() % 86400 == 0
                                   ? std::to_string(age.seconds() / 86400) + "d"
                                   : mlcore::FormatDurationText(age);
  return what + " of runs ended over " + age_text + " ago, except runs tagged \"" +
         (r.keep_tag().empty() ? "keep" : r.keep_tag()) + "\"";
}

void PrintPolicy(const mlcore::v1::TrackingPolicy& p, OutputFormat format) {
  if (format != OutputFormat::kTable) {
    PrintMessage(p, format);
    return;
  }
  auto line = [](const std::string& key, const std::string& value) {
    std::cout << key << ":" << std::string(19 - key.size(), ' ') << value << "\n";
  };
  line("project", p.project());
  line("max points/s",
       p.max_points_per_second() == 0 ? "unlimited" : std::to_string(p.max_points_per_second()));
  line("max stored bytes",
       p.max_stored_bytes() == 0 ? "unlimited" : HumanBytes(p.max_stored_bytes()));
  std::string stored = HumanBytes(p.stored_bytes());
  if (p.max_stored_bytes() > 0) {
    char pct[32];
    std::snprintf(
        pct, sizeof pct, " (%.1f%% of the limit)",
        100.0 * static_cast<double>(p.stored_bytes()) / static_cast<double>(p.max_stored_bytes()));
    stored += pct;
  }
  line("stored", stored);
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.1f", p.recent_points_per_second());
  line("recent points/s", rate);
  line("retention", DescribeRetention(p.retention()));
}

struct PolicyFlags {
  std::optional<int64_t> max_points_per_second;
  std::string max_stored_bytes;
  std::string max_age;
  std::optional<std::string> keep_tag;
  std::optional<bool> delete_metrics, delete_artifacts;
};

// Applies the flags given to `policy`. A retention age with neither metrics nor artifacts
// selected selects metrics (otherwise it would delete nothing).
mlcore::Status ApplyPolicyFlags(const PolicyFlags& f, mlcore::v1::TrackingPolicy* policy) {
  if (f.max_points_per_second) {
    if (*f.max_points_per_second < 0) {
      return mlcore::InvalidArgumentError("--max-points-per-second cannot be negative");
    }
    policy->set_max_points_per_second(*f.max_points_per_second);
  }
  if (!f.max_stored_bytes.empty()) {
    MLC_ASSIGN_OR_RETURN(auto bytes, ParseByteSize(f.max_stored_bytes));
    policy->set_max_stored_bytes(bytes);
  }
  auto* retention = policy->mutable_retention();
  if (!f.max_age.empty()) {
    MLC_ASSIGN_OR_RETURN(*retention->mutable_max_age(), mlcore::ParseDurationText(f.max_age));
  }
  if (f.keep_tag) retention->set_keep_tag(*f.keep_tag);
  if (f.delete_metrics) retention->set_delete_metrics(*f.delete_metrics);
  if (f.delete_artifacts) retention->set_delete_artifacts(*f.delete_artifacts);
  if (!f.max_age.empty() && !f.delete_metrics && !retention->delete_metrics() &&
      !retention->delete_artifacts()) {
    retention->set_delete_metrics(true);
  }
  return mlcore::Status::Ok();
}

struct GcFlags {
  bool dry_run = false;
  std::string max_age;
  std::optional<std::string> keep_tag;
};

mlcore::Status Gc(const Globals& globals, const GcFlags& f) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto policy, client->GetTrackingPolicy(globals.project));
  const mlcore::v1::TrackingPolicy previous = policy;
  const bool change = !f.max_age.empty() || f.keep_tag;
  if (change) {
    PolicyFlags flags;
    flags.max_age = f.max_age;
    flags.keep_tag = f.keep_tag;
    if (!f.max_age.empty()) flags.delete_metrics = true;
    MLC_RETURN_IF_ERROR(ApplyPolicyFlags(flags, &policy));
    MLC_ASSIGN_OR_RETURN(policy, client->UpdateTrackingPolicy(policy));
  }
  mlcore::v1::ApplyRetentionRequest request;
  request.set_project(policy.project());
  request.set_dry_run(f.dry_run);
  auto applied = client->ApplyRetention(request);
  if (change && f.dry_run) {
    // A dry run changes nothing, the policy included.
    MLC_RETURN_IF_ERROR(client->UpdateTrackingPolicy(previous).status());
  }
  if (!applied.ok()) return applied.status();
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(*applied, globals.format());
    return mlcore::Status::Ok();
  }
  std::cout << "retention of project " << policy.project() << ": "
            << DescribeRetention(policy.retention()) << "\n";
  const auto& a = *applied;
  std::string what = Plural(a.points_deleted(), "metric point", "metric points");
  if (a.artifacts_deleted() > 0)
    what += " and " + Plural(a.artifacts_deleted(), "artifact", "artifacts");
  what += " of " + Plural(a.runs_affected(), "run", "runs");
  if (f.dry_run) {
    std::cout << "would delete " << what << ", freeing " << HumanBytes(a.bytes_freed())
              << " (dry run: nothing deleted)\n";
  } else {
    std::cout << "deleted " << what << "; freed " << HumanBytes(a.bytes_freed()) << "\n";
  }
  return mlcore::Status::Ok();
}

void AddPolicyFlags(CLI::App* cmd, PolicyFlags* f) {
  cmd->add_option("--max-points-per-second", f->max_points_per_second,
                  "Sustained ingest rate limit of the project (0 = unlimited)");
  cmd->add_option("--max-stored-bytes", f->max_stored_bytes,
                  "Metric storage limit, e.g. 10Gi, 500Mi, 1G (0 = unlimited)");
  cmd->add_option("--max-age", f->max_age,
                  "Retention: runs that ended longer ago lose their data, e.g. 30d (0 = never)");
  cmd->add_option("--keep-tag", f->keep_tag,
                  "Retention: runs with this tag are kept (default keep)");
  cmd->add_option("--delete-metrics", f->delete_metrics,
                  "Retention deletes metric points (true/false; --max-age turns it on when "
                  "nothing is selected)");
  cmd->add_option("--delete-artifacts", f->delete_artifacts,
                  "Retention deletes artifacts (true/false)");
}

}  // namespace

void AddTrackingCommands(CLI::App& app, Globals& globals) {
  auto* exp = app.add_subcommand("exp", "Create and list experiments (named groups of runs)");
  exp->alias("experiment");
  exp->alias("experiments");
  exp->require_subcommand(1);

  auto* ls = exp->add_subcommand("ls", "List the project's experiments");
  ls->alias("list");
  OnRun(ls, [&globals] { return ListExperiments(globals); });

  static ExperimentFlags create_flags;
  auto* create = exp->add_subcommand("create", "Create an experiment");
  create->add_option("name", create_flags.name, "Name, unique in the project")->required();
  create->add_option("-d,--description", create_flags.description, "Description");
  create->add_option("--tag", create_flags.tags, "Tag KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  OnRun(create, [&globals] { return CreateExperiment(globals, create_flags); });

  static std::string get_ref;
  auto* get = exp->add_subcommand("get", "Describe an experiment (YAML, or -o json)");
  get->alias("describe");
  get->add_option("experiment", get_ref, "Experiment name or id")->required();
  OnRun(get, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto id, ResolveExperimentId(*client, get_ref));
    mlcore::v1::GetExperimentRequest request;
    request.set_id(id);
    MLC_ASSIGN_OR_RETURN(auto e, client->GetExperiment(request));
    PrintMessage(
        e, globals.format() == OutputFormat::kJson ? OutputFormat::kJson : OutputFormat::kYaml);
    return mlcore::Status::Ok();
  });

  static std::string spool_dir;
  auto* sync = app.add_subcommand(
      "sync", "Upload what offline or unreachable runs left in the spool, exactly once");
  sync->add_option("--spool-dir", spool_dir,
                   "Spool directory (default: MLC_SPOOL_DIR, else ~/.local/share/mlcore/spool)");
  OnRun(sync, [&globals] { return Sync(globals, spool_dir); });

  static GcFlags gc_flags;
  auto* gc = app.add_subcommand(
      "gc", "Apply the project's retention policy now: delete old runs' metrics");
  gc->add_flag("--dry-run", gc_flags.dry_run, "Report what would be deleted; change nothing");
  gc->add_option("--max-age", gc_flags.max_age,
                 "First set the retention age (e.g. 30d; also selects metrics for deletion)");
  gc->add_option("--keep-tag", gc_flags.keep_tag,
                 "First set the tag that protects runs from retention (default keep)");
  gc->footer(
      "Examples:\n"
      "  mlc gc --max-age 30d --dry-run\n"
      "  mlc gc -p ml-research --max-age 90d --keep-tag keep");
  OnRun(gc, [&globals] { return Gc(globals, gc_flags); });

  auto* policy = app.add_subcommand("tracking-policy",
                                    "Show or change the project's tracking limits and retention");
  policy->require_subcommand(1);
  auto* policy_get = policy->add_subcommand("get", "Limits, retention and current usage");
  OnRun(policy_get, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto p, client->GetTrackingPolicy(globals.project));
    PrintPolicy(p, globals.format());
    return mlcore::Status::Ok();
  });
  static PolicyFlags policy_flags;
  auto* policy_set = policy->add_subcommand(
      "set", "Change the given limits and retention settings (the others are kept)");
  AddPolicyFlags(policy_set, &policy_flags);
  policy_set->footer(
      "Example:\n"
      "  mlc tracking-policy set --max-points-per-second 50000 --max-stored-bytes 10Gi "
      "--max-age 30d");
  OnRun(policy_set, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto p, client->GetTrackingPolicy(globals.project));
    MLC_RETURN_IF_ERROR(ApplyPolicyFlags(policy_flags, &p));
    MLC_ASSIGN_OR_RETURN(p, client->UpdateTrackingPolicy(p));
    PrintPolicy(p, globals.format());
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
