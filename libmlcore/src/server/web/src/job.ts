// One job: state, waiting reason, resources, spec, events, artifacts, a live log viewer (the SSE
// logs stream with follow) and Cancel / Preempt / Rerun, hidden when the caller's role on the
// project is below editor and disabled when the server answers 403.
import { ApiError, call, listAll, stream } from "./api";
import { canEdit, navigate, type PageCtx } from "./app";
import { enumName, errorBox, fmtBytes, fmtDuration, fmtResources, fmtTime, fill, h, num, parseDuration, parseTime, stateBadge } from "./dom";
import { LogView } from "./logview";
import type { Artifact, Job, LogLine } from "./types";

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "LOST"]);

function kv(rows: [string, unknown][]): HTMLElement {
  return h(
    "table",
    { class: "kv" },
    rows
      .filter(([, v]) => v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0))
      .map(([k, v]) => h("tr", null, h("th", null, k), h("td", null, v instanceof Node ? v : String(v)))),
  );
}

export async function renderJob(ctx: PageCtx): Promise<void> {
  const { root, signal } = ctx;
  const id = ctx.params[0];
  let job = await call<Job>("JobService.GetJob", { id, view: "JOB_VIEW_FULL" }, signal);
  const project = job.spec?.project ?? "";

  const head = h("div", { class: "page-head" });
  const actionsMsg = h("span", { class: "error inline", id: "action-error", hidden: true });
  const info = h("div", { class: "panel", id: "job-info" });
  const spec = h("div", { class: "panel", id: "job-spec" });
  const events = h("div", { class: "panel", id: "job-events" });
  const artifacts = h("div", { class: "panel", id: "job-artifacts" }, h("h3", null, "Artifacts"), h("div", { class: "muted" }, "loading…"));
  const logs = new LogView();
  const logStatus = h("span", { class: "muted", id: "log-status" });
  let denied = false;

  const buttons: Record<string, HTMLButtonElement> = {};
  const act = async (rpc: string, label: string, req: Record<string, unknown>) => {
    actionsMsg.hidden = true;
    for (const b of Object.values(buttons)) b.disabled = true;
    try {
      const result = await call<Job>(rpc, req);
      if (rpc === "JobService.RerunJob" && result.id) {
        navigate(`#/jobs/${encodeURIComponent(result.id)}?project=${encodeURIComponent(project)}`);
        return;
      }
      job = await call<Job>("JobService.GetJob", { id, view: "JOB_VIEW_FULL" }, signal);
    } catch (e) {
      if (e instanceof ApiError && e.denied) denied = true;
      actionsMsg.textContent = `${label}: ${e instanceof Error ? e.message : e}`;
      actionsMsg.hidden = false;
    }
    draw();
  };
  const mk = (name: string, label: string, rpc: string, req: () => Record<string, unknown>, confirmText?: string) => {
    buttons[name] = h(
      "button",
      {
        id: `job-${name}`,
        class: name === "cancel" ? "danger" : "",
        onclick: () => {
          if (confirmText && !confirm(confirmText)) return;
          void act(rpc, label, req());
        },
      },
      label,
    );
  };
  mk("cancel", "Cancel", "JobService.CancelJob", () => ({ id, reason: "cancelled from the web UI" }), "Cancel this job?");
  mk("preempt", "Preempt", "JobService.PreemptJob", () => ({ id, reason: "preempted from the web UI" }), "Preempt this job?");
  mk("rerun", "Rerun", "JobService.RerunJob", () => ({ id, requestId: crypto.randomUUID() }));

  const draw = () => {
    const st = enumName(job.state, "JOB_STATE_");
    const editable = canEdit(project);
    const active = !TERMINAL.has(st);
    const canPreempt = (st === "RUNNING" || st === "STARTING") && Boolean(job.spec?.preemptible);
    const show = (b: HTMLButtonElement, visible: boolean, enabled: boolean) => {
      b.hidden = !visible || !editable;
      b.disabled = denied || !enabled;
      b.title = denied ? "Your role on this project does not allow this" : "";
    };
    show(buttons.cancel, true, active);
    show(buttons.preempt, Boolean(job.spec?.preemptible), canPreempt);
    show(buttons.rerun, true, !active);

    fill(head, 
      h("h2", null, h("a", { href: `#/jobs?project=${encodeURIComponent(project)}`, class: "crumb" }, project), " / ", h("span", { id: "job-name" }, job.spec?.name ?? id), " "),
      h("span", { id: "job-state" }, stateBadge(st)),
      h("span", { class: "spacer" }),
      h("span", { class: "actions" }, buttons.cancel, buttons.preempt, buttons.rerun),
      actionsMsg,
    );

    const now = Date.now();
    const deadline = parseTime(job.deadlineTime);
    const exit = job.exitCode !== undefined && job.exitCode !== null ? String(job.exitCode) : job.signal ? `signal ${job.signal}` : "";
    fill(info, 
      h("h3", null, "Status"),
      st === "PENDING" && job.waitingReason ? h("div", { class: "waiting", id: "waiting-reason" }, job.waitingReason) : null,
      // A job's message says why it failed only once it has ended badly; otherwise it is news.
      job.message
        ? h("div", { class: ["FAILED", "LOST", "TIMED_OUT", "PREEMPTED"].includes(st) ? "error" : "note" }, job.message)
        : null,
      kv([
        ["id", job.id],
        ["user", job.user],
        ["created", fmtTime(job.createTime)],
        ["started", fmtTime(job.startTime)],
        ["ended", fmtTime(job.endTime)],
        ["exit", exit],
        ["restarts", job.restarts ? String(job.restarts) : ""],
        ["deadline", deadline ? `${fmtTime(job.deadlineTime)} (${deadline > now ? "in " + fmtDuration(deadline - now) : "passed"})` : ""],
        ["qos / priority", `${enumName(job.qos, "QOS_CLASS_").toLowerCase()} / ${job.priority ?? 0}${job.spec?.priorityClass ? ` (${job.spec.priorityClass})` : ""}`],
        ["resources", `${job.spec?.flavor ? job.spec.flavor + ": " : ""}${fmtResources(job.resources)}${(job.spec?.replicas ?? 1) > 1 ? ` × ${job.spec?.replicas} replicas` : ""}`],
        ["nodes", (job.nodes ?? []).join(", ")],
        [
          "used",
          job.resourcesUsed
            ? `cpu ${(job.resourcesUsed.cpuSeconds ?? 0).toFixed(1)}s, peak memory ${fmtBytes(job.resourcesUsed.memoryPeakBytes)}, wall ${fmtDuration(parseDuration(job.resourcesUsed.wallTime))}` +
              (job.resourcesUsed.gpuSeconds ? `, gpu ${job.resourcesUsed.gpuSeconds.toFixed(0)}s` : "")
            : "",
        ],
        ["run", job.runId ? h("a", { href: `#/runs/${encodeURIComponent(job.runId)}?project=${encodeURIComponent(project)}`, id: "job-run-link" }, job.runId) : ""],
        ["rerun of", job.rerunOf ? h("a", { href: `#/jobs/${encodeURIComponent(job.rerunOf)}?project=${encodeURIComponent(project)}` }, job.rerunOf) : ""],
      ]),
    );

    const s = job.spec ?? {};
    const src = job.reproducibility?.source;
    fill(spec, 
      h("h3", null, "Spec"),
      kv([
        ["command", h("code", null, [...(s.command ?? []), ...(s.args ?? [])].join(" "))],
        ["image", s.image],
        ["working dir", s.workingDir],
        ["preemptible", s.preemptible ? "yes" : ""],
        ["deadline", s.deadline && parseDuration(s.deadline) ? fmtDuration(parseDuration(s.deadline)) : ""],
        ["ttl", s.ttl && parseDuration(s.ttl) ? fmtDuration(parseDuration(s.ttl)) : ""],
        ["env", Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v}`).join("  ")],
        ["labels", Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`).join("  ")],
        ["inputs", (s.inputDatasets ?? []).map((d) => d.uri).join(", ")],
        ["outputs", (s.outputPaths ?? []).join(", ")],
        ["experiment", s.experiment],
        ["git", src?.gitCommit ? `${src.gitCommit.slice(0, 12)}${src.gitDirty ? " (dirty)" : ""}${src.gitBranch ? ` on ${src.gitBranch}` : ""}` : ""],
      ]),
      h("details", null, h("summary", null, "raw spec"), h("pre", { class: "json" }, JSON.stringify(job.spec, null, 2))),
    );

    const evs = job.events ?? [];
    const t0 = parseTime(evs[0]?.time) ?? 0;
    fill(events, 
      h("h3", null, "Events"),
      h(
        "ol",
        { class: "timeline", id: "job-timeline" },
        evs.map((e) => {
          const to = enumName(e.toState, "JOB_STATE_");
          const from = enumName(e.fromState, "JOB_STATE_");
          const t = parseTime(e.time) ?? 0;
          return h(
            "li",
            { class: `tl-${to.toLowerCase()}` },
            h("span", { class: "tl-time", title: e.time ?? "" }, fmtTime(e.time), t0 && t > t0 ? h("span", { class: "muted" }, ` +${fmtDuration(t - t0)}`) : null),
            h("span", { class: "tl-state" }, from && from !== "UNSPECIFIED" && from !== to ? `${from} → ` : "", stateBadge(to)),
            h("span", { class: "tl-reason" }, e.reason ?? ""),
          );
        }),
      ),
    );
  };

  const logPanel = h("div", { class: "panel logs-panel", id: "job-logs" }, h("div", { class: "panel-head" }, h("h3", null, "Logs"), logStatus), logs.el);
  fill(root, head, h("div", { class: "job-grid" }, info, spec, events, artifacts), logPanel);
  draw();

  // Artifacts the job and its run own, and the job's outputs.
  void (async () => {
    try {
      const seen = new Map<string, Artifact>();
      const owners = [["OBJECT_KIND_JOB", id], ...(job.runId ? [["OBJECT_KIND_RUN", job.runId]] : [])];
      for (const [kind, oid] of owners) {
        const list = await listAll<Artifact>("ArtifactService.ListArtifacts", { project, owner: { kind, id: oid } }, "artifacts", undefined, signal);
        for (const a of list) if (a.id) seen.set(a.id, a);
      }
      for (const aid of job.outputArtifactIds ?? []) {
        if (!seen.has(aid)) seen.set(aid, await call<Artifact>("ArtifactService.GetArtifact", { id: aid }, signal));
      }
      fill(artifacts, h("h3", null, "Artifacts"), renderArtifacts([...seen.values()]));
    } catch (e) {
      if (!signal.aborted) fill(artifacts, h("h3", null, "Artifacts"), errorBox(e));
    }
  })();

  // Logs: follow until the job ends.
  const followLogs = async () => {
    logStatus.textContent = "streaming…";
    try {
      await stream<{ lines?: LogLine[] }>("JobService.StreamJobLogs", { id, follow: true }, (m) => logs.append(m.lines ?? []), signal);
      logStatus.textContent = "stream ended";
    } catch (e) {
      if (signal.aborted) return;
      fill(logStatus, 
        h("span", { class: "error inline" }, `logs: ${e instanceof Error ? e.message : e} `),
        h(
          "button",
          {
            onclick: () => {
              logs.clear();
              void followLogs();
            },
          },
          "reconnect",
        ),
      );
    }
  };
  void followLogs();

  // Poll the job while it is active.
  const timer = setInterval(async () => {
    if (TERMINAL.has(enumName(job.state, "JOB_STATE_"))) return;
    try {
      job = await call<Job>("JobService.GetJob", { id, view: "JOB_VIEW_FULL" }, signal);
      draw();
    } catch {
      // Keep what is shown.
    }
  }, 2000);
  ctx.onCleanup(() => clearInterval(timer));
}

export function renderArtifacts(list: Artifact[]): HTMLElement {
  if (list.length === 0) return h("div", { class: "muted" }, "none");
  return h(
    "table",
    { class: "grid artifacts" },
    h("thead", null, h("tr", null, h("th", null, "path"), h("th", null, "kind"), h("th", null, "size"), h("th", null, "files"), h("th", null, "digest"), h("th", null, "created"))),
    h(
      "tbody",
      null,
      list.map((a) =>
        h(
          "tr",
          null,
          h("td", null, a.path ?? ""),
          h("td", null, enumName(a.kind, "ARTIFACT_KIND_").toLowerCase()),
          h("td", null, fmtBytes(a.sizeBytes)),
          h("td", null, String(num(a.fileCount))),
          h("td", { title: a.manifestDigest ?? "" }, h("code", null, (a.manifestDigest ?? "").slice(0, 12))),
          h("td", null, fmtTime(a.createTime)),
        ),
      ),
    ),
  );
}
