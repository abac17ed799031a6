// mlc run metrics|compare: metric summaries, one series (table, CSV, JSON, chart), runs side by
// side.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <CLI/CLI.hpp>

#include "app.h"
#include "mlcore/json.h"
#include "plot.h"
#include "tracking_view.h"

namespace mlc {
namespace {

using mlcore::v1::Run;

struct MetricsFlags {
  std::string run;
  std::string key;
  std::optional<int64_t> min_step, max_step;
  std::string downsample;
  int max_points = 0;
  std::string output;  // local -o: table|csv|json|yaml (the global -o knows no csv)
  std::string plot;
  bool log_y = false;
};

mlcore::Status ReportWriteError() {
  return mlcore::InternalError(std::string("cannot write to standard output: ") +
                               std::strerror(errno));
}

// A plot's series from a history (steps as x).
PlotSeries ToPlotSeries(const std::string& name, const mlcore::v1::MetricSeries& series) {
  PlotSeries out;
  out.name = name;
  out.x.assign(series.steps().begin(), series.steps().end());
  out.y.assign(series.values().begin(), series.values().end());
  return out;
}

mlcore::Status Summaries(const Globals& globals, OutputFormat format, const std::string& ref) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(ref));
  if (format != OutputFormat::kTable) {
    Run only;  // the run's id and its summaries
    only.set_id(r.id());
    only.set_name(r.name());
    *only.mutable_metrics() = r.metrics();
    PrintMessage(only, format);
    return mlcore::Status::Ok();
  }
  if (r.metrics_size() == 0) {
    std::cerr << "run " << RunLabel(r) << " has logged no metrics\n";
    return mlcore::Status::Ok();
  }
  PrintMetricSummaryTable(r);
  return mlcore::Status::Ok();
}

mlcore::Status Series(const Globals& globals, const MetricsFlags& f) {
  const std::string output = f.output.empty() ? globals.output : f.output;
  if (f.max_points != 0 && (f.max_points < 4 || f.max_points > 100000)) {
    return mlcore::InvalidArgumentError("--max-points must be 4-100000, got " +
                                        std::to_string(f.max_points));
  }
  mlcore::v1::GetMetricHistoryRequest request;
  request.set_key(f.key);
  if (f.min_step) request.set_min_step(*f.min_step);
  if (f.max_step) request.set_max_step(*f.max_step);
  std::string method = f.downsample;
  if (method.empty() && f.max_points > 0) method = "lttb";  // --max-points alone
  if (method == "lttb") {
    request.mutable_downsampling()->set_method(mlcore::v1::DOWNSAMPLING_METHOD_LTTB);
  } else if (method == "minmax") {
    request.mutable_downsampling()->set_method(mlcore::v1::DOWNSAMPLING_METHOD_MINMAX);
  }
  request.mutable_downsampling()->set_max_points(f.max_points);
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(f.run));
  request.set_run_id(r.id());
  MLC_ASSIGN_OR_RETURN(auto history, ReadMetricHistory(*client, request));
  history.clear_next_page_token();
  const auto& series = history.series();
  if (!f.plot.empty()) {
    PlotOptions options;
    options.title = f.key + " \u2014 run " + RunLabel(r);
    options.y_label = f.key;
    options.log_y = f.log_y;
    MLC_RETURN_IF_ERROR(WritePlot(f.plot, {ToPlotSeries(f.key, series)}, options));
    std::cout << "wrote " << f.plot << " (" << series.steps_size() << " points";
    if (history.total_points() > series.steps_size()) {
      std::cout << " of " << history.total_points();
    }
    std::cout << ")\n";
    return mlcore::Status::Ok();
  }
  if (series.steps_size() == 0) {
    std::cerr << "run " << RunLabel(r) << " holds no points of \"" << f.key << "\""
              << (f.min_step || f.max_step ? " in that step range" : "") << "\n";
  }
  if (output == "csv") {
    if (!WriteSeriesCsv(series, stdout)) return ReportWriteError();
  } else if (output == "json") {
    // Compact: a series may hold millions of points.
    std::string json = mlcore::ToJson(history);
    json += '\n';
    if (std::fwrite(json.data(), 1, json.size(), stdout) != json.size()) return ReportWriteError();
  } else if (output == "yaml") {
    PrintMessage(history, OutputFormat::kYaml);
  } else {
    if (!WriteSeriesTable(series, stdout)) return ReportWriteError();
    if (history.total_points() > series.steps_size()) {
      std::cerr << "(" << series.steps_size() << " of " << history.total_points()
                << " points, downsampled)\n";
    }
  }
  return mlcore::Status::Ok();
}

