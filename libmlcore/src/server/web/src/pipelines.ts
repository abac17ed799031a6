// Pipeline runs: the project's runs, and one run's steps as a layered DAG (boxes coloured by
// state, edges from the spec's data edges and depends_on); a click on a step shows its jobs, runs,
// artifacts and metrics. The page polls while the run is active.
import { call, listAll } from "./api";
import { currentProject, navigate, type PageCtx } from "./app";
import { enumName, fmtDuration, fmtTime, fmtValue, fill, h, parseTime, stateBadge, svg } from "./dom";
import type { IoValue, PipelineRun, StepRun } from "./types";

const enc = encodeURIComponent;
const ACTIVE = new Set(["PENDING", "RUNNING", "CANCELLING"]);

export async function renderPipelines(ctx: PageCtx): Promise<void> {
  const project = currentProject();
  const runs = await listAll<PipelineRun>("PipelineService.ListPipelineRuns", { project }, "runs", undefined, ctx.signal, 5000);
  fill(ctx.root, 
    h("div", { class: "page-head" }, h("h2", null, "Pipeline runs in ", project), h("span", { class: "muted" }, `${runs.length} runs`)),
    runs.length
      ? h(
          "table",
          { class: "grid clickable", id: "pipelines-table" },
          h("thead", null, h("tr", null, ["pipeline", "run", "state", "steps", "user", "created", "duration", "failed step"].map((c) => h("th", null, c)))),
          h(
            "tbody",
            null,
            runs.map((r) => {
              const href = `#/pipelines/${enc(r.id ?? "")}?project=${enc(project)}`;
              const done = (r.steps ?? []).filter((s) => ["SUCCEEDED", "CACHED", "SKIPPED"].includes(enumName(s.state, "STEP_STATE_"))).length;
              const start = parseTime(r.startTime ?? r.createTime);
              return h(
                "tr",
                { "data-id": r.id ?? "", onclick: () => navigate(href) },
                h("td", null, h("a", { href }, r.spec?.name ?? "")),
                h("td", null, h("code", null, (r.id ?? "").slice(0, 12))),
                h("td", null, stateBadge(enumName(r.state, "PIPELINE_RUN_STATE_"))),
                h("td", null, `${done}/${(r.steps ?? []).length}`),
                h("td", null, r.user ?? ""),
                h("td", null, fmtTime(r.createTime)),
                h("td", null, start ? fmtDuration((parseTime(r.endTime) ?? Date.now()) - start) : ""),
                h("td", null, r.failedStep ?? ""),
              );
            }),
          ),
        )
      : h("p", { class: "muted" }, "No pipeline runs. Start one with ", h("code", null, "mlc pipeline run FLOW.yaml"), "."),
  );
}

interface Layout {
  nodes: Map<string, { x: number; y: number; layer: number }>;
  edges: [string, string][];
  width: number;
  height: number;
}

const BOX_W = 170;
const BOX_H = 46;
const GAP_X = 70;
const GAP_Y = 22;

// Layers by longest path from a source; within a layer, ordered by the mean position of the
// predecessors (one barycenter sweep), which untangles the usual fan-out / fan-in shapes.
export function layoutDag(names: string[], edgeList: [string, string][]): Layout {
  const known = new Set(names);
  const edges = [...new Map(edgeList.filter(([a, b]) => known.has(a) && known.has(b) && a !== b).map((e) => [`${e[0]}\u0000${e[1]}`, e])).values()];
  const preds = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const [a, b] of edges) preds.get(b)!.push(a);
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (n: string): number => {
    if (layer.has(n)) return layer.get(n)!;
    if (visiting.has(n)) return 0; // a cycle (the linter refuses them): break it
    visiting.add(n);
    const d = Math.max(-1, ...preds.get(n)!.map(depth)) + 1;
    visiting.delete(n);
    layer.set(n, d);
    return d;
  };
  names.forEach(depth);
  const layers: string[][] = [];
  for (const n of names) (layers[layer.get(n)!] ??= []).push(n);
  const pos = new Map<string, number>();
  layers.forEach((l, li) => {
    if (li > 0) {
      const bary = (n: string) => {
        const p = preds.get(n)!.filter((x) => pos.has(x));
        return p.length ? p.reduce((s, x) => s + pos.get(x)!, 0) / p.length : Number.MAX_SAFE_INTEGER;
      };
      l.sort((a, b) => bary(a) - bary(b));
    }
    l.forEach((n, i) => pos.set(n, i));
  });
  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const nodes = new Map<string, { x: number; y: number; layer: number }>();
  layers.forEach((l, li) => {
    const offset = ((tallest - l.length) * (BOX_H + GAP_Y)) / 2;
    l.forEach((n, i) => nodes.set(n, { x: 10 + li * (BOX_W + GAP_X), y: 10 + offset + i * (BOX_H + GAP_Y), layer: li }));
  });
  return { nodes, edges, width: 20 + layers.length * (BOX_W + GAP_X) - GAP_X, height: 20 + tallest * (BOX_H + GAP_Y) - GAP_Y };
}

