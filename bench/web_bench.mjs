// Web UI benchmarks (issue 12), measured in the browser against a real `mlc server --http`:
//
//   web.jobs.first_render_10k   a fresh page opened on #/jobs?project=bulk, a project holding
//                               10,000 real PENDING jobs: ms from navigation start until the first
//                               table rows are in the DOM. Peer: the same page on a project of 100
//                               jobs (the ratio is how render time scales with 100x the jobs).
//   web.chart.first_render_1m   a fresh page opened on #/runs/RUN_ID, a run with one metric of
//                               1,000,000 points: ms from navigation start until the metric's
//                               uPlot canvas has been drawn. Peer: the same with 1,000 points.
//
// Target: under 1 s each (median). Every run is a new browser context (no cache, no state),
// logged in by putting the token in localStorage before the app's script runs; the times are
// performance.now() in the page, so they count from navigation start: the app's download and
// start, its API calls and the rendering. One warm-up run of each (ours, peer) is discarded; then
// ours and the peer alternate (A B A B ...). Also reported in `params` (medians): the time until
// all jobs are loaded (`#jobs-status` says "N jobs, loaded") and how many were; app_loaded_ms,
// when the page and app.js had loaded and run (DOMContentLoaded), the fixed cost of opening any
// page; in_app_ms, the same first render after an in-app navigation (a hash change from another
// page of the loaded app, as tests/web/e2e.test.mjs measures it).
//
// Signals, taken in the page by an init script (no change to the UI):
//   rows    a MutationObserver sees `#jobs-table .vt-window .vt-row`;
//   loaded  `#jobs-status` reads "N jobs, loaded in ...";
//   chart   the first CanvasRenderingContext2D.stroke() on a canvas inside `.chart[data-key=K]`,
//           recorded in a microtask after it: uPlot paints a frame synchronously in one commit,
//           so that microtask runs once the whole first frame (series, axes, grid) is drawn.
//
// Setup: jobs stay PENDING by quota: project `cap` has a CPU limit of 1 millicore, held by one
// `sleep` job; `bulk` and `small` are its sub-projects, every job there asks for 1 millicore and
// waits "project cap at CPU limit". They are submitted with POST /api/v1/projects/{p}/jobs from
// 8 concurrent fetches. Points go through POST /api/v1/runs/{id}/log-batch, 100,000 per batch.
// At the end the server is stopped first, then the held job's supervisor (so no pass starts the
// queued jobs), then the browser; nothing is left running.
//
//   node bench/web_bench.mjs [--tiny] [--runs N] [--jobs N] [--peer-jobs N] [--points N]
//                            [--peer-points N] [--only jobs,chart] [--timeline]
// The mlc binary: MLC_BIN, else build/release/cli/mlc if it exists, else build/dev/cli/mlc; it
// must embed the UI (scripts/build-web.sh before building mlc). --tiny: 100 jobs vs 10, 10,000
// points vs 100, one run, no warm-up (the test suite's smoke run; never a speed check).
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
if (!process.env.MLC_BIN) {
  const release = join(ROOT, "build/release/cli/mlc");
  process.env.MLC_BIN = existsSync(release) ? release : join(ROOT, "build/dev/cli/mlc");
}
// harness.mjs reads MLC_BIN when it is loaded.
const { Server, launchBrowser, MLC } = await import("../tests/web/harness.mjs");

function parseArgs(argv) {
  const a = { timeline: false, tiny: false, runs: 5, jobs: 10_000, peerJobs: 100, points: 1_000_000, peerPoints: 1_000, only: ["jobs", "chart"], batch: 100_000 };
  for (let i = 0; i < argv.length; i++) {
    const v = () => {
      if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--tiny":
        Object.assign(a, { tiny: true, runs: 1, jobs: 100, peerJobs: 10, points: 10_000, peerPoints: 100 });
        break;
      case "--runs": a.runs = Number(v()); break;
      case "--timeline": a.timeline = true; break;
      case "--jobs": a.jobs = Number(v()); break;
      case "--peer-jobs": a.peerJobs = Number(v()); break;
      case "--points": a.points = Number(v()); break;
      case "--peer-points": a.peerPoints = Number(v()); break;
      case "--only": a.only = v().split(",").map((s) => s.replace(/^web\./, "").split(".")[0]); break;
      default: usage(`unknown argument ${argv[i]}`);
    }
  }
  for (const o of a.only) if (!["jobs", "chart"].includes(o)) usage(`--only: unknown "${o}" (jobs, chart)`);
  return a;
}

