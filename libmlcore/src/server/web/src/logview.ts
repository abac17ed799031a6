// A log viewer: lines arrive in batches from the SSE logs stream; only the lines in view are in
// the DOM. A search box filters (and highlights) lines, timestamps can be shown or hidden, and the
// view sticks to the bottom while the user has not scrolled up.
import { h } from "./dom";
import type { LogLine } from "./types";

const LINE_HEIGHT = 18;
const MAX_LINES = 200_000;

export class LogView {
  readonly el: HTMLElement;
  private lines: LogLine[] = [];
  private view: LogLine[] = [];
  private needle = "";
  private timestamps = false;
  private stick = true;
  private frame = 0;
  private body: HTMLElement;
  private spacer: HTMLElement;
  private window: HTMLElement;
  private countEl: HTMLElement;

  constructor() {
    const search = h("input", { type: "search", id: "log-search", placeholder: "search logs" });
    search.addEventListener("input", () => {
      this.needle = search.value.toLowerCase();
      this.refilter();
    });
    const ts = h("input", { type: "checkbox", id: "log-timestamps" });
    ts.addEventListener("change", () => {
      this.timestamps = ts.checked;
      this.draw(true);
    });
    this.countEl = h("span", { class: "muted", id: "log-count" }, "0 lines");
    this.spacer = h("div", { class: "vt-spacer" });
    this.window = h("div", { class: "log-window" });
    this.body = h("div", { class: "log-body", id: "log-body" }, this.spacer, this.window);
    this.body.addEventListener(
      "scroll",
      () => {
        this.stick = this.body.scrollTop + this.body.clientHeight >= this.body.scrollHeight - LINE_HEIGHT * 2;
        this.schedule();
      },
      { passive: true },
    );
    this.el = h(
      "div",
      { class: "logview" },
      h("div", { class: "log-toolbar" }, search, h("label", null, ts, " timestamps"), this.countEl),
      this.body,
    );
  }

  append(lines: LogLine[]): void {
    if (lines.length === 0) return;
    this.lines.push(...lines);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    if (this.needle) this.view.push(...lines.filter((l) => this.matches(l)));
    else this.view = this.lines;
    if (this.view.length > MAX_LINES) this.view = this.view.slice(-MAX_LINES);
    this.update();
  }

  clear(): void {
    this.lines = [];
    this.view = [];
    this.update();
  }

  private matches(l: LogLine): boolean {
    return (l.text ?? "").toLowerCase().includes(this.needle);
  }

  private refilter(): void {
    this.view = this.needle ? this.lines.filter((l) => this.matches(l)) : this.lines;
    this.update();
  }

  private update(): void {
    this.spacer.style.height = `${this.view.length * LINE_HEIGHT}px`;
    this.countEl.textContent = this.needle ? `${this.view.length} of ${this.lines.length} lines` : `${this.lines.length} lines`;
    if (this.stick) this.body.scrollTop = this.body.scrollHeight;
    this.draw(true);
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw(false);
    });
  }

  private lastRange: [number, number] = [-1, -1];

  private draw(force: boolean): void {
    const height = this.body.clientHeight || 400;
    const first = Math.max(0, Math.floor(this.body.scrollTop / LINE_HEIGHT) - 20);
    const last = Math.min(this.view.length, Math.ceil((this.body.scrollTop + height) / LINE_HEIGHT) + 20);
    if (!force && first === this.lastRange[0] && last === this.lastRange[1]) return;
    this.lastRange = [first, last];
    this.window.style.transform = `translateY(${first * LINE_HEIGHT}px)`;
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) frag.append(this.renderLine(this.view[i]));
    this.window.replaceChildren(frag);
  }

  private renderLine(l: LogLine): HTMLElement {
    const el = document.createElement("div");
    const stream = (l.stream ?? "").replace("LOG_STREAM_", "").toLowerCase();
    el.className = `log-line log-${stream}`;
    if (this.timestamps && l.time) {
      const ts = document.createElement("span");
      ts.className = "log-ts";
      ts.textContent = l.time.replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1Z") + " ";
      el.append(ts);
    }
    const text = l.text ?? "";
    if (this.needle) {
      const lower = text.toLowerCase();
      let at = 0;
      for (let i = lower.indexOf(this.needle); i >= 0; i = lower.indexOf(this.needle, at)) {
        el.append(text.slice(at, i));
        const mark = document.createElement("mark");
        mark.textContent = text.slice(i, i + this.needle.length);
        el.append(mark);
        at = i + this.needle.length;
      }
      el.append(text.slice(at));
    } else {
      el.append(text);
    }
    return el;
  }
}
