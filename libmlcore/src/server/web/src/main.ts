// The app: hash routing (#/jobs, #/jobs/ID, #/runs, #/runs/ID, #/compare, #/models,
// #/models/NAME, #/models/NAME/VERSION, #/pipelines, #/pipelines/ID), the header with the
// project picker, and the login gate: without a token only the login page is shown, and any 401
// sends the user back to it.
import "uplot/dist/uPlot.min.css";
import "../style.css";
import { getToken, setToken, setUnauthenticatedHandler } from "./api";
import { currentProject, loadIdentity, navigate, setCurrentProject, state, type PageCtx } from "./app";
import { errorBox, h } from "./dom";
import { renderJob } from "./job";
import { renderJobs } from "./jobs";
import { renderLogin } from "./login";
import { renderLineage, renderModel, renderModels } from "./models";
import { renderPipeline, renderPipelines } from "./pipelines";
import { renderCompare, renderRun, renderRuns } from "./runs";

type Page = (ctx: PageCtx) => void | Promise<void>;

const ROUTES: [RegExp, Page][] = [
  [/^jobs$/, renderJobs],
  [/^jobs\/([^/]+)$/, renderJob],
  [/^runs$/, renderRuns],
  [/^runs\/([^/]+)$/, renderRun],
  [/^compare$/, renderCompare],
  [/^models$/, renderModels],
  [/^models\/([^/]+)$/, renderModel],
  [/^models\/([^/]+)\/([^/]+)$/, renderLineage],
  [/^pipelines$/, renderPipelines],
  [/^pipelines\/([^/]+)$/, renderPipeline],
];

const app = document.getElementById("app")!;
let leave: (() => void) | null = null;
let identityLoaded = false;
let loginNote: string | undefined;

setUnauthenticatedHandler(() => {
  setToken(null);
  identityLoaded = false;
  loginNote = "Your session ended (the token was refused): log in again.";
  if (!location.hash.startsWith("#/login")) location.hash = "#/login";
  else void route();
});

function header(section: string): HTMLElement {
  const project = currentProject();
  const picker = h(
    "select",
    {
      id: "project-picker",
      title: "Project",
      onchange: (ev: Event) => {
        const name = (ev.target as HTMLSelectElement).value;
        setCurrentProject(name);
        const top = section || "jobs";
        location.hash = `#/${top}?project=${encodeURIComponent(name)}`;
      },
    },
    state.projects.map((p) => h("option", { value: p.name, selected: p.name === project }, p.name ?? "")),
  );
  const nav = (name: string, label: string) =>
    h("a", { href: `#/${name}?project=${encodeURIComponent(project)}`, class: section === name ? "active" : "" }, label);
  const user = state.who?.user;
  return h(
    "header",
    null,
    h("span", { class: "brand" }, "mlcore"),
    h("nav", null, nav("jobs", "Jobs"), nav("runs", "Runs"), nav("models", "Models"), nav("pipelines", "Pipelines")),
    h("span", { class: "spacer" }),
    h("label", { class: "picker" }, "project ", picker),
    h("span", { class: "user", id: "user-name" }, user?.name ?? "", user?.admin ? " (admin)" : ""),
    h(
      "button",
      {
        class: "link",
        id: "logout",
        onclick: () => {
          setToken(null);
          identityLoaded = false;
          loginNote = undefined;
          location.hash = "#/login";
        },
      },
      "log out",
    ),
  );
}

async function route(): Promise<void> {
  leave?.();
  leave = null;
  const [pathPart, queryPart] = location.hash.replace(/^#\/?/, "").split("?");
  if (!getToken()) {
    renderLogin(app, () => {
      loginNote = undefined;
      // Back to the page that was asked for, else the jobs.
      navigate(pathPart && pathPart !== "login" ? location.hash : "#/jobs");
    }, loginNote);
    return;
  }
  if (pathPart === "login" || pathPart === "") {
    location.hash = "#/jobs";
    return;
  }
  if (!identityLoaded) {
    app.replaceChildren(h("div", { class: "loading" }, "Loading…"));
    try {
      await loadIdentity();
      identityLoaded = true;
    } catch (e) {
      if (!getToken()) return; // 401: the handler has shown the login page.
      app.replaceChildren(errorBox(e));
      return;
    }
  }
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  leave = () => {
    controller.abort();
    for (const fn of cleanups) fn();
  };
  const section = pathPart.split("/")[0];
  const main = h("main", { id: "page" });
  app.replaceChildren(header(section), main);
  const query = new URLSearchParams(queryPart ?? "");
  if (query.get("project")) setCurrentProject(query.get("project")!);
  for (const [re, page] of ROUTES) {
    const m = pathPart.match(re);
    if (!m) continue;
    const ctx: PageCtx = {
      root: main,
      params: m.slice(1).map(decodeURIComponent),
      query,
      signal: controller.signal,
      onCleanup: (fn) => cleanups.push(fn),
    };
    try {
      await page(ctx);
    } catch (e) {
      if (controller.signal.aborted) return;
      main.append(errorBox(e));
    }
    return;
  }
  main.replaceChildren(h("p", null, "No such page: ", pathPart));
}

window.addEventListener("hashchange", () => void route());
void route();
