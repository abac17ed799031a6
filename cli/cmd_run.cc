// mlc run ls|get|params|create|tag|end|delete (metrics and compare: cmd_run_metrics.cc)
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include <CLI/CLI.hpp>
#include <climits>
#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "app.h"
#include "exit_codes.h"
#include "tracking_view.h"

namespace mlc {
namespace {

using google::protobuf::util::TimeUtil;
using mlcore::v1::Run;

// A column of `mlc run ls --columns`: an operand of the filter language.
struct Column {
  std::string header;  // as given: "params.lr"
  enum Kind { kParam, kMetric, kTag, kAttribute } kind = kAttribute;
  std::string key;  // the key, or the attribute name
};

const std::set<std::string>& Attributes() {
  static const std::set<std::string> kAttributes = {
      "id",     "name",          "status",  "user",       "experiment", "experiment_id",
      "job_id", "parent_run_id", "project", "start_time", "end_time",   "duration"};
  return kAttributes;
}

std::string Unquote(const std::string& key) {
  if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'' || key.front() == '`') &&
      key.back() == key.front()) {
    return key.substr(1, key.size() - 2);
  }
  return key;
}

mlcore::Result<std::vector<Column>> ParseColumns(const std::string& text) {
  std::vector<Column> columns;
  if (text == "none") return columns;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(at, comma - at);
    at = comma + 1;
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    Column column;
    column.header = item;
    const auto dot = item.find('.');
    const std::string prefix = dot == std::string::npos ? "" : item.substr(0, dot);
    if (prefix == "params" || prefix == "metrics" || prefix == "tags") {
      column.kind = prefix == "params"    ? Column::kParam
                    : prefix == "metrics" ? Column::kMetric
                                          : Column::kTag;
      column.key = Unquote(item.substr(dot + 1));
    } else if (Attributes().count(item) != 0) {
      column.key = item;
    } else {
      return mlcore::InvalidArgumentError(
          "unknown column \"" + item +
          "\"; use params.KEY, metrics.KEY, tags.KEY or one of id, name, status, user, "
          "experiment, experiment_id, job_id, parent_run_id, project, start_time, end_time, "
          "duration");
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

std::string ColumnValue(const Run& run, const Column& column,
                        const std::map<std::string, std::string>& experiments) {
  switch (column.kind) {
    case Column::kParam: {
      auto it = run.params().find(column.key);
      return it == run.params().end() ? "-" : it->second;
    }
    case Column::kTag: {
      auto it = run.tags().find(column.key);
      return it == run.tags().end() ? "-" : it->second;
    }
    case Column::kMetric:
      for (const auto& m : run.metrics()) {
        if (m.key() == column.key) return ShortDouble(m.latest_value());
      }
      return "-";
    case Column::kAttribute:
      break;
  }
  const std::string& a = column.key;
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  if (a == "id") return run.id();
  if (a == "name") return or_dash(run.name());
  if (a == "status") return RunStatusName(run.status());
  if (a == "user") return or_dash(run.user());
  if (a == "experiment") {
    auto it = experiments.find(run.experiment_id());
    return it == experiments.end() ? run.experiment_id() : it->second;
  }
  if (a == "experiment_id") return run.experiment_id();
  if (a == "job_id") return or_dash(run.job_id());
  if (a == "parent_run_id") return or_dash(run.parent_run_id());
  if (a == "project") return run.project();
  if (a == "start_time") return run.has_start_time() ? TimeUtil::ToString(run.start_time()) : "-";
  if (a == "end_time") return run.has_end_time() ? TimeUtil::ToString(run.end_time()) : "-";
  if (a == "duration") return RunDuration(run);
  return "-";
}

// Without --columns: up to three metric keys (not system/), the most common among the runs.
std::vector<Column> DefaultColumns(const mlcore::v1::SearchRunsResponse& runs) {
  std::map<std::string, int> count;
  for (const auto& r : runs.runs()) {
    for (const auto& m : r.metrics()) {
      if (m.key().rfind("system/", 0) != 0) ++count[m.key()];
    }
  }
  std::vector<std::pair<std::string, int>> keys(count.begin(), count.end());
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<Column> columns;
  for (size_t i = 0; i < keys.size() && i < 3; ++i) {
    columns.push_back({"metrics." + keys[i].first, Column::kMetric, keys[i].first});
  }
  return columns;
}

struct ListFlags {
  std::vector<std::string> experiments;
  std::string filter;
  std::vector<std::string> order_by;
  int limit = 100;
  bool all_pages = false;
  std::string columns;
};

mlcore::Status List(const Globals& globals, const ListFlags& f) {
  if (f.limit <= 0) return mlcore::InvalidArgumentError("--limit must be positive");
  MLC_ASSIGN_OR_RETURN(auto columns, ParseColumns(f.columns));
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  mlcore::v1::SearchRunsRequest request;
  for (const auto& e : f.experiments) {
    MLC_ASSIGN_OR_RETURN(auto id, ResolveExperimentId(*client, e));
    request.add_experiment_ids(id);
  }
  request.set_filter(f.filter);
  for (const auto& o : f.order_by) request.add_order_by(o);
  const bool table = globals.format() == OutputFormat::kTable;
  bool metrics = !table || f.columns.empty();
  for (const auto& c : columns) metrics = metrics || c.kind == Column::kMetric;
  request.set_include_metrics(metrics);
  const int limit = f.all_pages ? INT_MAX : f.limit;
  mlcore::v1::SearchRunsResponse all;
  do {
    request.set_page_size(std::min(1000, limit - all.runs_size()));
    auto page = client->SearchRuns(request);
    if (!page.ok()) return ReportQueryError(page.status(), f.filter, f.order_by);
    for (auto& r : *page->mutable_runs()) {
      if (all.runs_size() >= limit) break;
      *all.add_runs() = std::move(r);
    }
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty() && all.runs_size() < limit);
  all.set_next_page_token(request.page_token());
  if (!table) {
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  if (all.runs_size() == 0) {
    std::cerr << "No runs" << (f.filter.empty() ? "" : " match the filter")
              << (f.experiments.empty() ? "" : " in those experiments")
              << ". Log one with mlcore.start_run() in Python, or: mlc run create NAME\n";
    return mlcore::Status::Ok();
  }
  if (f.columns.empty()) columns = DefaultColumns(all);
  std::map<std::string, std::string> experiments;
  const bool show_experiment = f.experiments.size() != 1;
  if (show_experiment) {
    MLC_ASSIGN_OR_RETURN(experiments, ExperimentNames(*client));
  }
  std::vector<std::string> header = {"ID", "NAME", "STATUS"};
  if (show_experiment) header.emplace_back("EXPERIMENT");
  header.insert(header.end(), {"START", "DURATION"});
  for (const auto& c : columns) header.push_back(c.header);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(all.runs_size());
  const Column experiment_column{"", Column::kAttribute, "experiment"};
  for (const auto& r : all.runs()) {
    std::vector<std::string> row = {r.id(), r.name().empty() ? "-" : r.name(),
                                    RunStatusName(r.status())};
    if (show_experiment) row.push_back(ColumnValue(r, experiment_column, experiments));
    row.push_back(Ago(r.start_time()));
    row.push_back(RunDuration(r));
    for (const auto& c : columns) row.push_back(ColumnValue(r, c, experiments));
    rows.push_back(std::move(row));
  }
  PrintIndentedTable(header, rows, 0);
  if (!all.next_page_token().empty()) {
    std::cerr << "(the first " << all.runs_size() << " runs; more with --limit N or --all-pages)\n";
  }
  return mlcore::Status::Ok();
}

void PrintRunDescription(mlcore::Client& client, const Run& r) {
  auto line = [](const std::string& key, const std::string& value) {
    if (!value.empty())
      std::cout << key << ":" << std::string(13 - key.size(), ' ') << value << "\n";
  };
  line("name", r.name());
  line("id", r.id());
  line("project", r.project());
  mlcore::v1::GetExperimentRequest get;
  get.set_id(r.experiment_id());
  auto experiment = client.GetExperiment(get);
  line("experiment",
       experiment.ok() ? experiment->name() + " (" + r.experiment_id() + ")" : r.experiment_id());
  line("status", RunStatusName(r.status()));
  line("user", r.user());
  if (r.has_start_time()) {
    line("started", TimeUtil::ToString(r.start_time()) + " (" + Ago(r.start_time()) + ")");
  }
  if (r.has_end_time()) line("ended", TimeUtil::ToString(r.end_time()));
  line("duration", RunDuration(r) == "-" ? "" : RunDuration(r));
  line("job", r.job_id());
  line("parent", r.parent_run_id());
  const auto& src = r.source();
  if (!src.git_commit().empty()) {
    line("git", src.git_commit().substr(0, 12) + (src.git_dirty() ? " (dirty)" : "") +
                    (src.git_branch().empty() ? "" : " on " + src.git_branch()) +
                    (src.git_remote().empty() ? "" : ", " + src.git_remote()));
  }
  line("entry point", src.entry_point());
  auto pairs = [](const char* title, const google::protobuf::Map<std::string, std::string>& map) {
    if (map.empty()) return;
    std::cout << title << ":\n";
    std::map<std::string, std::string> sorted(map.begin(), map.end());
    std::vector<std::vector<std::string>> rows;
    rows.reserve(sorted.size());
    for (const auto& [k, v] : sorted) rows.push_back({k, v});
    PrintIndentedTable({}, rows, 2);
  };
  pairs("params", r.params());
  pairs("tags", r.tags());
  if (r.metrics_size() > 0) {
    std::cout << "metrics:\n";
    PrintMetricSummaryTable(r, 2);
  }
}

// Asks on the terminal; false when the answer is not yes.
bool Confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int64_t PointCount(const Run& run) {
  int64_t points = 0;
  for (const auto& m : run.metrics()) points += m.count();
  return points;
}

std::string TagList(const Run& run) {
  std::map<std::string, std::string> sorted(run.tags().begin(), run.tags().end());
  std::string out;
  for (const auto& [k, v] : sorted) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return out;
}

struct CreateFlags {
  std::string name;
  std::string experiment;
  std::string parent;
  std::vector<std::string> params;
  std::vector<std::string> tags;
  bool quiet = false;
};

mlcore::Status Create(const Globals& globals, const CreateFlags& f) {
  mlcore::v1::CreateRunRequest request;
  Run* run = request.mutable_run();
  run->set_name(f.name);
  run->set_experiment_id(f.experiment);
  for (const auto& p : f.params) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitKeyValue(p, "--param", &k, &v));
    (*run->mutable_params())[k] = v;
  }
  for (const auto& t : f.tags) {
    std::string k, v;
    MLC_RETURN_IF_ERROR(SplitKeyValue(t, "--tag", &k, &v));
    (*run->mutable_tags())[k] = v;
  }
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  if (!f.parent.empty()) {
    MLC_ASSIGN_OR_RETURN(auto parent, client->GetRun(f.parent));
    run->set_parent_run_id(parent.id());
  }
  MLC_ASSIGN_OR_RETURN(auto created, client->CreateRun(request));
  if (globals.format() != OutputFormat::kTable) {
    PrintMessage(created, globals.format());
  } else if (f.quiet) {
    std::cout << created.id() << "\n";
  } else {
    mlcore::v1::GetExperimentRequest get;
    get.set_id(created.experiment_id());
    auto experiment = client->GetExperiment(get);
    std::cout << "run " << RunLabel(created) << " created in experiment "
              << (experiment.ok() ? experiment->name() : created.experiment_id()) << " of project "
              << created.project() << ": " << RunStatusName(created.status()) << "\n";
  }
  return mlcore::Status::Ok();
}

}  // namespace

