// A virtual table: only the rows in view (plus a margin) are in the DOM, so 10,000 or 100,000 rows
// render and scroll as fast as 50. Columns sort on a header click; rows are fixed-height divs laid
// out with a CSS grid.
import { h } from "./dom";

export interface Column<T> {
  key: string;
  label: string;
  width: string; // a CSS grid track: "12rem", "1fr", "minmax(8rem, 2fr)"
  value(row: T): string | number; // for sorting (and the cell text unless `render` is given)
  render?(row: T): string | Node;
  title?(row: T): string;
  className?(row: T): string;
}

export interface VirtualTableOptions<T> {
  columns: Column<T>[];
  rowHeight?: number;
  id?: string;
  rowId(row: T): string;
  onRowClick?(row: T, ev: MouseEvent): void;
  rowPrefix?(row: T): Node | null; // e.g. a checkbox, drawn in a leading narrow column
  prefixWidth?: string;
  empty?: string;
}

export class VirtualTable<T> {
  readonly el: HTMLElement;
  private body: HTMLElement;
  private spacer: HTMLElement;
  private window: HTMLElement;
  private headerEl: HTMLElement;
  private rows: T[] = [];
  private view: T[] = [];
  private sortKey: string | null = null;
  private sortDir = 1;
  private filter: ((row: T) => boolean) | null = null;
  private frame = 0;
  private readonly rowHeight: number;
  private readonly template: string;
  private rendered: [number, number] = [-1, -1];
  private countEl: HTMLElement;

  constructor(private readonly opts: VirtualTableOptions<T>) {
    this.rowHeight = opts.rowHeight ?? 30;
    this.template = [opts.rowPrefix ? (opts.prefixWidth ?? "2rem") : "", ...opts.columns.map((c) => c.width)].join(" ").trim();
    this.headerEl = h("div", { class: "vt-row vt-head", style: { gridTemplateColumns: this.template } });
    this.spacer = h("div", { class: "vt-spacer" });
    this.window = h("div", { class: "vt-window" });
    this.body = h("div", { class: "vt-body" }, this.spacer, this.window);
    this.countEl = h("div", { class: "vt-count" });
    this.el = h("div", { class: "vtable", id: opts.id }, this.headerEl, this.body, this.countEl);
    this.body.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.body);
    this.drawHeader();
  }

  setRows(rows: T[]): void {
    this.rows = rows;
    this.refresh();
  }

  setFilter(filter: ((row: T) => boolean) | null): void {
    this.filter = filter;
    this.body.scrollTop = 0;
    this.refresh();
  }

  sortBy(key: string, dir = 1): void {
    this.sortKey = key;
    this.sortDir = dir;
    this.drawHeader();
    this.refresh();
  }

  // Re-applies filter and sort to the current rows and redraws what is in view.
  refresh(): void {
    let view = this.filter ? this.rows.filter(this.filter) : this.rows.slice();
    const col = this.opts.columns.find((c) => c.key === this.sortKey);
    if (col) {
      const keyed = view.map((r) => [col.value(r), r] as const);
      const dir = this.sortDir;
      keyed.sort((a, b) => {
        const x = a[0];
        const y = b[0];
        if (typeof x === "number" && typeof y === "number") return (x - y) * dir;
        return String(x).localeCompare(String(y)) * dir;
      });
      view = keyed.map((k) => k[1]);
    }
    this.view = view;
    this.spacer.style.height = `${view.length * this.rowHeight}px`;
    this.countEl.textContent =
      view.length === this.rows.length ? `${this.rows.length} rows` : `${view.length} of ${this.rows.length} rows`;
    this.rendered = [-1, -1];
    this.draw();
  }

  get visibleRows(): readonly T[] {
    return this.view;
  }

  private drawHeader(): void {
    const cells: Node[] = [];
    if (this.opts.rowPrefix) cells.push(h("div", { class: "vt-cell" }));
    for (const c of this.opts.columns) {
      const arrow = this.sortKey === c.key ? (this.sortDir > 0 ? " ▲" : " ▼") : "";
      cells.push(
        h(
          "div",
          {
            class: "vt-cell vt-sortable",
            "data-key": c.key,
            title: `Sort by ${c.label}`,
            onclick: () => {
              if (this.sortKey === c.key) this.sortDir = -this.sortDir;
              else {
                this.sortKey = c.key;
                this.sortDir = 1;
              }
              this.drawHeader();
              this.refresh();
            },
          },
          c.label + arrow,
        ),
      );
    }
    this.headerEl.replaceChildren(...cells);
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const rh = this.rowHeight;
    const height = this.body.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.body.scrollTop / rh) - 10);
    const last = Math.min(this.view.length, Math.ceil((this.body.scrollTop + height) / rh) + 10);
    if (first === this.rendered[0] && last === this.rendered[1]) return;
    this.rendered = [first, last];
    this.window.style.transform = `translateY(${first * rh}px)`;
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) frag.append(this.renderRow(this.view[i]));
    this.window.replaceChildren(frag);
    if (this.view.length === 0) this.window.replaceChildren(h("div", { class: "vt-empty" }, this.opts.empty ?? "Nothing here."));
  }

  private renderRow(row: T): HTMLElement {
    const el = document.createElement("div");
    el.className = "vt-row";
    el.style.gridTemplateColumns = this.template;
    el.style.height = `${this.rowHeight}px`;
    el.dataset.id = this.opts.rowId(row);
    if (this.opts.rowPrefix) {
      const cell = document.createElement("div");
      cell.className = "vt-cell";
      const p = this.opts.rowPrefix(row);
      if (p) cell.append(p);
      el.append(cell);
    }
    for (const c of this.opts.columns) {
      const cell = document.createElement("div");
      cell.className = c.className ? `vt-cell ${c.className(row)}` : "vt-cell";
      if (c.render) cell.append(c.render(row));
      else cell.textContent = String(c.value(row));
      const title = c.title?.(row);
      if (title) cell.title = title;
      el.append(cell);
    }
    if (this.opts.onRowClick) {
      el.classList.add("vt-clickable");
      el.addEventListener("click", (ev) => {
        if ((ev.target as HTMLElement).closest("input,a,button")) return;
        this.opts.onRowClick!(row, ev);
      });
    }
    return el;
  }
}
