// Runs: a table of the project's runs with their params and latest metrics as columns, filtered by
// the search rpc's filter language (`params.lr < 0.01 and metrics.loss < 0.3`); runs selected by
// their checkboxes open the comparison (charts of every metric, one series per run, and the
// params side by side). One run's page has its params, tags, metric summaries and charts.
import { call, listAll } from "./api";
import { currentProject, navigate, type PageCtx } from "./app";
import { chartPanel, colorOf } from "./charts";
import { enumName, errorBox, fmtDuration, fmtTime, fmtValue, h, num, parseTime, stateBadge } from "./dom";
import { renderArtifacts } from "./job";
import type { Artifact, Run } from "./types";
import { VirtualTable, type Column } from "./vtable";

const MAX_PARAM_COLUMNS = 12;
const MAX_METRIC_COLUMNS = 12;

function runStatus(r: Run): string {
  return enumName(r.status, "RUN_STATUS_");
}

function metricOf(r: Run, key: string): number | undefined {
  const m = r.metrics?.find((x) => x.key === key);
  return m ? Number(m.latestValue) : undefined;
}

// Keys by how many runs have them, most first.
function topKeys(lists: string[][], limit: number): string[] {
  const counts = new Map<string, number>();
  for (const l of lists) for (const k of l) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit).map((e) => e[0]).sort();
}

export async function renderRuns(ctx: PageCtx): Promise<void> {
  const project = currentProject();
  const { root, signal } = ctx;
  const selected = new Set<string>((ctx.query.get("selected") ?? "").split(",").filter(Boolean));
  const filter = h("input", {
    id: "run-filter",
    type: "search",
    value: ctx.query.get("filter") ?? "",
    placeholder: 'filter, e.g. params.lr < 0.01 and metrics.loss < 0.3 and status = "FINISHED"',
  });
  const order = h("input", { id: "run-order", type: "text", value: ctx.query.get("order") ?? "", placeholder: "order by, e.g. metrics.loss asc" });
  const status = h("span", { class: "muted", id: "runs-status" });
  const compare = h("button", { id: "compare-runs", disabled: true }, "Compare");
  const holder = h("div", { class: "runs-table-holder" });
  const updateCompare = () => {
    compare.disabled = selected.size === 0;
    compare.textContent = selected.size ? `Compare ${selected.size} run${selected.size > 1 ? "s" : ""}` : "Compare";
  };
  compare.addEventListener("click", () => navigate(`#/compare?project=${encodeURIComponent(project)}&runs=${[...selected].map(encodeURIComponent).join(",")}`));

  let seq = 0;
  const search = async () => {
    const mine = ++seq;
    status.textContent = "searching…";
    const t0 = performance.now();
    try {
      const runs = await listAll<Run>(
        "TrackingService.SearchRuns",
        { project, filter: filter.value.trim(), orderBy: order.value.trim() ? [order.value.trim()] : [], includeMetrics: true },
        "runs",
        undefined,
        signal,
        20_000,
      );
      if (mine !== seq) return;
      status.textContent = `${runs.length} runs in ${Math.round(performance.now() - t0)} ms`;
      holder.replaceChildren(runsTable(runs, project, selected, updateCompare, !order.value.trim()).el);
      const q = new URLSearchParams({ project });
      if (filter.value.trim()) q.set("filter", filter.value.trim());
      if (order.value.trim()) q.set("order", order.value.trim());
      history.replaceState(null, "", `#/runs?${q}`);
    } catch (e) {
      if (signal.aborted || mine !== seq) return;
      status.textContent = "";
      holder.replaceChildren(errorBox(e));
    }
  };
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void search();
      },
    },
    filter,
    order,
    h("button", { type: "submit", id: "run-search" }, "Search"),
    compare,
  );
  root.replaceChildren(h("div", { class: "page-head" }, h("h2", null, "Runs in ", project), status), form, holder);
  updateCompare();
  await search();
}