void AddRunCommands(CLI::App& app, Globals& globals) {
  auto* run = app.add_subcommand("run", "List, inspect, compare and manage tracking runs");
  run->alias("runs");
  run->require_subcommand(1);
  run->footer(
      "RUN is a run id (r + 12 hex digits) or a name unique in the project.\n"
      "Examples:\n"
      "  mlc run ls --filter 'params.lr < 0.01 and metrics.val_loss < 0.3' "
      "--order-by 'metrics.val_loss asc'\n"
      "  mlc run get baseline\n"
      "  mlc run metrics baseline loss --plot loss.png\n"
      "  mlc run compare baseline tuned --metric loss");

  static ListFlags list_flags;
  auto* ls = run->add_subcommand("ls", "Find runs: filter, sort, page");
  ls->alias("list");
  ls->add_option("-e,--experiment", list_flags.experiments,
                 "Only runs of this experiment, by name or id (repeatable)")
      ->allow_extra_args(false);
  ls->add_option("-f,--filter", list_flags.filter,
                 "Filter, e.g. 'params.lr < 0.01 and metrics.loss < 0.3 and tags.team = \"a\"' "
                 "(see docs/cli.md)");
  ls->add_option("--order-by", list_flags.order_by,
                 "Sort key, e.g. 'metrics.loss asc' (repeatable; default start_time desc)")
      ->allow_extra_args(false);
  ls->add_option("--limit", list_flags.limit, "At most this many runs (default 100)");
  ls->add_flag("--all-pages", list_flags.all_pages, "Every matching run, however many");
  ls->add_option("-c,--columns", list_flags.columns,
                 "Extra columns, e.g. params.lr,metrics.loss,tags.team,user (default: up to 3 "
                 "metrics; 'none' for none)");
  OnRun(ls, [&globals] { return List(globals, list_flags); });

  static std::string get_ref;
  auto* get = run->add_subcommand(
      "get", "Describe a run: status, times, source, params, tags, metric summaries");
  get->alias("describe");
  get->add_option("run", get_ref, "Run id or name")->required();
  OnRun(get, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(get_ref));
    if (globals.format() == OutputFormat::kTable) {
      PrintRunDescription(*client, r);
    } else {
      PrintMessage(r, globals.format());
    }
    return mlcore::Status::Ok();
  });

  static std::string params_ref;
  auto* params = run->add_subcommand("params", "A run's params (KEY VALUE)");
  params->add_option("run", params_ref, "Run id or name")->required();
  OnRun(params, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(params_ref));
    std::map<std::string, std::string> sorted(r.params().begin(), r.params().end());
    if (globals.format() != OutputFormat::kTable) {
      PrintJsonText(nlohmann::json{{"runId", r.id()}, {"params", sorted}}.dump(), globals.format());
      return mlcore::Status::Ok();
    }
    if (sorted.empty()) {
      std::cerr << "run " << RunLabel(r) << " has no params\n";
      return mlcore::Status::Ok();
    }
    std::vector<std::vector<std::string>> rows;
    rows.reserve(sorted.size());
    for (const auto& [k, v] : sorted) rows.push_back({k, v});
    PrintIndentedTable({"KEY", "VALUE"}, rows, 0);
    return mlcore::Status::Ok();
  });

  AddRunMetricsCommands(run, globals);  // metrics, compare

  static CreateFlags create_flags;
  auto* create = run->add_subcommand(
      "create", "Create a RUNNING run (for scripts; end it with `mlc run end`)");
  create->add_option("name", create_flags.name, "Display name (default: generated)");
  create->add_option("-e,--experiment", create_flags.experiment,
                     "Experiment name or id (default: \"default\"; a new name is created)");
  create->add_option("--parent", create_flags.parent, "Parent run id or name (nested runs)");
  create->add_option("--param", create_flags.params, "Param KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  create->add_option("--tag", create_flags.tags, "Tag KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  create->add_flag("-q,--quiet", create_flags.quiet, "Print only the new run's id");
  OnRun(create, [&globals] { return Create(globals, create_flags); });

  static std::string tag_ref;
  static std::vector<std::string> tag_set, tag_remove;
  auto* tag = run->add_subcommand("tag", "Set (KEY=VALUE) and remove (--remove KEY) run tags");
  tag->add_option("run", tag_ref, "Run id or name")->required();
  tag->add_option("tags", tag_set, "Tags to set, KEY=VALUE");
  tag->add_option("--remove", tag_remove, "Tag key to remove (repeatable)")
      ->allow_extra_args(false);
  OnRun(tag, [&globals]() -> mlcore::Status {
    if (tag_set.empty() && tag_remove.empty()) {
      return mlcore::InvalidArgumentError("nothing to do: give KEY=VALUE tags or --remove KEY");
    }
    mlcore::v1::SetRunTagsRequest request;
    for (const auto& t : tag_set) {
      std::string k, v;
      MLC_RETURN_IF_ERROR(SplitKeyValue(t, "tag", &k, &v));
      (*request.mutable_set())[k] = v;
    }
    for (const auto& k : tag_remove) request.add_remove(k);
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(tag_ref));
    request.set_id(r.id());
    MLC_ASSIGN_OR_RETURN(r, client->SetRunTags(request));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(r, globals.format());
    } else {
      std::cout << "run " << RunLabel(r) << " tags: " << (r.tags().empty() ? "none" : TagList(r))
                << "\n";
    }
    return mlcore::Status::Ok();
  });

  static std::string end_ref, end_status = "finished";
  auto* end = run->add_subcommand("end", "End an active run (status FINISHED by default)");
  end->add_option("run", end_ref, "Run id or name")->required();
  end->add_option("--status", end_status, "finished, failed or killed")
      ->check(CLI::IsMember({"finished", "failed", "killed"}, CLI::ignore_case));
  OnRun(end, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto status, ParseRunStatus(end_status));
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(end_ref));
    mlcore::v1::UpdateRunRequest request;
    request.set_id(r.id());
    request.set_status(status);
    MLC_ASSIGN_OR_RETURN(r, client->UpdateRun(request));
    if (globals.format() != OutputFormat::kTable) {
      PrintMessage(r, globals.format());
    } else {
      std::cout << "run " << RunLabel(r) << " " << RunStatusName(r.status()) << " after "
                << RunDuration(r) << "\n";
    }
    return mlcore::Status::Ok();
  });

  static std::vector<std::string> delete_refs;
  static bool delete_yes = false;
  auto* del = run->add_subcommand(
      "delete", "Delete runs with their metrics (asks first on a terminal; --yes in scripts)");
  del->alias("rm");
  del->add_option("runs", delete_refs, "Run ids or names")->required();
  del->add_flag("-y,--yes", delete_yes, "Delete without asking");
  OnRun(del, [&globals]() -> mlcore::Status {
    MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
    std::vector<Run> runs;
    for (const auto& ref : delete_refs) {
      MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(ref));
      runs.push_back(std::move(r));
    }
    if (!delete_yes) {
      std::string what =
          runs.size() == 1 ? "run " + RunLabel(runs[0]) : std::to_string(runs.size()) + " runs";
      if (!::isatty(STDIN_FILENO)) {
        return mlcore::InvalidArgumentError("not deleting " + what +
                                            " without confirmation: pass --yes (stdin is not a "
                                            "terminal to ask on)");
      }
      int64_t points = 0;
      for (const auto& r : runs) points += PointCount(r);
      if (!Confirm("Delete " + what + " and " + std::to_string(points) + " metric points?")) {
        std::cerr << "nothing deleted\n";
        CommandExitCode() = kExitCancelled;
        return mlcore::Status::Ok();
      }
    }
    for (const auto& r : runs) {
      MLC_RETURN_IF_ERROR(client->DeleteRun(r.id()));
      std::cout << "run " << RunLabel(r) << " deleted (" << r.metrics_size() << " metric keys, "
                << PointCount(r) << " points)\n";
    }
    return mlcore::Status::Ok();
  });
}

}  // namespace mlc