// A step's state over its iterations (parallel_for): the "worst" one wins.
const RANK = ["FAILED", "UPSTREAM_FAILED", "CANCELLED", "RUNNING", "PENDING", "SKIPPED", "CACHED", "SUCCEEDED", "UNSPECIFIED"];
function stepState(runs: StepRun[]): string {
  const states = runs.map((r) => enumName(r.state, "STEP_STATE_"));
  if (states.length === 0) return "PENDING";
  return RANK.find((s) => states.includes(s)) ?? states[0];
}

function ioValue(v: IoValue, project: string): HTMLElement {
  const type = enumName(v.type, "IO_TYPE_").toLowerCase();
  let value: Node | string = "";
  if (v.artifactId) value = h("code", { title: v.manifestDigest ?? "" }, `artifact ${v.artifactId}`);
  else if (v.dataset?.uri) value = v.dataset.uri;
  else if (v.metrics && Object.keys(v.metrics).length)
    value = Object.entries(v.metrics)
      .map(([k, x]) => `${k}=${fmtValue(Number(x))}`)
      .join("  ");
  else if (v.parameterJson) value = h("code", null, v.parameterJson);
  void project;
  return h("tr", null, h("th", null, v.name ?? ""), h("td", { class: "muted" }, type), h("td", null, value));
}

function stepDetails(name: string, runs: StepRun[], project: string): HTMLElement {
  return h(
    "div",
    { class: "panel", id: "step-details" },
    h("h3", null, "Step ", name),
    runs.length === 0 ? h("div", { class: "muted" }, "not started") : null,
    runs.map((r) => {
      const start = parseTime(r.startTime);
      return h(
        "div",
        { class: "step-run" },
        h(
          "div",
          null,
          stateBadge(enumName(r.state, "STEP_STATE_")),
          r.iteration !== undefined && r.iteration !== null ? ` iteration ${r.iteration}` : "",
          r.jobId ? [" · job ", h("a", { href: `#/jobs/${enc(r.jobId)}?project=${enc(project)}` }, r.jobId)] : "",
          r.runId ? [" · run ", h("a", { href: `#/runs/${enc(r.runId)}?project=${enc(project)}` }, r.runId)] : "",
          r.cachedFromJobId ? [" · cached from ", h("a", { href: `#/jobs/${enc(r.cachedFromJobId)}?project=${enc(project)}` }, r.cachedFromJobId)] : "",
          start ? ` · ${fmtTime(r.startTime)} (${fmtDuration((parseTime(r.endTime) ?? Date.now()) - start)})` : "",
        ),
        r.message ? h("div", { class: "error" }, r.message) : null,
        (r.inputs ?? []).length ? h("table", { class: "kv io" }, h("caption", null, "inputs"), (r.inputs ?? []).map((v) => ioValue(v, project))) : null,
        (r.outputs ?? []).length ? h("table", { class: "kv io" }, h("caption", null, "outputs"), (r.outputs ?? []).map((v) => ioValue(v, project))) : null,
      );
    }),
  );
}

