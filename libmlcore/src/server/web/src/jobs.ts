// The jobs page: the project's jobs by state, its quota (used / limit per resource) and usage per
// user, and a filterable, sortable virtual table of every job. The first page of ListJobs is drawn
// as soon as it arrives and later pages are appended; the newest page is polled for changes.
import { call, listAll, stream } from "./api";
import { currentProject, navigate, type PageCtx } from "./app";
import { enumName, errorBox, fmtBytes, fmtCpu, fmtDuration, fmtResources, fmtTime, h, num, parseDuration, parseTime, stateBadge, type Resources } from "./dom";
import type { Job, QuotaUsage } from "./types";
import { VirtualTable } from "./vtable";

export const JOB_STATES = ["PENDING", "STARTING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "PREEMPTED", "TIMED_OUT", "LOST"];
const NO_DEADLINE = 1e15;

function jobState(j: Job): string {
  return enumName(j.state, "JOB_STATE_");
}

function deadlineLeft(j: Job, now: number): number {
  const t = parseTime(j.deadlineTime);
  return t === null ? NO_DEADLINE : t - now;
}

function searchText(j: Job): string {
  const s = j.spec ?? {};
  return [s.name, j.id, j.user, ...(s.command ?? []), ...(s.args ?? []), s.flavor, ...Object.entries(s.labels ?? {}).map(([k, v]) => `${k}=${v}`)]
    .join(" ")
    .toLowerCase();
}

export async function renderJobs(ctx: PageCtx): Promise<void> {
  const project = currentProject();
  const { root, signal } = ctx;
  if (!project) {
    root.replaceChildren(h("p", null, "No project visible to you yet. Create one with ", h("code", null, "mlc project create NAME"), "."));
    return;
  }
  const byId = new Map<string, Job>();
  const searchCache = new WeakMap<Job, string>();
  const textOf = (j: Job) => {
    let s = searchCache.get(j);
    if (s === undefined) searchCache.set(j, (s = searchText(j)));
    return s;
  };

  const summary = h("div", { class: "summary", id: "job-summary" });
  const quota = h("div", { class: "quota", id: "quota" });
  const stateSel = h("select", { id: "filter-state" }, h("option", { value: "" }, "all states"), JOB_STATES.map((s) => h("option", { value: s }, s)));
  const userSel = h("select", { id: "filter-user" }, h("option", { value: "" }, "all users"));
  const text = h("input", { id: "filter-text", type: "search", placeholder: "filter: name, id, command, label" });
  const status = h("span", { class: "muted", id: "jobs-status" }, "loading…");
  const q = ctx.query;
  if (q.get("state")) stateSel.value = q.get("state")!;
  if (q.get("q")) text.value = q.get("q")!;

  let now = Date.now();
  // A job's use of what it asked for, as fractions: CPU time over wall time x cores requested,
  // peak memory over memory requested (from resources_used; empty until the job has run).
  const usage = (j: Job): { cpu: number; ram: number } => {
    const used = j.resourcesUsed;
    const replicas = Math.max(1, j.spec?.replicas ?? 1);
    const wallS = parseDuration(used?.wallTime) / 1000;
    const cores = (num(j.resources?.cpuMillis) / 1000) * replicas;
    const mem = num(j.resources?.memoryBytes) * replicas;
    return {
      cpu: used && wallS > 0 && cores > 0 ? num(used.cpuSeconds) / (wallS * cores) : 0,
      ram: used && mem > 0 ? num(used.memoryPeakBytes) / mem : 0,
    };
  };
  const miniBar = (fraction: number) =>
    h("div", { class: "bar mini" }, h("div", { class: fraction >= 1 ? "fill full" : "fill", style: { width: `${Math.min(100, Math.round(fraction * 100))}%` } }));
  const table = new VirtualTable<Job>({
    id: "jobs-table",
    rowId: (j) => j.id ?? "",
    empty: "No jobs match.",
    onRowClick: (j) => navigate(`#/jobs/${encodeURIComponent(j.id ?? "")}?project=${encodeURIComponent(project)}`),
    columns: [
      {
        key: "name",
        label: "name",
        width: "minmax(10rem, 2fr)",
        value: (j) => j.spec?.name ?? "",
        render: (j) => h("a", { href: `#/jobs/${encodeURIComponent(j.id ?? "")}?project=${encodeURIComponent(project)}` }, j.spec?.name ?? j.id ?? ""),
      },
      { key: "state", label: "state", width: "7.5rem", value: jobState, render: (j) => stateBadge(jobState(j)) },
      {
        key: "resources",
        label: "resources",
        width: "minmax(9rem, 1.5fr)",
        value: (j) => num(j.resources?.cpuMillis) * Math.max(1, j.spec?.replicas ?? 1),
        render: (j) => (j.spec?.flavor ? `${j.spec.flavor} ` : "") + fmtResources(j.resources) + ((j.spec?.replicas ?? 1) > 1 ? ` ×${j.spec?.replicas}` : ""),
      },
      {
        key: "usage",
        label: "used",
        width: "6rem",
        value: (j) => usage(j).cpu,
        render: (j) => {
          const u = usage(j);
          if (!j.resourcesUsed) return "";
          return h("div", { class: "usage" }, miniBar(u.cpu), miniBar(u.ram));
        },
        title: (j) => {
          const u = usage(j);
          return j.resourcesUsed ? `cpu ${Math.round(u.cpu * 100)}% of requested, peak ram ${Math.round(u.ram * 100)}% of requested` : "";
        },
      },
      { key: "user", label: "user", width: "7rem", value: (j) => j.user ?? "" },
      { key: "created", label: "created", width: "13rem", value: (j) => parseTime(j.createTime) ?? 0, render: (j) => fmtTime(j.createTime) },
      {
        key: "deadline",
        label: "deadline in",
        width: "8rem",
        value: (j) => deadlineLeft(j, now),
        render: (j) => {
          const left = deadlineLeft(j, now);
          return left === NO_DEADLINE ? "" : fmtDuration(left);
        },
        title: (j) => fmtTime(j.deadlineTime),
      },
      {
        key: "qos",
        label: "qos / priority",
        width: "10rem",
        value: (j) => j.priority ?? 0,
        render: (j) => `${enumName(j.qos, "QOS_CLASS_").toLowerCase().replace("_", "-")} / ${j.priority ?? 0}`,
      },
    ],
  });
  table.sortBy("created", -1);

  const applyFilter = () => {
    const st = stateSel.value;
    const user = userSel.value;
    const words = text.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    if (!st && !user && words.length === 0) table.setFilter(null);
    else
      table.setFilter((j) => (!st || jobState(j) === st) && (!user || j.user === user) && words.every((w) => textOf(j).includes(w)));
  };
  stateSel.addEventListener("change", applyFilter);
  userSel.addEventListener("change", applyFilter);
  text.addEventListener("input", applyFilter);

  root.replaceChildren(
    h("div", { class: "page-head" }, h("h2", null, "Jobs in ", h("span", { id: "jobs-project" }, project)), status),
    h("div", { class: "jobs-top" }, summary, quota),
    h("div", { class: "filters" }, stateSel, userSel, text),
    table.el,
  );

  const drawSummary = () => {
    const counts = new Map<string, number>();
    const users = new Set<string>();
    for (const j of byId.values()) {
      const s = jobState(j);
      counts.set(s, (counts.get(s) ?? 0) + 1);
      if (j.user) users.add(j.user);
    }
    summary.replaceChildren(
      h("div", { class: "count total" }, h("b", null, String(byId.size)), " jobs"),
      ...JOB_STATES.filter((s) => counts.get(s)).map((s) =>
        h(
          "button",
          {
            class: "count",
            "data-state": s,
            onclick: () => {
              stateSel.value = stateSel.value === s ? "" : s;
              applyFilter();
            },
          },
          stateBadge(s),
          " ",
          h("b", null, String(counts.get(s))),
        ),
      ),
    );
    const selected = userSel.value;
    const known = new Set([...userSel.options].map((o) => o.value));
    for (const u of [...users].sort()) if (!known.has(u)) userSel.append(h("option", { value: u }, u));
    userSel.value = selected;
  };

  let loadedNote = "loading…";
  const setRows = () => {
    table.setRows([...byId.values()]);
    drawSummary();
    status.textContent = `${byId.size} jobs, ${loadedNote}`;
  };

  const loadQuota = async () => {
    try {
      const resp = await call<{ usages?: QuotaUsage[] }>("SchedulingService.GetQuotaUsage", { project, perUser: true }, signal);
      quota.replaceChildren(renderQuota(resp.usages?.find((u) => u.project === project) ?? resp.usages?.[0]));
    } catch (e) {
      if (!signal.aborted) quota.replaceChildren(errorBox(e));
    }
  };

  const t0 = performance.now();
  void loadQuota();
  try {
    await listAll<Job>(
      "JobService.ListJobs",
      { project, view: "JOB_VIEW_BASIC" },
      "jobs",
      (items, done) => {
        for (const j of items) if (j.id) byId.set(j.id, j);
        if (done) loadedNote = `loaded in ${Math.round(performance.now() - t0)} ms`;
        setRows();
      },
      signal,
      100_000,
      200,
    );
  } catch (e) {
    if (signal.aborted) return;
    root.append(errorBox(e));
    return;
  }

  // Every state transition of the project's jobs as it happens (WatchJobs over SSE), drawn at
  // most twice a second; the stream is restarted if it breaks.
  let dirty = false;
  const flush = setInterval(() => {
    if (!dirty) return;
    dirty = false;
    setRows();
  }, 500);
  ctx.onCleanup(() => clearInterval(flush));
  void (async () => {
    while (!signal.aborted) {
      try {
        await stream<{ jobId?: string; job?: Job }>(
          "JobService.WatchJobs",
          { project },
          (m) => {
            if (m.job?.id) {
              byId.set(m.job.id, m.job);
              dirty = true;
            }
          },
          signal,
        );
      } catch {
        // Polling below still keeps the newest jobs fresh.
      }
      await new Promise((r) => setTimeout(r, 5000));
    }
  })();

  // Keep the newest jobs, the summary and the quota fresh; the deadline column ticks.
  const timer = setInterval(async () => {
    now = Date.now();
    try {
      const resp = await call<{ jobs?: Job[] }>("JobService.ListJobs", { project, view: "JOB_VIEW_BASIC", pageSize: 200 }, signal);
      for (const j of resp.jobs ?? []) if (j.id) byId.set(j.id, j);
      setRows();
      void loadQuota();
    } catch {
      // A failed refresh keeps what is shown; a 401 has already sent the user to the login page.
    }
  }, 5000);
  ctx.onCleanup(() => clearInterval(timer));
}

const RESOURCES: [string, (r: Resources | undefined) => number, (v: number) => string][] = [
  ["cpu", (r) => num(r?.cpuMillis), fmtCpu],
  ["memory", (r) => num(r?.memoryBytes), fmtBytes],
  ["gpu", (r) => num(r?.gpu), String],
];

function renderQuota(u: QuotaUsage | undefined): HTMLElement {
  if (!u) return h("div", { class: "muted" }, "no quota information");
  const rows = RESOURCES.map(([name, get, fmt]) => {
    const used = get(u.used);
    const limit = get(u.limit);
    const pct = limit ? Math.min(100, (100 * used) / limit) : 0;
    return h(
      "tr",
      { "data-resource": name },
      h("th", null, name),
      h("td", null, fmt(used), " / ", limit ? fmt(limit) : "∞"),
      h("td", { class: "bar-cell" }, h("div", { class: "bar" }, h("div", { class: pct >= 100 ? "fill full" : "fill", style: { width: `${pct}%` } }))),
      h("td", { class: "muted" }, get(u.guaranteed) ? `guaranteed ${fmt(get(u.guaranteed))}` : ""),
      h("td", { class: "muted" }, get(u.pending) ? `pending ${fmt(get(u.pending))}` : ""),
    );
  });
  const users = (u.users ?? []).map((x) =>
    h("tr", null, h("td", null, x.user ?? ""), h("td", null, fmtResources(x.used) || "—"), h("td", null, String(x.runningJobs ?? 0)), h("td", null, String(x.pendingJobs ?? 0))),
  );
  return h(
    "div",
    null,
    h("table", { class: "kv quota-table" }, h("caption", null, `quota: ${u.runningJobs ?? 0} running, ${u.pendingJobs ?? 0} pending`), rows),
    users.length
      ? h("table", { class: "grid users-table", id: "usage-per-user" }, h("thead", null, h("tr", null, h("th", null, "user"), h("th", null, "using"), h("th", null, "running"), h("th", null, "pending"))), h("tbody", null, users))
      : null,
  );
}
