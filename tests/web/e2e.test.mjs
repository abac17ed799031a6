// End-to-end tests of the web UI served by a real `mlc server --http` (built with the UI:
// scripts/build-web.sh, then the mlc build), in headless Chromium. Run: node --test tests/web/
// (docs/web-ui.md). Screenshots go to build/test-artifacts/web/.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ARTIFACTS, launchBrowser, Server, waitFor } from "./harness.mjs";

const PROJECT = "web-e2e";

// A pipeline of four steps in a diamond (as tests/cli/test_pipeline_run.py).
const DIAMOND = `\
name: diamond
inputs:
  - {name: n, type: parameter, parameter_type: int, default_value: "3"}
outputs:
  - {name: total, type: parameter, parameter_type: int}
steps:
  - name: a
    job: {command: [sh, -c, 'echo a ran; echo $((MLC_INPUT_N * 2)) > $MLC_OUTPUT_DIR/x; mkdir $MLC_OUTPUT_DIR/data; echo hello > $MLC_OUTPUT_DIR/data/f.txt']}
    inputs: [{name: n, type: parameter, parameter_type: int}]
    outputs: [{name: x, type: parameter, parameter_type: int}, {name: data, type: artifact}]
  - name: b
    job: {command: [sh, -c, 'echo $((MLC_INPUT_X + 1)) > $MLC_OUTPUT_DIR/y']}
    inputs: [{name: x, type: parameter, parameter_type: int}, {name: data, type: artifact}]
    outputs: [{name: y, type: parameter, parameter_type: int}]
  - name: c
    job: {command: [sh, -c, 'echo "{\\"auc\\": 0.93}" > $MLC_OUTPUT_DIR/m; echo $((MLC_INPUT_X + 2)) > $MLC_OUTPUT_DIR/z']}
    inputs: [{name: x, type: parameter, parameter_type: int}]
    outputs: [{name: z, type: parameter, parameter_type: int}, {name: m, type: metrics}]
  - name: d
    job: {command: [sh, -c, 'echo $((MLC_INPUT_Y + MLC_INPUT_Z)) > $MLC_OUTPUT_DIR/total']}
    inputs: [{name: y, type: parameter, parameter_type: int}, {name: z, type: parameter, parameter_type: int}]
    outputs: [{name: total, type: parameter, parameter_type: int}]
edges:
  - {source_name: n, target_step: a, target_name: n}
  - {source_step: a, source_name: x, target_step: b, target_name: x}
  - {source_step: a, source_name: data, target_step: b, target_name: data}
  - {source_step: a, source_name: x, target_step: c, target_name: x}
  - {source_step: b, source_name: y, target_step: d, target_name: y}
  - {source_step: c, source_name: z, target_step: d, target_name: z}
  - {source_step: d, source_name: total, target_name: total}
`;

const server = new Server();
let browser;
let admin; // token of ann, server administrator
let viewer; // token of vic, viewer on PROJECT
let trainer; // a RUNNING job whose run has metrics, params and a model artifact
let tuned; // a second run, for comparisons
let pipelineRunId;
const pageErrors = [];

async function logBatch(runId, batchId, params, fn, points = 500, from = 0) {
  const steps = [];
  const loss = [];
  const acc = [];
  const times = [];
  const t0 = Date.now() * 1000;
  for (let i = from; i < from + points; i++) {
    steps.push(i);
    loss.push(fn(i));
    acc.push(1 - fn(i) / 3);
    times.push(t0 + i * 1000);
  }
  const batch = {
    runId,
    batchId,
    params,
    metrics: [
      { key: "loss", steps, values: loss, timesUnixMicros: times },
      { key: "acc", steps, values: acc, timesUnixMicros: times },
    ],
  };
  await server.mlc(admin, ["api", "call", "TrackingService/LogBatch", JSON.stringify({ batch })]);
}

async function newPage(token) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on("dialog", (d) => d.accept());
  if (token) {
    await page.goto(`${server.url}/`);
    await page.evaluate((t) => localStorage.setItem("mlcore.token", t), token);
  }
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const go = (page, hash) => page.goto(`${server.url}/${hash}`);

