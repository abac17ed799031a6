// Metric charts with uPlot: one chart per metric key, one series per run. Histories are read
// downsampled by the server (GetMetricHistory with LTTB, about two points per pixel); zooming in
// (drag on the chart) on the step axis reads the zoomed range again at full resolution, and a
// double click zooms out. A smoothing slider applies a debiased exponential moving average; the x
// axis is the step or the wall-clock time.
import uPlot from "uplot";
import { call, stream } from "./api";
import { debounce, errorBox, h, num } from "./dom";
import type { GetMetricHistoryResponse, MetricSeries, Run } from "./types";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
export const colorOf = (i: number) => PALETTE[i % PALETTE.length];

type Axis = "step" | "time";

interface Series {
  steps: number[];
  times: number[]; // seconds since the epoch
  values: number[];
}

function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return Number(v);
}

async function fetchHistory(runId: string, key: string, maxPoints: number, range: [number, number] | null, signal: AbortSignal): Promise<Series> {
  const req: Record<string, unknown> = {
    runId,
    key,
    downsampling: { method: "DOWNSAMPLING_METHOD_LTTB", maxPoints },
  };
  if (range) {
    req.minStep = String(Math.floor(range[0]));
    req.maxStep = String(Math.ceil(range[1]));
  }
  const resp = await call<GetMetricHistoryResponse>("TrackingService.GetMetricHistory", req, signal);
  return toSeries(resp.series ?? {});
}

function toSeries(s: MetricSeries): Series {
  return {
    steps: (s.steps ?? []).map(num),
    times: (s.timesUnixMicros ?? []).map((t) => num(t) / 1e6),
    values: (s.values ?? []).map(toNumber),
  };
}

const MAX_LIVE_POINTS = 20_000;

// Appends live points; past MAX_LIVE_POINTS every other point of the older half is dropped.
function appendSeries(to: Series, add: Series): Series {
  const out: Series = { steps: to.steps.concat(add.steps), times: to.times.concat(add.times), values: to.values.concat(add.values) };
  if (out.steps.length > MAX_LIVE_POINTS) {
    const half = out.steps.length >> 1;
    const keep = (_: unknown, i: number) => i >= half || i % 2 === 0;
    out.steps = out.steps.filter(keep);
    out.times = out.times.filter(keep);
    out.values = out.values.filter(keep);
  }
  return out;
}

// Debiased EMA (TensorBoard's): weight 0 = raw.
function smooth(values: number[], weight: number): number[] {
  if (weight <= 0) return values;
  const out = new Array<number>(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

// x ascending and unique (the last value of a repeated x wins), as uPlot.join needs.
function column(s: Series, axis: Axis, weight: number): [number[], (number | null)[]] {
  const xs = axis === "step" ? s.steps : s.times;
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b] || a - b);
  const ys = smooth(idx.map((i) => s.values[i]), weight);
  const outX: number[] = [];
  const outY: (number | null)[] = [];
  idx.forEach((i, k) => {
    const x = xs[i];
    const y = Number.isFinite(ys[k]) ? ys[k] : null;
    if (outX.length && outX[outX.length - 1] === x) outY[outY.length - 1] = y;
    else {
      outX.push(x);
      outY.push(y);
    }
  });
  return [outX, outY];
}

function merge(overview: Series, detail: Series, lo: number, hi: number): Series {
  const out: Series = { steps: [], times: [], values: [] };
  const push = (s: Series, keep: (step: number) => boolean) => {
    s.steps.forEach((st, i) => {
      if (!keep(st)) return;
      out.steps.push(st);
      out.times.push(s.times[i]);
      out.values.push(s.values[i]);
    });
  };
  push(overview, (st) => st < lo);
  push(detail, () => true);
  push(overview, (st) => st > hi);
  return out;
}