export async function renderPipeline(ctx: PageCtx): Promise<void> {
  const { root, signal } = ctx;
  const id = ctx.params[0];
  let run = await call<PipelineRun>("PipelineService.GetPipelineRun", { id }, signal);
  const project = run.project ?? currentProject();
  let selected: string | null = null;
  const graph = h("div", { class: "dag-holder" });
  const details = h("div");
  const head = h("div", { class: "page-head" });

  const draw = () => {
    const spec = run.spec ?? {};
    const steps = [...(spec.steps ?? [])];
    const names = steps.map((s) => s.name ?? "");
    const edges: [string, string][] = [
      ...(spec.edges ?? []).filter((e) => e.sourceStep && e.targetStep).map((e) => [e.sourceStep!, e.targetStep!] as [string, string]),
      ...steps.flatMap((s) => (s.dependsOn ?? []).map((d) => [d, s.name ?? ""] as [string, string])),
    ];
    // Steps that ran but are not in the spec (should not happen) still show.
    for (const sr of run.steps ?? []) if (sr.step && !names.includes(sr.step)) names.push(sr.step);
    const exit = spec.exitHandler?.name;
    if (exit && !names.includes(exit)) {
      names.push(exit);
      for (const n of names) if (n !== exit && !edges.some(([a]) => a === n)) edges.push([n, exit]);
    }
    const runsOf = (n: string) => (run.steps ?? []).filter((s) => s.step === n);
    const layout = layoutDag(names, edges);
    const root2 = svg("svg", { width: layout.width, height: layout.height, class: "dag", id: "pipeline-dag" });
    root2.append(
      svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "dag-arrow" }))),
    );
    for (const [a, b] of layout.edges) {
      const p = layout.nodes.get(a)!;
      const q = layout.nodes.get(b)!;
      const x1 = p.x + BOX_W;
      const y1 = p.y + BOX_H / 2;
      const x2 = q.x;
      const y2 = q.y + BOX_H / 2;
      const mx = (x1 + x2) / 2;
      root2.append(svg("path", { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, class: "dag-edge", "marker-end": "url(#arrow)" }));
    }
    for (const n of names) {
      const p = layout.nodes.get(n)!;
      const srs = runsOf(n);
      const st = stepState(srs);
      const label = n.length > 22 ? n.slice(0, 21) + "…" : n;
      const sub = srs.length > 1 ? `${st.toLowerCase()} · ${srs.length} iterations` : st.toLowerCase();
      const g = svg(
        "g",
        { class: `dag-node st-${st.toLowerCase()}${selected === n ? " selected" : ""}`, transform: `translate(${p.x},${p.y})`, "data-step": n, tabindex: "0" },
        svg("title", {}, `${n}: ${st}`),
        svg("rect", { width: BOX_W, height: BOX_H, rx: 6 }),
        svg("text", { x: 10, y: 19, class: "dag-name" }, label),
        svg("text", { x: 10, y: 36, class: "dag-state" }, sub),
      );
      g.addEventListener("click", () => {
        selected = n;
        draw();
      });
      root2.append(g);
    }
    fill(graph, root2);
    fill(details, selected ? stepDetails(selected, runsOf(selected), project) : h("p", { class: "muted" }, "Click a step for its jobs, artifacts and metrics."));
    const st = enumName(run.state, "PIPELINE_RUN_STATE_");
    fill(head, 
      h("h2", null, h("a", { class: "crumb", href: `#/pipelines?project=${enc(project)}` }, "pipelines"), " / ", spec.name ?? "", " ", h("code", null, (run.id ?? "").slice(0, 12))),
      h("span", { id: "pipeline-state" }, stateBadge(st)),
      run.message ? h("span", { class: st === "FAILED" ? "error inline" : "muted" }, run.message) : null,
    );
  };

  const outputs = run.outputs ?? [];
  fill(root, 
    head,
    h(
      "div",
      { class: "panel" },
      h("table", { class: "kv" }, [
        ["user", run.user ?? ""],
        ["created", fmtTime(run.createTime)],
        ["ended", fmtTime(run.endTime)],
        ["inputs", Object.entries(run.inputValues ?? {}).map(([k, v]) => `${k}=${v}`).join("  ")],
      ].filter(([, v]) => v).map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v)))),
      run.runId ? h("div", null, "tracking run ", h("a", { href: `#/runs/${enc(run.runId)}?project=${enc(project)}` }, run.runId)) : null,
    ),
    h("div", { class: "panel dag-panel" }, graph),
    details,
    outputs.length ? h("div", { class: "panel" }, h("h3", null, "Outputs"), h("table", { class: "kv io" }, outputs.map((v) => ioValue(v, project)))) : null,
  );
  draw();

  const timer = setInterval(async () => {
    if (!ACTIVE.has(enumName(run.state, "PIPELINE_RUN_STATE_"))) return;
    try {
      run = await call<PipelineRun>("PipelineService.GetPipelineRun", { id }, signal);
      draw();
    } catch {
      // Keep what is shown.
    }
  }, 3000);
  ctx.onCleanup(() => clearInterval(timer));
}