before(async () => {
  admin = await server.addUser("ann", "--admin");
  viewer = await server.addUser("vic");
  await server.start();
  const probe = await fetch(`${server.url}/`);
  const html = await probe.text();
  assert.ok(html.includes("app.js"), `the server at ${server.url} serves no web UI (build it: scripts/build-web.sh, then rebuild mlc)`);

  await server.mlc(admin, ["project", "create", PROJECT, "--limit", "cpu=6"]);
  await server.mlc(admin, ["role", "grant", PROJECT, "vic", "viewer"]);

  trainer = await server.mlc(admin, ["-p", PROJECT, "job", "submit", "--name", "trainer", "--label", "team=web", "--", "sleep", "300"], { json: true });
  await waitFor(async () => (await server.mlc(admin, ["job", "get", trainer.id], { json: true })).state === "JOB_STATE_RUNNING", {
    what: "the trainer job to run",
  });
  await logBatch(trainer.runId, "b-trainer", { lr: "0.01", batch: "64" }, (i) => 2 * Math.exp(-i / 80) + 0.05 * Math.sin(i / 3));
  tuned = await server.mlc(admin, ["-p", PROJECT, "run", "create", "tuned", "--param", "lr=0.001", "--param", "batch=128"], { json: true });
  await logBatch(tuned.id, "b-tuned", {}, (i) => 2 * Math.exp(-i / 150) + 0.1);

  const model = join(server.dir, "model");
  mkdirSync(model);
  writeFileSync(join(model, "weights.bin"), "0123456789".repeat(100));
  await server.mlc(admin, ["artifact", "log", "--run", trainer.runId, model, "--kind", "model"]);
  await server.mlc(admin, ["-p", PROJECT, "model", "create", "ranker"]);
  await server.mlc(admin, ["-p", PROJECT, "model", "register", "ranker", "--run", trainer.runId, "--path", "model", "--metric", "auc=0.91"]);

  writeFileSync(join(server.dir, "diamond.yaml"), DIAMOND);
  const prun = await server.mlc(admin, ["-p", PROJECT, "pipeline", "run", "diamond.yaml", "-i", "n=5"], { json: true });
  pipelineRunId = prun.id;

  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  // Jobs outlive the server (each has its own supervisor): end the ones still running.
  if (server.proc && trainer?.id) {
    await server.mlc(admin, ["job", "cancel", trainer.id]).catch(() => {});
    await waitFor(async () => (await server.mlc(admin, ["job", "get", trainer.id], { json: true })).state === "JOB_STATE_CANCELLED", {
      timeout: 40_000,
      what: "the trainer job to end",
    }).catch(() => {});
  }
  await server.stop();
});