function usage(msg) {
  console.error(`web_bench: ${msg}\nusage: node bench/web_bench.mjs [--tiny] [--runs N] [--jobs N] [--peer-jobs N] [--points N] [--peer-points N] [--only jobs,chart] [--timeline]`);
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const log = (msg) => console.error(`# web_bench: ${msg}`);
const TARGET_MS = 1000;
const TIMEOUT = 120_000;

// ---- the server, its API ----

const server = new Server();
let browser = null;
let token = "";
const pageErrors = [];

async function api(method, path, body, { retries = 20 } = {}) {
  for (let attempt = 0; ; attempt++) {
    const resp = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    if (resp.ok) return text ? JSON.parse(text) : {};
    // A rate limit (the tracking policy's points/s) or a busy store: wait and retry.
    if ((resp.status === 429 || resp.status === 503) && attempt < retries) {
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    throw new Error(`${method} ${path}: ${resp.status} ${text.slice(0, 500)}`);
  }
}

const jobSpec = (project, name, command) => ({
  spec: { project, name, command, workingDir: server.dir, resources: { cpuMillis: "1", memoryBytes: String(1 << 20) } },
});

// n PENDING jobs in `project`, from 8 concurrent fetches.
async function submitPending(project, n) {
  const t = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const job = await api("POST", `/projects/${project}/jobs`, jobSpec(project, `${project}-${i}`, ["true"]));
      if (job.state !== "JOB_STATE_PENDING") throw new Error(`job ${job.id} is ${job.state}, not PENDING: is the blocker running?`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const s = (performance.now() - t) / 1000;
  log(`${n} jobs submitted to ${project} in ${s.toFixed(1)} s (${(n / s).toFixed(0)}/s)`);
}

// A finished run with one metric `loss` of n points, logged in batches.
async function runWithPoints(name, n) {
  const run = await api("POST", "/projects/charts/runs", { run: { project: "charts", name } });
  const t = performance.now();
  const t0 = Date.now() * 1000;
  for (let from = 0, b = 0; from < n; from += args.batch, b++) {
    const to = Math.min(n, from + args.batch);
    const steps = [];
    const values = [];
    const times = [];
    for (let i = from; i < to; i++) {
      steps.push(i);
      values.push(2 * Math.exp(-i / (n / 5)) + 0.05 * Math.sin(i / 50) + 0.02 * ((i * 7919) % 101) / 101);
      times.push(t0 + i * 1000);
    }
    const resp = await api("POST", `/runs/${run.id}/log-batch`, { batch: { runId: run.id, batchId: `${name}-${b}`, metrics: [{ key: "loss", steps, values, timesUnixMicros: times }] } });
    if (Number(resp.pointsWritten) !== to - from) throw new Error(`log-batch wrote ${resp.pointsWritten} of ${to - from} points`);
  }
  await api("PATCH", `/runs/${run.id}`, { status: "RUN_STATUS_FINISHED" });
  log(`run ${name} (${run.id}): ${n} points logged in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return run.id;
}

// ---- the browser ----

// Runs in every page before the app: records when the signals above first happen (ms since
// navigation start) in window.__bench.marks; __bench.reset() starts over for an in-app navigation.
function pageHooks({ token, chartKey }) {
  localStorage.setItem("mlcore.token", token);
  const b = (window.__bench = { marks: {}, t0: 0 });
  b.reset = () => {
    b.marks = {};
    b.t0 = performance.now();
    return b.t0;
  };
  const mark = (name, extra) => {
    if (!b.marks[name]) b.marks[name] = { t: performance.now(), ...extra };
  };
  const check = () => {
    if (!b.marks.rows && document.querySelector("#jobs-table .vt-window .vt-row")) mark("rows");
    const m = !b.marks.loaded && document.querySelector("#jobs-status")?.textContent?.match(/^(\d+) jobs, loaded/);
    if (m) mark("loaded", { count: Number(m[1]) });
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
  const stroke = CanvasRenderingContext2D.prototype.stroke;
  CanvasRenderingContext2D.prototype.stroke = function (...a) {
    if (!b.marks.chart && !b.pending) {
      const chart = this.canvas?.closest?.(`.chart[data-key="${chartKey}"]`);
      if (chart) {
        b.pending = true;
        queueMicrotask(() => {
          b.pending = false;
          mark("chart", { lastStep: chart.dataset.lastStep ?? "" });
        });
      }
    }
    return stroke.apply(this, a);
  };
}

async function openPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript(pageHooks, { token, chartKey: "loss" });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

const waitMark = (page, name) =>
  page.waitForFunction((n) => window.__bench.marks[n], name, { timeout: TIMEOUT, polling: 20 }).then((h) => h.jsonValue());

// When the page and app.js had loaded and the app's script had run (a module script runs before
// DOMContentLoaded): the fixed cost of opening any page of the UI, in ms from navigation start.
const domContentLoaded = (page) => page.evaluate(() => performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd);

// --timeline: where a cold open's time went, from the page's navigation and resource timing
// (start → end of each request, ms from navigation start), on stderr.
async function timeline(page, what, signal) {
  const t = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    const r = performance.getEntriesByType("resource").map((e) => `${e.name.replace(location.origin, "")} ${Math.round(e.startTime)}→${Math.round(e.responseEnd)}`);
    return [`html ${Math.round(n.requestStart)}→${Math.round(n.responseEnd)}`, `domInteractive ${Math.round(n.domInteractive)}`, `DCL ${Math.round(n.domContentLoadedEventEnd)}`, ...r];
  });
  log(`timeline ${what}: ${t.join("; ")}; signal ${Math.round(signal)}`);
}

// One run of the jobs page on `project` (expecting n jobs): cold first rows, all loaded, then the
// first rows again after an in-app navigation.
async function jobsOnce(project, n) {
  const page = await openPage();
  try {
    await page.goto(`${server.url}/#/jobs?project=${project}`);
    const rows = await waitMark(page, "rows");
    if (args.timeline) await timeline(page, `jobs ${project}`, rows.t);
    const loaded = await waitMark(page, "loaded");
    const drawn = await page.locator("#jobs-table .vt-window .vt-row").count();
    if (drawn < 2 || drawn > 300) throw new Error(`${drawn} rows in the page (expected the rows in view only)`);
    if (loaded.count !== n) log(`WARNING: the jobs page of ${project} loaded ${loaded.count} jobs, not ${n}`);
    // In-app: to the models page and back, timed from the hash change.
    await page.evaluate((p) => (location.hash = `#/models?project=${p}`), project);
    await page.waitForFunction(() => !document.querySelector("#jobs-table"), null, { timeout: TIMEOUT });
    const t0 = await page.evaluate((p) => {
      const t = window.__bench.reset();
      location.hash = `#/jobs?project=${p}`;
      return t;
    }, project);
    const inApp = await waitMark(page, "rows");
    return { first: rows.t, all: loaded.t, count: loaded.count, inApp: inApp.t - t0, dcl: await domContentLoaded(page) };
  } finally {
    await page.context().close();
  }
}

// One run of the run page: cold chart drawn, checked to show the last step and coloured pixels,
// then the same after an in-app navigation.
async function chartOnce(runId, n) {
  const page = await openPage();
  try {
    await page.goto(`${server.url}/#/runs/${runId}?project=charts`);
    const chart = await waitMark(page, "chart");
    if (Number(chart.lastStep) !== n - 1) throw new Error(`the chart's last step is ${chart.lastStep}, not ${n - 1}`);
    const inked = await page.evaluate(() => {
      const c = document.querySelector('.chart[data-key="loss"] canvas');
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let blue = 0; // the first series' colour, #1f77b4
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && Math.abs(d[i] - 0x1f) < 40 && Math.abs(d[i + 1] - 0x77) < 40 && Math.abs(d[i + 2] - 0xb4) < 40) blue++;
      return blue;
    });
    if (inked < 50) throw new Error(`the chart's canvas has ${inked} pixels of the series colour`);
    await page.evaluate(() => (location.hash = "#/runs?project=charts"));
    await page.waitForFunction(() => !document.querySelector("#charts") && document.querySelector("#runs-table"), null, { timeout: TIMEOUT });
    const t0 = await page.evaluate((id) => {
      const t = window.__bench.reset();
      location.hash = `#/runs/${id}?project=charts`;
      return t;
    }, runId);
    const inApp = await waitMark(page, "chart");
    return { first: chart.t, inApp: inApp.t - t0, dcl: await domContentLoaded(page) };
  } finally {
    await page.context().close();
  }
}

// ---- measurement ----

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const r1 = (x) => Math.round(x * 10) / 10;

// Warm-up (discarded), then ours and the peer alternately; returns the samples of each.
async function alternate(ours, peer) {
  if (!args.tiny) {
    await ours();
    await peer();
  }
  const a = [];
  const b = [];
  for (let i = 0; i < args.runs; i++) {
    a.push(await ours());
    b.push(await peer());
  }
  return [a, b];
}

function emit(bench, ours, peer, peerName, params) {
  const first = ours.map((s) => s.first);
  const value = median(first);
  const peerValue = median(peer.map((s) => s.first));
  const line = {
    bench,
    unit: "ms",
    value: r1(value),
    peer: peerName,
    peer_value: r1(peerValue),
    ratio: Math.round((peerValue / value) * 1000) / 1000,
    target: `<${TARGET_MS} ms`,
    met: value < TARGET_MS,
    runs: ours.length,
    stat: "median",
    min: r1(Math.min(...first)),
    max: r1(Math.max(...first)),
    params: { ...params, app_loaded_ms: r1(median(ours.map((s) => s.dcl))), in_app_ms: r1(median(ours.map((s) => s.inApp))), peer_in_app_ms: r1(median(peer.map((s) => s.inApp))), warmup_discarded: args.tiny ? 0 : 1 },
  };
  console.log(JSON.stringify(line));
}

async function benchJobs() {
  await api("POST", "/projects", { project: { name: "cap", limit: { cpuMillis: "1" } } });
  await api("POST", "/projects", { project: { name: "bulk", parent: "cap" } });
  await api("POST", "/projects", { project: { name: "small", parent: "cap" } });
  // The job holding the limit: everything submitted after it waits.
  const blocker = await api("POST", "/projects/cap/jobs", jobSpec("cap", "hold", ["sleep", "86400"]));
  for (let i = 0; ; i++) {
    const j = await api("GET", `/jobs/${blocker.id}`);
    if (j.state === "JOB_STATE_RUNNING") break;
    if (i > 300 || /SUCCEEDED|FAILED|CANCELLED|LOST/.test(j.state)) throw new Error(`the holding job is ${j.state}: ${j.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await submitPending("small", args.peerJobs);
  await submitPending("bulk", args.jobs);
  const probe = await api("GET", `/projects/bulk/jobs?pageSize=1`);
  log(`bulk: ${probe.jobs?.[0]?.state} "${probe.jobs?.[0]?.waitingReason}"`);
  const [ours, peer] = await alternate(() => jobsOnce("bulk", args.jobs), () => jobsOnce("small", args.peerJobs));
  const count = Math.min(...ours.map((s) => s.count));
  emit(`web.jobs.first_render_${label(args.jobs)}`, ours, peer, `web.jobs.first_render_${label(args.peerJobs)}`, {
    jobs: args.jobs,
    peer_jobs: args.peerJobs,
    all_loaded_ms: r1(median(ours.map((s) => s.all))),
    loaded_jobs: count,
    peer_all_loaded_ms: r1(median(peer.map((s) => s.all))),
    signal: "first .vt-row in the DOM, from navigation start",
  });
}

async function benchChart() {
  await api("POST", "/projects", { project: { name: "charts" } });
  const big = await runWithPoints("big", args.points);
  const small = await runWithPoints("small", args.peerPoints);
  const [ours, peer] = await alternate(() => chartOnce(big, args.points), () => chartOnce(small, args.peerPoints));
  emit(`web.chart.first_render_${label(args.points)}`, ours, peer, `web.chart.first_render_${label(args.peerPoints)}`, {
    points: args.points,
    peer_points: args.peerPoints,
    signal: "uPlot's first frame drawn on the metric's canvas, from navigation start",
  });
}

const label = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}m` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

// ---- teardown: nothing left running ----

// Processes of this server's state directory other than the server (supervisors of the held job,
// a pass loop) with their descendants.
function stateProcesses() {
  const procs = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      const ppid = Number(readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1]);
      procs.set(Number(d), { cmd, ppid });
    } catch {
      // Gone meanwhile.
    }
  }
  const roots = [...procs].filter(([pid, p]) => pid !== server.proc?.pid && p.cmd.includes(server.state)).map(([pid]) => pid);
  const all = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of procs) if (!all.has(pid) && all.has(p.ppid)) all.add(pid), (grew = true);
  }
  return [...all];
}