class MetricChart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private overview: (Series | null)[] = [];
  private shown: (Series | null)[] = [];
  private zoomSeq = 0;

  constructor(
    private readonly key: string,
    private readonly runs: Run[],
    private readonly opts: { axis: Axis; smoothing: number },
    private readonly signal: AbortSignal,
  ) {
    this.el = h("div", { class: "chart", "data-key": key }, h("div", { class: "chart-title" }, key), h("div", { class: "muted" }, "loading…"));
  }

  private width(): number {
    // The chart's own grid cell, less its padding and border.
    return Math.max(300, (this.el.clientWidth || 800) - 14);
  }

  async load(): Promise<void> {
    const maxPoints = Math.min(4000, this.width() * 2);
    const results = await Promise.allSettled(this.runs.map((r) => fetchHistory(r.id ?? "", this.key, maxPoints, null, this.signal)));
    if (this.signal.aborted) return;
    this.overview = results.map((r) => (r.status === "fulfilled" ? r.value : null));
    this.shown = this.overview.slice();
    const errors = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    if (errors.length === results.length && errors.length) {
      this.el.replaceChildren(h("div", { class: "chart-title" }, this.key), errorBox(errors[0].reason));
      return;
    }
    this.draw();
  }

  private data(): uPlot.AlignedData {
    const tables = this.shown.map((s) => {
      if (!s) return [[], []] as unknown as uPlot.AlignedData;
      return column(s, this.opts.axis, this.opts.smoothing) as unknown as uPlot.AlignedData;
    });
    return uPlot.join(tables);
  }

  draw(): void {
    const data = this.data();
    this.plot?.destroy();
    const opts: uPlot.Options = {
      width: this.width(),
      height: 260,
      scales: { x: { time: this.opts.axis === "time" } },
      axes: [{ label: this.opts.axis === "step" ? "step" : undefined }, { size: 60 }],
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: this.opts.axis },
        ...this.runs.map((r, i) => ({
          label: r.name || (r.id ?? "").slice(0, 8),
          stroke: colorOf(i),
          width: 1.5,
          spanGaps: true,
          points: { show: false },
        })),
      ],
      hooks: {
        setScale: [
          (u: uPlot, scaleKey: string) => {
            if (scaleKey === "x" && this.opts.axis === "step") this.onZoom(u.scales.x.min, u.scales.x.max);
          },
        ],
      },
    };
    const holder = h("div", { class: "chart-plot" });
    this.el.replaceChildren(h("div", { class: "chart-title" }, this.key), holder);
    this.plot = new uPlot(opts, data, holder);
    this.mark();
  }

  private onZoom = debounce(async (min: number | undefined, max: number | undefined) => {
    if (min === undefined || max === undefined || !this.plot) return;
    const seq = ++this.zoomSeq;
    const full = this.overview.flatMap((s) => (s && s.steps.length ? [Math.min(...s.steps), Math.max(...s.steps)] : []));
    const lo = Math.min(...full);
    const hi = Math.max(...full);
    if (!(min > lo || max < hi)) {
      // Zoomed out to everything: back to the overview.
      if (this.shown.some((s, i) => s !== this.overview[i])) {
        this.shown = this.overview.slice();
        this.plot.setData(this.data(), false);
      }
      return;
    }
    try {
      const maxPoints = Math.min(4000, this.width() * 2);
      const details = await Promise.all(
        this.runs.map((r, i) => (this.overview[i] ? fetchHistory(r.id ?? "", this.key, maxPoints, [min, max], this.signal) : Promise.resolve(null))),
      );
      if (seq !== this.zoomSeq || !this.plot) return;
      this.shown = this.overview.map((o, i) => (o && details[i] ? merge(o, details[i]!, Math.floor(min), Math.ceil(max)) : o));
      this.plot.setData(this.data(), false);
    } catch {
      // Keep the coarser view.
    }
  }, 250);

  // New points of run `i` from the live watch.
  append(i: number, add: Series): void {
    if (add.steps.length === 0) return;
    const before = this.overview[i];
    this.overview[i] = before ? appendSeries(before, add) : add;
    this.shown[i] = this.shown[i] && this.shown[i] !== before ? appendSeries(this.shown[i]!, add) : this.overview[i];
    if (!this.plot) return;
    const xs = this.plot.data[0];
    const following = xs.length === 0 || (this.plot.scales.x.max ?? Infinity) >= (xs[xs.length - 1] as number);
    this.plot.setData(this.data(), following);
    this.mark();
  }

  // The highest step drawn, for tests and for the eye (data-last-step).
  private mark(): void {
    let last = -Infinity;
    for (const s of this.shown) if (s) for (const st of s.steps) if (st > last) last = st;
    if (Number.isFinite(last)) this.el.dataset.lastStep = String(last);
  }

  resize(): void {
    this.plot?.setSize({ width: this.width(), height: 260 });
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }
}

