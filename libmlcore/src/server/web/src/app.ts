// What every page shares: the caller (WhoAmI), the projects it can see, the current project, and
// the page's lifetime (an AbortSignal and cleanups run when the page is left).
import { call, listAll } from "./api";
import type { Project, WhoAmIResponse } from "./types";

export interface PageCtx {
  root: HTMLElement;
  params: string[];
  query: URLSearchParams;
  signal: AbortSignal;
  onCleanup(fn: () => void): void;
}

export const state = {
  who: null as WhoAmIResponse | null,
  projects: [] as Project[],
};

const PROJECT_KEY = "mlcore.project";

export function currentProject(): string {
  const q = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const fromUrl = q.get("project");
  if (fromUrl) return fromUrl;
  const saved = localStorage.getItem(PROJECT_KEY);
  if (saved && state.projects.some((p) => p.name === saved)) return saved;
  return state.projects[0]?.name ?? "";
}

export function setCurrentProject(name: string): void {
  localStorage.setItem(PROJECT_KEY, name);
}

export async function loadIdentity(): Promise<void> {
  // Side by side: the first page of the app waits for both.
  [state.who, state.projects] = await Promise.all([
    call<WhoAmIResponse>("AuthService.WhoAmI"),
    listAll<Project>("ProjectService.ListProjects", {}, "projects"),
  ]);
}

const ROLE_RANK: Record<string, number> = { ROLE_VIEWER: 1, ROLE_EDITOR: 2, ROLE_ADMIN: 3 };

// The caller's role on a project: a server administrator is admin everywhere; a binding on a
// project also applies to its sub-projects. Unknown (no WhoAmI bindings, e.g. --insecure-local):
// assume the server will say, so report editor and let a 403 disable the action.
export function roleRank(project: string | undefined): number {
  const who = state.who;
  if (!who) return 2;
  if (who.user?.admin) return 3;
  const bindings = who.bindings ?? [];
  let best = 0;
  const seen = new Set<string>();
  let p: string | undefined = project;
  while (p && !seen.has(p)) {
    seen.add(p);
    for (const b of bindings) if (b.project === p) best = Math.max(best, ROLE_RANK[b.role ?? ""] ?? 0);
    p = state.projects.find((x) => x.name === p)?.parent || undefined;
  }
  return best;
}

export function canEdit(project: string | undefined): boolean {
  return roleRank(project) >= 2;
}

export function navigate(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

// "#/jobs" with the current project in the query.
export function withProject(path: string, project = currentProject()): string {
  return `#${path}?project=${encodeURIComponent(project)}`;
}