let tornDown = false;
async function teardown() {
  if (tornDown) return;
  tornDown = true;
  await browser?.close().catch(() => {});
  const keep = process.env.MLC_KEEP_TMP;
  process.env.MLC_KEEP_TMP = "1";
  await server.stop().catch((e) => log(`stopping the server: ${e.message}`));
  const left = stateProcesses();
  for (const pid of left) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (left.length) await new Promise((r) => setTimeout(r, 300));
  if (!keep) {
    for (let i = 0; i < 10; i++) {
      try {
        rmSync(server.dir, { recursive: true, force: true });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    teardown().finally(() => process.exit(130));
  });
}

let rc = 0;
try {
  token = await server.addUser("bench", "--admin");
  await server.start();
  const index = await (await fetch(`${server.url}/`)).text();
  if (!index.includes("app.js")) throw new Error(`${MLC} serves no web UI: build it (scripts/build-web.sh), then rebuild mlc`);
  log(`${MLC} at ${server.url}`);
  browser = await launchBrowser();
  if (args.only.includes("jobs")) await benchJobs();
  if (args.only.includes("chart")) await benchChart();
  if (pageErrors.length) throw new Error(`uncaught errors in the pages:\n${pageErrors.join("\n")}`);
} catch (e) {
  console.error(`web_bench: ${e.stack ?? e}`);
  if (server.stderr) console.error(server.stderr.split("\n").slice(-20).join("\n"));
  rc = 1;
} finally {
  await teardown();
}
process.exit(rc);