function runsTable(runs: Run[], project: string, selected: Set<string>, onSelect: () => void, defaultSort: boolean): VirtualTable<Run> {
  const params = topKeys(runs.map((r) => Object.keys(r.params ?? {})), MAX_PARAM_COLUMNS);
  const metrics = topKeys(runs.map((r) => (r.metrics ?? []).map((m) => m.key ?? "").filter((k) => !k.startsWith("system/"))), MAX_METRIC_COLUMNS);
  const numOrText = (v: string | undefined) => (v !== undefined && v !== "" && !Number.isNaN(Number(v)) ? Number(v) : (v ?? ""));
  const columns: Column<Run>[] = [
    {
      key: "name",
      label: "run",
      width: "minmax(9rem, 1.5fr)",
      value: (r) => r.name ?? "",
      render: (r) => h("a", { href: `#/runs/${encodeURIComponent(r.id ?? "")}?project=${encodeURIComponent(project)}` }, r.name || r.id || ""),
    },
    { key: "status", label: "status", width: "6.5rem", value: runStatus, render: (r) => stateBadge(runStatus(r)) },
    { key: "user", label: "user", width: "6rem", value: (r) => r.user ?? "" },
    { key: "start", label: "started", width: "13rem", value: (r) => parseTime(r.startTime) ?? 0, render: (r) => fmtTime(r.startTime) },
    {
      key: "duration",
      label: "duration",
      width: "5.5rem",
      value: (r) => ((parseTime(r.endTime) ?? Date.now()) - (parseTime(r.startTime) ?? Date.now())),
      render: (r) => (parseTime(r.startTime) ? fmtDuration((parseTime(r.endTime) ?? Date.now()) - (parseTime(r.startTime) ?? 0)) : ""),
    },
    ...params.map<Column<Run>>((p) => ({
      key: `params.${p}`,
      label: p,
      width: "minmax(5rem, 1fr)",
      value: (r) => numOrText(r.params?.[p]),
      render: (r) => r.params?.[p] ?? "",
      className: () => "param",
    })),
    ...metrics.map<Column<Run>>((m) => ({
      key: `metrics.${m}`,
      label: m,
      width: "minmax(5rem, 1fr)",
      value: (r) => metricOf(r, m) ?? -Infinity,
      render: (r) => fmtValue(metricOf(r, m)),
      className: () => "metric num",
    })),
  ];
  const table = new VirtualTable<Run>({
    id: "runs-table",
    columns,
    rowId: (r) => r.id ?? "",
    empty: "No runs match.",
    rowPrefix: (r) => {
      const cb = h("input", { type: "checkbox", class: "run-select", checked: selected.has(r.id ?? ""), title: "select to compare" });
      cb.addEventListener("change", () => {
        if (cb.checked) selected.add(r.id ?? "");
        else selected.delete(r.id ?? "");
        onSelect();
      });
      return cb;
    },
    onRowClick: (r) => navigate(`#/runs/${encodeURIComponent(r.id ?? "")}?project=${encodeURIComponent(project)}`),
  });
  if (defaultSort) table.sortBy("start", -1);
  table.setRows(runs);
  return table;
}

