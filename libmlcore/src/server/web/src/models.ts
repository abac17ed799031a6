// The model registry: models with their aliases, a model's versions, and a version's lineage as a
// tree (version -> run -> job -> commit, the datasets it was trained on, the artifact, the
// pipeline run, and the version it was fine-tuned from, recursively).
import { call, listAll } from "./api";
import { currentProject, navigate, type PageCtx } from "./app";
import { enumName, fmtBytes, fmtTime, fmtValue, fill, h, num, stateBadge } from "./dom";
import type { DatasetRef, ModelVersion, ModelVersionLineage, ObjectRef, RegisteredModel } from "./types";

const enc = encodeURIComponent;

export async function renderModels(ctx: PageCtx): Promise<void> {
  const project = currentProject();
  const models = await listAll<RegisteredModel>("RegistryService.ListRegisteredModels", { project }, "models", undefined, ctx.signal);
  fill(ctx.root, 
    h("div", { class: "page-head" }, h("h2", null, "Models in ", project), h("span", { class: "muted" }, `${models.length} models`)),
    models.length
      ? h(
          "table",
          { class: "grid clickable", id: "models-table" },
          h("thead", null, h("tr", null, ["model", "latest", "aliases", "updated", "created by", "description"].map((c) => h("th", null, c)))),
          h(
            "tbody",
            null,
            models.map((m) =>
              h(
                "tr",
                { "data-model": m.name ?? "", onclick: () => navigate(`#/models/${enc(m.name ?? "")}?project=${enc(project)}`) },
                h("td", null, h("a", { href: `#/models/${enc(m.name ?? "")}?project=${enc(project)}` }, m.name ?? "")),
                h("td", null, `v${num(m.latestVersion)}`),
                h("td", null, aliasChips(m)),
                h("td", null, fmtTime(m.updateTime)),
                h("td", null, m.createdBy ?? ""),
                h("td", null, m.description ?? ""),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No models. Register one with ", h("code", null, "mlc model register NAME --run RUN --path PATH"), "."),
  );
}

function aliasChips(m: RegisteredModel): HTMLElement {
  return h(
    "span",
    null,
    (m.aliases ?? []).map((a) => h("span", { class: "chip" }, `@${a.alias} → v${num(a.version)}`)),
  );
}

export async function renderModel(ctx: PageCtx): Promise<void> {
  const project = currentProject();
  const name = ctx.params[0];
  const [model, versions] = await Promise.all([
    call<RegisteredModel>("RegistryService.GetRegisteredModel", { project, name }, ctx.signal),
    listAll<ModelVersion>("RegistryService.ListModelVersions", { project, model: name }, "versions", undefined, ctx.signal),
  ]);
  versions.sort((a, b) => num(b.version) - num(a.version));
  const metricKeys = [...new Set(versions.flatMap((v) => Object.keys(v.metrics ?? {})))].sort().slice(0, 8);
  fill(ctx.root, 
    h("div", { class: "page-head" }, h("h2", null, h("a", { class: "crumb", href: `#/models?project=${enc(project)}` }, "models"), " / ", name), aliasChips(model)),
    model.description ? h("p", null, model.description) : null,
    h(
      "table",
      { class: "grid clickable", id: "versions-table" },
      h("thead", null, h("tr", null, ["version", "status", "aliases", "run", "job", ...metricKeys, "size", "created", ""].map((c) => h("th", null, c)))),
      h(
        "tbody",
        null,
        versions.map((v) => {
          const lineage = `#/models/${enc(name)}/${num(v.version)}?project=${enc(project)}`;
          return h(
            "tr",
            { "data-version": String(num(v.version)) },
            h("td", null, h("a", { href: lineage }, `v${num(v.version)}`)),
            h("td", null, stateBadge(enumName(v.status, "MODEL_VERSION_STATUS_"))),
            h("td", null, (v.aliases ?? []).map((a) => h("span", { class: "chip" }, `@${a}`))),
            h("td", null, v.runId ? h("a", { href: `#/runs/${enc(v.runId)}?project=${enc(project)}` }, v.runId.slice(0, 10)) : ""),
            h("td", null, v.jobId ? h("a", { href: `#/jobs/${enc(v.jobId)}?project=${enc(project)}` }, v.jobId.slice(0, 10)) : ""),
            metricKeys.map((k) => h("td", { class: "num" }, v.metrics?.[k] !== undefined ? fmtValue(Number(v.metrics[k])) : "")),
            h("td", null, fmtBytes(v.sizeBytes)),
            h("td", null, fmtTime(v.createTime)),
            h("td", null, h("a", { href: lineage, class: "lineage-link" }, "lineage")),
          );
        }),
      ),
    ),
  );
}

function node(kind: string, label: Node | string, detail?: Node | string | null, cls = ""): HTMLElement {
  return h("div", { class: `node ${cls}`, "data-kind": kind }, h("div", { class: "node-kind" }, kind), h("div", { class: "node-label" }, label), detail ? h("div", { class: "node-detail" }, detail) : null);
}

function refLink(ref: ObjectRef | null | undefined, project: string): Node | string {
  if (!ref?.id) return "";
  const p = ref.project || project;
  const text = ref.displayName || ref.id;
  switch (ref.kind) {
    case "OBJECT_KIND_RUN":
      return h("a", { href: `#/runs/${enc(ref.id)}?project=${enc(p)}` }, text);
    case "OBJECT_KIND_JOB":
      return h("a", { href: `#/jobs/${enc(ref.id)}?project=${enc(p)}` }, text);
    case "OBJECT_KIND_PIPELINE_RUN":
      return h("a", { href: `#/pipelines/${enc(ref.id)}?project=${enc(p)}` }, text);
    default:
      return text;
  }
}

function datasetNode(d: DatasetRef): HTMLElement {
  return node("dataset", d.uri ?? "", d.digest ? h("code", { title: d.digest }, d.digest.slice(0, 12) + (num(d.sizeBytes) ? ` · ${fmtBytes(d.sizeBytes)}` : "")) : null);
}

// One lineage level as a tree: the version, then what it was built from.
function lineageTree(l: ModelVersionLineage, project: string): HTMLElement {
  const v = l.version ?? {};
  const src = l.sourceCode ?? v.sourceCode;
  const li = (n: Node, ...kids: (HTMLElement | null)[]) => {
    const k = kids.filter(Boolean) as HTMLElement[];
    return h("li", null, n, k.length ? h("ul", null, k) : null);
  };
  const commit = src?.gitCommit
    ? li(node("commit", h("code", null, src.gitCommit.slice(0, 12)), [src.gitRemote, src.gitBranch, src.gitDirty ? "dirty" : ""].filter(Boolean).join(" · ")))
    : null;
  const idOf = (r: ObjectRef) => [r.displayName && r.displayName !== r.id ? r.id : "", r.project && r.project !== project ? `project ${r.project}` : ""].filter(Boolean).join(" · ");
  const job = l.job?.id ? li(node("job", refLink(l.job, project), idOf(l.job)), commit) : null;
  const datasets = (l.datasets ?? []).map((d) => li(datasetNode(d)));
  const run = l.run?.id ? li(node("run", refLink(l.run, project), idOf(l.run)), job, ...(l.job?.id ? [] : [commit])) : null;
  const artifact = l.artifact?.id ? li(node("artifact", l.artifact.displayName || l.artifact.id, h("code", null, l.artifact.id))) : null;
  const pipeline = l.pipelineRun?.id ? li(node("pipeline run", refLink(l.pipelineRun, project))) : null;
  const parent = l.parent?.version ? h("li", null, h("div", { class: "edge-label" }, "fine-tuned from"), h("ul", null, lineageTree(l.parent, project))) : null;
  const metrics = Object.entries(v.metrics ?? {})
    .map(([k, x]) => `${k}=${fmtValue(Number(x))}`)
    .join(" ");
  return li(
    node("model version", `${v.model ?? ""} v${num(v.version)}`, [enumName(v.status, "MODEL_VERSION_STATUS_").toLowerCase(), (v.aliases ?? []).map((a) => "@" + a).join(" "), metrics].filter(Boolean).join(" · "), "root"),
    run,
    ...(l.run?.id ? [] : [job, ...(l.job?.id ? [] : [commit])]),
    ...datasets,
    artifact,
    pipeline,
    parent,
  );
}

export async function renderLineage(ctx: PageCtx): Promise<void> {
  const project = currentProject();
  const [name, versionText] = ctx.params;
  const version = versionText.replace(/^v/, "");
  const lineage = await call<ModelVersionLineage>("RegistryService.GetModelVersionLineage", { project, model: name, version, depth: 5 }, ctx.signal);
  fill(ctx.root, 
    h(
      "div",
      { class: "page-head" },
      h("h2", null, h("a", { class: "crumb", href: `#/models?project=${enc(project)}` }, "models"), " / ", h("a", { class: "crumb", href: `#/models/${enc(name)}?project=${enc(project)}` }, name), ` / v${version} lineage`),
    ),
    h("div", { class: "panel" }, h("ul", { class: "tree", id: "lineage" }, lineageTree(lineage, project))),
    h("details", null, h("summary", null, "raw lineage"), h("pre", { class: "json" }, JSON.stringify(lineage, null, 2))),
  );
}