struct CompareFlags {
  std::vector<std::string> runs;
  std::vector<std::string> metrics;
  std::string plot;
  bool log_y = false;
};

mlcore::Status Compare(const Globals& globals, const CompareFlags& f) {
  MLC_ASSIGN_OR_RETURN(auto client, OpenClient(globals));
  std::vector<Run> runs;
  for (const auto& ref : f.runs) {
    MLC_ASSIGN_OR_RETURN(auto r, client->GetRun(ref));
    runs.push_back(std::move(r));
  }
  // Column titles: names, or name (id) where names repeat or are empty.
  std::map<std::string, int> name_count;
  for (const auto& r : runs) ++name_count[r.name()];
  std::vector<std::string> titles;
  titles.reserve(runs.size());
  for (const auto& r : runs) {
    titles.push_back(!r.name().empty() && name_count[r.name()] == 1 ? r.name() : RunLabel(r));
  }
  if (!f.plot.empty()) {
    if (f.metrics.empty()) {
      return mlcore::InvalidArgumentError("--plot needs the metric to draw: --metric KEY");
    }
    std::vector<PlotSeries> series;
    int64_t points = 0;
    for (const auto& key : f.metrics) {
      for (size_t i = 0; i < runs.size(); ++i) {
        mlcore::v1::GetMetricHistoryRequest request;
        request.set_run_id(runs[i].id());
        request.set_key(key);
        auto history = ReadMetricHistory(*client, request);
        if (history.status().code() == mlcore::StatusCode::kNotFound) {
          std::cerr << "mlc: run " << RunLabel(runs[i]) << " has no metric \"" << key
                    << "\"; left out of the chart\n";
          continue;
        }
        if (!history.ok()) return history.status();
        points += history->series().steps_size();
        series.push_back(ToPlotSeries(f.metrics.size() == 1 ? titles[i] : titles[i] + " " + key,
                                      history->series()));
      }
    }
    PlotOptions options;
    std::string keys;
    for (const auto& k : f.metrics) keys += (keys.empty() ? "" : ", ") + k;
    options.title = keys + " \u2014 " + std::to_string(runs.size()) + " runs";
    options.y_label = f.metrics.size() == 1 ? f.metrics[0] : "";
    options.log_y = f.log_y;
    if (series.empty()) {
      return mlcore::NotFoundError(
          "none of the runs logged " +
          std::string(f.metrics.size() == 1 ? "metric \"" + keys + "\"" : "metrics " + keys));
    }
    MLC_RETURN_IF_ERROR(WritePlot(f.plot, series, options));
    std::cout << "wrote " << f.plot << " (" << series.size() << " series, " << points
              << (points == 1 ? " point)\n" : " points)\n");
    return mlcore::Status::Ok();
  }
  if (globals.format() != OutputFormat::kTable) {
    mlcore::v1::SearchRunsResponse all;
    for (auto& r : runs) *all.add_runs() = r;
    PrintMessage(all, globals.format());
    return mlcore::Status::Ok();
  }
  std::vector<std::string> header = {"", "RUN"};
  header.insert(header.end(), titles.begin(), titles.end());
  std::vector<std::vector<std::string>> rows;
  // A row, marked with * when its values differ between the runs.
  auto add = [&](const std::string& label, std::vector<std::string> values, bool mark) {
    bool differs = false;
    for (const auto& v : values) differs = differs || v != values.front();
    std::vector<std::string> row = {mark && differs ? "*" : "", label};
    row.insert(row.end(), std::make_move_iterator(values.begin()),
               std::make_move_iterator(values.end()));
    rows.push_back(std::move(row));
  };
  std::vector<std::string> ids, statuses, durations;
  for (const auto& r : runs) {
    ids.push_back(r.id());
    statuses.push_back(RunStatusName(r.status()));
    durations.push_back(RunDuration(r));
  }
  add("id", ids, false);
  add("status", statuses, false);
  add("duration", durations, false);
  std::set<std::string> param_keys, metric_keys;
  for (const auto& r : runs) {
    for (const auto& [k, v] : r.params()) param_keys.insert(k);
    for (const auto& m : r.metrics()) {
      if (m.key().rfind("system/", 0) != 0) metric_keys.insert(m.key());
    }
  }
  if (!f.metrics.empty()) metric_keys = std::set<std::string>(f.metrics.begin(), f.metrics.end());
  for (const auto& k : param_keys) {
    std::vector<std::string> values;
    for (const auto& r : runs) {
      auto it = r.params().find(k);
      values.push_back(it == r.params().end() ? "-" : it->second);
    }
    add("params." + k, std::move(values), true);
  }
  for (const auto& k : metric_keys) {
    std::vector<std::string> values;
    for (const auto& r : runs) {
      std::string value = "-";
      for (const auto& m : r.metrics()) {
        if (m.key() == k) value = ShortDouble(m.latest_value());
      }
      values.push_back(value);
    }
    add("metrics." + k, std::move(values), true);
  }
  PrintIndentedTable(header, rows, 0);
  std::cout << "(* marks params and metrics that differ; metrics are the latest values)\n";
  return mlcore::Status::Ok();
}

}  // namespace