export async function renderRun(ctx: PageCtx): Promise<void> {
  const { root, signal } = ctx;
  const run = await call<Run>("TrackingService.GetRun", { id: ctx.params[0] }, signal);
  const project = run.project ?? currentProject();
  const st = runStatus(run);
  const metrics = [...(run.metrics ?? [])].sort((a, b) => (a.key ?? "").localeCompare(b.key ?? ""));
  const keys = metrics.map((m) => m.key ?? "");
  const src = run.source;
  const kv = (rows: [string, string | Node | undefined][]) =>
    h("table", { class: "kv" }, rows.filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v!))));
  const pairs = (m: Record<string, string> | undefined) =>
    Object.keys(m ?? {}).length
      ? h("table", { class: "kv" }, Object.entries(m ?? {}).sort().map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v))))
      : h("div", { class: "muted" }, "none");
  const artifacts = h("div", { class: "panel" }, h("h3", null, "Artifacts"), h("div", { class: "muted" }, "loading…"));
  root.replaceChildren(
    h(
      "div",
      { class: "page-head" },
      h("h2", null, h("a", { class: "crumb", href: `#/runs?project=${encodeURIComponent(project)}` }, "runs"), " / ", h("span", { id: "run-name" }, run.name || run.id || "")),
      stateBadge(st),
    ),
    h(
      "div",
      { class: "job-grid" },
      h(
        "div",
        { class: "panel" },
        h("h3", null, "Run"),
        kv([
          ["id", run.id],
          ["user", run.user],
          ["started", fmtTime(run.startTime)],
          ["ended", fmtTime(run.endTime)],
          ["job", run.jobId ? h("a", { href: `#/jobs/${encodeURIComponent(run.jobId)}?project=${encodeURIComponent(project)}` }, run.jobId) : undefined],
          ["parent", run.parentRunId ? h("a", { href: `#/runs/${encodeURIComponent(run.parentRunId)}?project=${encodeURIComponent(project)}` }, run.parentRunId) : undefined],
          ["git", src?.gitCommit ? `${src.gitCommit.slice(0, 12)}${src.gitDirty ? " (dirty)" : ""}` : undefined],
          ["entry point", src?.entryPoint],
        ]),
      ),
      h("div", { class: "panel" }, h("h3", null, "Params"), pairs(run.params)),
      h("div", { class: "panel" }, h("h3", null, "Tags"), pairs(run.tags)),
      h(
        "div",
        { class: "panel" },
        h("h3", null, "Metrics"),
        metrics.length
          ? h(
              "table",
              { class: "grid", id: "run-metrics" },
              h("thead", null, h("tr", null, ["key", "latest", "step", "min", "max", "points"].map((c) => h("th", null, c)))),
              h(
                "tbody",
                null,
                metrics.map((m) =>
                  h(
                    "tr",
                    null,
                    h("td", null, m.key ?? ""),
                    h("td", { class: "num" }, fmtValue(Number(m.latestValue))),
                    h("td", { class: "num" }, String(num(m.latestStep))),
                    h("td", { class: "num" }, fmtValue(Number(m.minValue))),
                    h("td", { class: "num" }, fmtValue(Number(m.maxValue))),
                    h("td", { class: "num" }, String(num(m.count))),
                  ),
                ),
              ),
            )
          : h("div", { class: "muted" }, "none"),
      ),
      artifacts,
    ),
    h("div", { class: "panel" }, h("h3", null, "Charts"), chartPanel([run], keys, signal, ctx.onCleanup)),
  );
  try {
    const list = await listAll<Artifact>("ArtifactService.ListArtifacts", { project, owner: { kind: "OBJECT_KIND_RUN", id: run.id } }, "artifacts", undefined, signal);
    artifacts.replaceChildren(h("h3", null, "Artifacts"), renderArtifacts(list));
  } catch (e) {
    if (!signal.aborted) artifacts.replaceChildren(h("h3", null, "Artifacts"), errorBox(e));
  }
}

export async function renderCompare(ctx: PageCtx): Promise<void> {
  const { root, signal } = ctx;
  const project = currentProject();
  const ids = (ctx.query.get("runs") ?? "").split(",").filter(Boolean);
  if (ids.length === 0) {
    root.replaceChildren(h("p", null, "Select runs to compare on the ", h("a", { href: `#/runs?project=${encodeURIComponent(project)}` }, "runs page"), "."));
    return;
  }
  const runs = await Promise.all(ids.map((id) => call<Run>("TrackingService.GetRun", { id }, signal)));
  const keys = [...new Set(runs.flatMap((r) => (r.metrics ?? []).map((m) => m.key ?? "")))].sort();
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params ?? {})))].sort();
  const differs = (k: string) => new Set(runs.map((r) => r.params?.[k] ?? "")).size > 1;
  const params = h(
    "table",
    { class: "grid compare-params" },
    h("thead", null, h("tr", null, h("th", null, "param"), runs.map((r, i) => h("th", null, h("span", { class: "swatch", style: { background: colorOf(i) } }), " ", r.name || r.id || "")))),
    h(
      "tbody",
      null,
      paramKeys.map((k) => h("tr", { class: differs(k) ? "differs" : "" }, h("th", null, k), runs.map((r) => h("td", null, r.params?.[k] ?? "")))),
    ),
  );
  root.replaceChildren(
    h("div", { class: "page-head" }, h("h2", null, h("a", { class: "crumb", href: `#/runs?project=${encodeURIComponent(project)}` }, "runs"), ` / comparing ${runs.length} runs`)),
    h("div", { class: "panel" }, h("h3", null, "Params"), paramKeys.length ? params : h("div", { class: "muted" }, "none")),
    h("div", { class: "panel" }, h("h3", null, "Charts"), chartPanel(runs, keys, signal, ctx.onCleanup)),
  );
}