describe("web UI", () => {
  test("without a token only the login page shows; a wrong token is refused; a good one logs in", async () => {
    const page = await newPage();
    await go(page, "#/jobs");
    await page.waitForSelector("form.login");
    assert.equal(await page.locator("header").count(), 0, "nothing but the login form without a token");
    await shot(page, "01-login");
    await page.fill("#token", "mlc_00000000_" + "A".repeat(43));
    await page.click("#login-button");
    await page.waitForSelector("#login-error:not([hidden])");
    await page.fill("#token", admin);
    await page.click("#login-button");
    await page.waitForSelector("#user-name");
    assert.match(await page.textContent("#user-name"), /ann/);
    assert.equal(await page.evaluate(() => localStorage.getItem("mlcore.token")), admin);
    await page.context().close();
  });

  test("jobs: a submitted job appears, its logs stream, it is cancelled", async () => {
    const page = await newPage(admin);
    await go(page, `#/jobs?project=${PROJECT}`);
    await page.waitForSelector(`#jobs-table .vt-row[data-id="${trainer.id}"]`);
    // Quota used/limit and the summary by state.
    await page.waitForSelector('#quota tr[data-resource="cpu"]');
    assert.match(await page.textContent('#quota tr[data-resource="cpu"]'), /\/ 6/);
    assert.match(await page.textContent("#job-summary"), /RUNNING/);

    const sleeper = await server.mlc(
      admin,
      ["-p", PROJECT, "job", "submit", "--name", "sleeper", "--deadline", "1h", "--", "sh", "-c", 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'],
      { json: true },
    );
    await page.waitForSelector(`#jobs-table .vt-row[data-id="${sleeper.id}"]`, { timeout: 15_000 });
    // Filters: text and state.
    await page.fill("#filter-text", "sleeper");
    await waitFor(async () => (await page.locator("#jobs-table .vt-window .vt-row").count()) === 1, { what: "the text filter" });
    await shot(page, "02-jobs");
    await page.click(`#jobs-table .vt-row[data-id="${sleeper.id}"] a`);

    await page.waitForSelector("#job-name");
    assert.equal(await page.textContent("#job-name"), "sleeper");
    await waitFor(async () => /tick 3/.test(await page.textContent("#log-body")), { what: "log lines to stream" });
    await page.check("#log-timestamps");
    await page.fill("#log-search", "tick 2");
    await waitFor(async () => / of /.test(await page.textContent("#log-count")), { what: "the log search" });
    assert.ok(await page.locator("#log-body mark").count() > 0);
    await page.fill("#log-search", "");
    await shot(page, "03-job-logs");

    assert.ok(await page.isVisible("#job-cancel"));
    await page.click("#job-cancel");
    await waitFor(async () => (await page.textContent("#job-state")) === "CANCELLED", { what: "the job to be cancelled" });
    await waitFor(async () => /stream ended/.test(await page.textContent("#log-status")), { what: "the log stream to end" });
    assert.ok(await page.isVisible("#job-rerun"));
    assert.ok((await page.textContent("#job-timeline")).includes("CANCELLED"));
    await shot(page, "04-job-cancelled");
    const onServer = await server.mlc(admin, ["job", "get", sleeper.id], { json: true });
    assert.equal(onServer.state, "JOB_STATE_CANCELLED", JSON.stringify(onServer.events));
    await page.context().close();
  });

  test("a cold jobs page: the boot script's first reads are used (each asked once), the files come gzipped", async () => {
    // A fresh context with the token saved before the page loads, as for a returning user.
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript((t) => localStorage.setItem("mlcore.token", t), admin);
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    const asked = [];
    const encoding = {};
    page.on("request", (r) => {
      if (r.url().includes("/api/v1/")) asked.push(r.url().slice(server.url.length));
    });
    page.on("response", (r) => {
      const path = new URL(r.url()).pathname;
      if (path === "/app.js" || path === "/app.css") encoding[path] = r.headers()["content-encoding"] ?? "none";
    });
    await go(page, `#/jobs?project=${PROJECT}`);
    await page.waitForSelector(`#jobs-table .vt-row[data-id="${trainer.id}"]`);
    await page.waitForSelector('#quota tr[data-resource="cpu"]');
    await page.waitForSelector("#user-name");
    const seen = [...asked]; // before the page's 5 s refresh asks again
    for (const url of [
      "/api/v1/auth/whoami",
      "/api/v1/projects?pageSize=1000",
      `/api/v1/quota-usage?project=${PROJECT}&perUser=true`,
      `/api/v1/projects/${PROJECT}/jobs?view=JOB_VIEW_BASIC&pageSize=200`,
    ]) {
      assert.equal(seen.filter((u) => u === url).length, 1, `${url} asked for once; asked: ${seen.join(", ")}`);
    }
    // The boot script ran and the app took every answer it had started.
    assert.deepEqual(await page.evaluate(() => window.__mlcBoot && Object.keys(window.__mlcBoot.pending)), []);
    assert.deepEqual(encoding, { "/app.js": "gzip", "/app.css": "gzip" });
    assert.match(await page.textContent("#user-name"), /ann/);
    await context.close();
  });

  test("job actions: a viewer sees no buttons; a 403 disables them", async () => {
    const page = await newPage(viewer);
    await go(page, `#/jobs/${trainer.id}?project=${PROJECT}`);
    await page.waitForSelector("#job-name");
    assert.equal(await page.isVisible("#job-cancel"), false, "a viewer gets no Cancel button");
    await page.context().close();

    const page2 = await newPage(admin);
    await page2.route((url) => url.pathname.endsWith("/cancel"), (route) =>
      route.fulfill({ status: 403, contentType: "application/json", body: JSON.stringify({ error: { code: 403, status: "PERMISSION_DENIED", message: "needs editor" } }) }),
    );
    await go(page2, `#/jobs/${trainer.id}?project=${PROJECT}`);
    await page2.waitForSelector("#job-cancel");
    await page2.click("#job-cancel");
    await page2.waitForSelector("#action-error:not([hidden])");
    assert.ok(await page2.isDisabled("#job-cancel"));
    await page2.context().close();
  });

  test("runs: params and metrics as columns, the filter, a run's chart, a comparison", async () => {
    const page = await newPage(admin);
    await go(page, `#/runs?project=${PROJECT}`);
    await page.waitForSelector(`#runs-table .vt-row[data-id="${tuned.id}"]`);
    const head = await page.textContent("#runs-table .vt-head");
    assert.ok(head.includes("lr") && head.includes("loss"), head);
    await page.fill("#run-filter", "params.lr < 0.005");
    await page.click("#run-search");
    await waitFor(async () => (await page.locator("#runs-table .vt-window .vt-row").count()) === 1, { what: "the filter" });
    await page.fill("#run-filter", "");
    await page.click("#run-search");
    await page.waitForSelector(`#runs-table .vt-row[data-id="${trainer.runId}"]`);
    await page.waitForSelector(`#runs-table .vt-row[data-id="${tuned.id}"]`);
    await shot(page, "05-runs");

    await page.click(`#runs-table .vt-row[data-id="${trainer.runId}"] .vt-cell a`);
    await page.waitForSelector("#run-metrics");
    await page.waitForSelector('.chart[data-key="loss"] .uplot canvas');
    const box = await page.locator('.chart[data-key="loss"] canvas').first().boundingBox();
    assert.ok(box && box.width > 200 && box.height > 100, JSON.stringify(box));
    // The run is active: points logged now reach the chart live (WatchMetrics over SSE).
    await page.waitForSelector('.chart[data-key="loss"][data-last-step="499"]');
    await logBatch(trainer.runId, "b-trainer-live", {}, (i) => 2 * Math.exp(-i / 80), 100, 500);
    await page.waitForSelector('.chart[data-key="loss"][data-last-step="599"]', { timeout: 15_000 });
    // Smoothing and the time axis redraw the chart.
    await page.fill("#chart-smoothing", "0.8");
    await page.selectOption("#chart-axis", "time");
    await page.waitForSelector('.chart[data-key="loss"] .uplot canvas');
    await shot(page, "06-run-chart");

    await go(page, `#/runs?project=${PROJECT}`);
    await page.waitForSelector(`#runs-table .vt-row[data-id="${tuned.id}"]`);
    await page.check(`#runs-table .vt-row[data-id="${tuned.id}"] input.run-select`);
    await page.check(`#runs-table .vt-row[data-id="${trainer.runId}"] input.run-select`);
    await page.click("#compare-runs");
    await page.waitForSelector('.chart[data-key="loss"] .uplot canvas');
    // Two runs: two series besides x in the legend.
    assert.equal(await page.locator('.chart[data-key="loss"] .u-legend .u-series').count(), 3);
    await shot(page, "07-compare");
    await page.context().close();
  });

  test("models: versions and a version's lineage (run, job)", async () => {
    const page = await newPage(admin);
    await go(page, `#/models?project=${PROJECT}`);
    await page.click('#models-table tr[data-model="ranker"] a');
    await page.waitForSelector('#versions-table tr[data-version="1"]');
    await page.click('#versions-table tr[data-version="1"] a.lineage-link');
    await page.waitForSelector("#lineage");
    await page.waitForSelector('#lineage .node[data-kind="run"]');
    const raw = await page.textContent("details pre.json");
    assert.ok(await page.locator('#lineage .node[data-kind="job"]').count() >= 1, `the run's job is in the lineage: ${raw}`);
    assert.ok((await page.textContent("#lineage")).includes(trainer.runId));
    await shot(page, "08-lineage");
    await page.context().close();
  });

  test("pipelines: a run's steps as a DAG, a step's outputs", async () => {
    await waitFor(
      async () => ["PIPELINE_RUN_STATE_SUCCEEDED", "PIPELINE_RUN_STATE_FAILED"].includes((await server.mlc(admin, ["pipeline", "get", pipelineRunId], { json: true })).state),
      { timeout: 90_000, interval: 500, what: "the pipeline run to end" },
    );
    const page = await newPage(admin);
    await go(page, `#/pipelines?project=${PROJECT}`);
    await page.click(`#pipelines-table tr[data-id="${pipelineRunId}"] a`);
    await page.waitForSelector("#pipeline-dag");
    assert.equal(await page.locator("#pipeline-dag g.dag-node").count(), 4);
    assert.equal(await page.locator("#pipeline-dag .dag-edge").count(), 4);
    assert.equal(await page.locator("#pipeline-dag g.dag-node.st-succeeded").count(), 4);
    await page.click('#pipeline-dag g.dag-node[data-step="c"]');
    await page.waitForSelector("#step-details");
    assert.match(await page.textContent("#step-details"), /auc=0\.93/);
    await shot(page, "09-pipeline");
    await page.context().close();
  });

  test("a refused token (401) sends the user back to the login page", async () => {
    const page = await newPage("mlc_00000000_" + "B".repeat(43));
    await go(page, `#/jobs?project=${PROJECT}`);
    await page.waitForSelector("form.login");
    assert.equal(await page.evaluate(() => localStorage.getItem("mlcore.token")), null);
    await page.context().close();
  });

  // Timing is measured by bench/web_bench.mjs (scripts/bench.sh web) against a real server, not
  // asserted here: a shared 2-core machine makes timed assertions flaky.
  test("10,000 jobs: only the rows in view are drawn, all of them load, the filter narrows them", async () => {
    const page = await newPage(admin);
    const states = ["JOB_STATE_RUNNING", "JOB_STATE_PENDING", "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"];
    const now = Date.now();
    const job = (i) => ({
      id: `j${String(i).padStart(12, "0")}`,
      spec: { name: `bulk-${i}`, project: "bulk", flavor: "cpu-2-8", replicas: 1, labels: { n: String(i % 7) } },
      state: states[i % 4],
      user: `user${i % 13}`,
      createTime: new Date(now - i * 1000).toISOString(),
      deadlineTime: i % 3 ? new Date(now + i * 1000).toISOString() : null,
      qos: i % 2 ? "QOS_CLASS_PREEMPTIBLE" : "QOS_CLASS_ON_DEMAND",
      priority: i % 5,
      resources: { cpuMillis: "2000", memoryBytes: "8589934592", gpu: 0, gpuModel: "" },
    });
    await page.route((url) => url.pathname === "/api/v1/projects/bulk/jobs", (route) => {
      const url = new URL(route.request().url());
      const start = Number(url.searchParams.get("pageToken") || 0);
      const size = Number(url.searchParams.get("pageSize") || 100);
      const end = Math.min(10_000, start + size);
      const jobs = [];
      for (let i = start; i < end; i++) jobs.push(job(i));
      route.fulfill({ contentType: "application/json", body: JSON.stringify({ jobs, nextPageToken: end < 10_000 ? String(end) : "" }) });
    });
    await page.route((url) => url.pathname === "/api/v1/quota-usage", (route) => route.fulfill({ contentType: "application/json", body: JSON.stringify({ usages: [] }) }));
    await go(page, `#/runs?project=${PROJECT}`); // the app loaded and logged in
    await page.waitForSelector("#runs-table");
    const t0 = await page.evaluate(() => {
      const t = performance.now();
      location.hash = "#/jobs?project=bulk";
      return t;
    });
    await page.waitForSelector("#jobs-table .vt-window .vt-row");
    const first = (await page.evaluate(() => performance.now())) - t0;
    await waitFor(async () => /^10000 jobs, loaded/.test(await page.textContent("#jobs-status")), { what: "all 10,000 jobs" });
    const all = (await page.evaluate(() => performance.now())) - t0;
    const rows = await page.locator("#jobs-table .vt-window .vt-row").count();
    assert.ok(rows < 200, `only the rows in view are drawn (${rows})`);
    const tf = await page.evaluate(async () => {
      const t = performance.now();
      const input = document.querySelector("#filter-text");
      input.value = "bulk-99";
      input.dispatchEvent(new Event("input"));
      await new Promise((r) => requestAnimationFrame(r));
      return performance.now() - t;
    });
    await waitFor(async () => {
      const texts = await page.locator("#jobs-table .vt-window .vt-row").allTextContents();
      return texts.length > 0 && texts.every((t) => t.includes("bulk-99"));
    }, { what: "the filter to narrow the rows to bulk-99*" });
    await shot(page, "10-jobs-10k");
    console.log(`# 10,000 jobs: first rows in ${first.toFixed(0)} ms, all loaded in ${all.toFixed(0)} ms, a filter in ${tf.toFixed(0)} ms`);
    await page.context().close();
  });

  test("no uncaught errors in the pages", () => {
    assert.deepEqual(pageErrors, []);
  });
});