void AddRunMetricsCommands(CLI::App* run, Globals& globals) {
  static MetricsFlags mf;
  auto* metrics = run->add_subcommand(
      "metrics", "A run's metric summaries, or one metric's series (table, CSV, JSON, chart)");
  metrics->add_option("run", mf.run, "Run id or name")->required();
  metrics->add_option("key", mf.key, "Metric key: print its points instead of the summaries");
  metrics->add_option("--min-step", mf.min_step, "Only points with step >= N");
  metrics->add_option("--max-step", mf.max_step, "Only points with step <= N");
  metrics
      ->add_option("--downsample", mf.downsample,
                   "lttb (keeps the shape) or minmax (keeps spikes); default: every point")
      ->check(CLI::IsMember({"lttb", "minmax", "none"}));
  metrics->add_option("--max-points", mf.max_points,
                      "Points to keep when downsampling (4-100000; default 1000; implies lttb)");
  metrics->add_option("-o,--output", mf.output, "Output format: table, csv, json or yaml")
      ->check(CLI::IsMember({"table", "csv", "json", "yaml"}));
  metrics->add_option("--plot", mf.plot, "Draw the series as a line chart: out.png or out.svg");
  metrics->add_flag("--log-y", mf.log_y, "Logarithmic y axis (with --plot)");
  metrics->footer(
      "Examples:\n"
      "  mlc run metrics baseline                      # KEY LATEST STEP MIN MAX COUNT\n"
      "  mlc run metrics baseline loss -o csv > loss.csv\n"
      "  mlc run metrics baseline loss --downsample lttb --max-points 500\n"
      "  mlc run metrics baseline loss --plot loss.png");
  OnRun(metrics, [&globals]() -> mlcore::Status {
    if (mf.key.empty()) {
      const std::string output = mf.output.empty() ? globals.output : mf.output;
      if (output == "csv") {
        return mlcore::InvalidArgumentError("-o csv prints one series: give a metric KEY");
      }
      if (!mf.plot.empty()) {
        return mlcore::InvalidArgumentError("--plot draws one series: give a metric KEY");
      }
      Globals as = globals;
      as.output = output;
      return Summaries(globals, as.format(), mf.run);
    }
    return Series(globals, mf);
  });

  static CompareFlags cf;
  auto* compare = run->add_subcommand(
      "compare", "Runs side by side: params (differences marked) and latest metrics, or a chart");
  compare->add_option("runs", cf.runs, "Two or more run ids or names")->required()->expected(2, -1);
  compare
      ->add_option("-m,--metric", cf.metrics,
                   "Only this metric (repeatable); with --plot, the metric to draw")
      ->allow_extra_args(false);
  compare->add_option("--plot", cf.plot, "Draw --metric of every run in one chart (.png, .svg)");
  compare->add_flag("--log-y", cf.log_y, "Logarithmic y axis (with --plot)");
  compare->footer(
      "Examples:\n"
      "  mlc run compare baseline tuned\n"
      "  mlc run compare baseline tuned wide --metric loss --plot loss.png");
  OnRun(compare, [&globals] { return Compare(globals, cf); });
}

}  // namespace mlc
