// A few DOM and formatting helpers: h() builds elements, the rest turns proto3 JSON values
// (enum names, int64 strings, RFC 3339 timestamps, "3600s" durations) into text.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
      else if (k === "class") el.className = String(v);
      else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
      else if (k === "value" && "value" in el) (el as HTMLInputElement).value = String(v);
      else if (k === "checked" && "checked" in el) (el as HTMLInputElement).checked = Boolean(v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(typeof c === "number" ? String(c) : c);
  }
}

export const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

// "JOB_STATE_RUNNING" -> "RUNNING".
export function enumName(value: unknown, prefix: string): string {
  const s = String(value ?? "");
  return s.startsWith(prefix) ? s.slice(prefix.length) : s;
}

export function num(v: unknown): number {
  if (v === undefined || v === null || v === "") return 0;
  return typeof v === "number" ? v : Number(v);
}

export function parseTime(v: unknown): number | null {
  if (!v || typeof v !== "string") return null;
  const t = Date.parse(v);
  return Number.isNaN(t) || t <= 0 ? null : t;
}

export function fmtTime(v: unknown): string {
  const t = parseTime(v);
  if (t === null) return "";
  const d = new Date(t);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(ms: number): string {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  s -= mm * 60;
  const out = d ? `${d}d${hh}h` : hh ? `${hh}h${mm}m` : mm ? `${mm}m${s}s` : `${s}s`;
  return neg ? `-${out}` : out;
}

// "3600s" / "0.5s" -> milliseconds.
export function parseDuration(v: unknown): number {
  if (!v || typeof v !== "string") return 0;
  return parseFloat(v) * 1000;
}

export function fmtBytes(v: unknown): string {
  let n = num(v);
  if (!n) return "0";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)}${units[i]}`;
}

export interface Resources {
  cpuMillis?: string | number;
  memoryBytes?: string | number;
  gpu?: number;
  gpuModel?: string;
}

export function fmtCpu(v: unknown): string {
  const m = num(v);
  return m % 1000 === 0 ? String(m / 1000) : (m / 1000).toFixed(2);
}

export function fmtResources(r: Resources | null | undefined): string {
  if (!r) return "";
  const parts: string[] = [];
  if (num(r.cpuMillis)) parts.push(`cpu=${fmtCpu(r.cpuMillis)}`);
  if (num(r.memoryBytes)) parts.push(`mem=${fmtBytes(r.memoryBytes)}`);
  if (num(r.gpu)) parts.push(`gpu=${r.gpu}${r.gpuModel ? `(${r.gpuModel})` : ""}`);
  return parts.join(" ");
}

export function fmtValue(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toPrecision(5).replace(/\.?0+$/, "");
  }
  return String(v);
}

export function stateClass(state: string): string {
  return `state state-${state.toLowerCase()}`;
}

export function stateBadge(state: string): HTMLElement {
  return h("span", { class: stateClass(state) }, state);
}

export function errorBox(e: unknown): HTMLElement {
  const msg = e instanceof Error ? e.message : String(e);
  return h("div", { class: "error" }, msg);
}

export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  return (...a: A) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

export function link(href: string, text: string, attrs: Attrs = {}): HTMLAnchorElement {
  return h("a", { href, ...attrs }, text);
}

// replaceChildren() that skips null, false and undefined children.
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}