// A panel of charts: pick keys, the x axis and the smoothing.
export function chartPanel(runs: Run[], keys: string[], signal: AbortSignal, onCleanup: (fn: () => void) => void, initial?: string[]): HTMLElement {
  const opts = { axis: "step" as Axis, smoothing: 0 };
  const charts = new Map<string, MetricChart>();
  const grid = h("div", { class: "charts", id: "charts" });
  const selected = new Set(initial ?? keys.filter((k) => !k.startsWith("system/")).slice(0, 6));

  const sync = () => {
    for (const [k, c] of charts) {
      if (!selected.has(k)) {
        c.destroy();
        c.el.remove();
        charts.delete(k);
      }
    }
    for (const k of keys) {
      if (!selected.has(k) || charts.has(k)) continue;
      const c = new MetricChart(k, runs, opts, signal);
      charts.set(k, c);
      grid.append(c.el);
      void c.load();
    }
    // Keep the key order.
    for (const k of keys) {
      const c = charts.get(k);
      if (c) grid.append(c.el);
    }
  };

  const keyList = h(
    "div",
    { class: "key-list", id: "metric-keys" },
    keys.map((k) => {
      const cb = h("input", { type: "checkbox", checked: selected.has(k), "data-key": k });
      cb.addEventListener("change", () => {
        if (cb.checked) selected.add(k);
        else selected.delete(k);
        sync();
      });
      return h("label", null, cb, " ", k);
    }),
  );
  const axisSel = h("select", { id: "chart-axis" }, h("option", { value: "step" }, "x: step"), h("option", { value: "time" }, "x: time"));
  axisSel.addEventListener("change", () => {
    opts.axis = axisSel.value as Axis;
    for (const c of charts.values()) c.draw();
  });
  const slider = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: "0", id: "chart-smoothing" });
  const sliderVal = h("span", { class: "muted" }, "0");
  const redraw = debounce(() => {
    for (const c of charts.values()) c.draw();
  }, 60);
  slider.addEventListener("input", () => {
    opts.smoothing = Number(slider.value);
    sliderVal.textContent = slider.value;
    redraw();
  });
  const onResize = debounce(() => {
    for (const c of charts.values()) c.resize();
  }, 100);
  window.addEventListener("resize", onResize);
  onCleanup(() => {
    window.removeEventListener("resize", onResize);
    for (const c of charts.values()) c.destroy();
  });

  const legend = h(
    "div",
    { class: "run-legend" },
    runs.map((r, i) => h("span", null, h("span", { class: "swatch", style: { background: colorOf(i) } }), " ", r.name || r.id || "")),
  );
  const panel = h(
    "div",
    { class: "chart-panel" },
    h("div", { class: "chart-controls" }, axisSel, h("label", null, "smoothing ", slider, " ", sliderVal), h("span", { class: "muted" }, "drag to zoom, double-click to reset")),
    legend,
    keys.length ? h("details", { class: "keys", open: keys.length <= 12 }, h("summary", null, `metrics (${keys.length})`), keyList) : h("div", { class: "muted" }, "No metrics logged."),
    grid,
  );
  // Charts need the panel in the document to size themselves.
  requestAnimationFrame(sync);

  // Active runs: new points as they are logged (WatchMetrics over SSE), until the run ends. The
  // charts' histories are read at the same time; a point in both is drawn once.
  runs.forEach((r, i) => {
    const status = String(r.status ?? "");
    if (!r.id || !(status.endsWith("RUNNING") || status.endsWith("SCHEDULED"))) return;
    // From the lowest latest step of the run as it was read, so nothing logged since is missed
    // (points sent twice are drawn once).
    const latest = (r.metrics ?? []).map((m) => num(m.latestStep));
    const afterStep = latest.length ? Math.min(...latest) : -1;
    void stream<{ series?: MetricSeries; runStatus?: string }>(
      "TrackingService.WatchMetrics",
      { runId: r.id, afterStep: String(afterStep) },
      (m) => {
        const key = m.series?.key;
        if (key) charts.get(key)?.append(i, toSeries(m.series!));
      },
      signal,
    ).catch(() => {
      // The charts keep what they have; reloading the page reads the history again.
    });
  });
  return panel;
}
