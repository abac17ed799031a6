// The HTTP/JSON API of `mlc server --http`: one function per rpc call, routed by the rpc's
// `(mlcore.v1.http)` option (routes.ts), with the bearer token, errors as ApiError, and
// server-streaming rpcs read as Server-Sent Events through fetch() so the token can be sent.
import { routeFor, type Route } from "./routes";

const TOKEN_KEY = "mlcore.token";

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

// An error answer: `{"error": {"code": 404, "status": "NOT_FOUND", "message": "..."}}`.
export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
  get denied(): boolean {
    return this.httpStatus === 403 || this.status === "PERMISSION_DENIED";
  }
  get unauthenticated(): boolean {
    return this.httpStatus === 401 || this.status === "UNAUTHENTICATED";
  }
}

// Called on any 401: the app forgets the token and shows the login page.
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

type Json = Record<string, unknown>;

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function getField(obj: Json, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split(".")) {
    if (cur == null || typeof cur !== "object") return undefined;
    const o = cur as Json;
    cur = part in o ? o[part] : o[camel(part)];
  }
  return cur;
}

function deleteField(obj: Json, dotted: string): void {
  const parts = dotted.split(".");
  let cur: unknown = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (cur == null || typeof cur !== "object") return;
    const o = cur as Json;
    cur = parts[i] in o ? o[parts[i]] : o[camel(parts[i])];
  }
  if (cur && typeof cur === "object") {
    const o = cur as Json;
    delete o[parts[parts.length - 1]];
    delete o[camel(parts[parts.length - 1])];
  }
}

// Query parameters for GET/DELETE: nested fields dotted, repeated fields repeated, maps as
// `field[key]=value` are not in the mapping rules, so they are not sent.
function appendQuery(params: URLSearchParams, prefix: string, value: unknown): void {
  if (value === undefined || value === null || value === "") return;
  if (Array.isArray(value)) {
    for (const v of value) appendQuery(params, prefix, v);
  } else if (typeof value === "object") {
    for (const [k, v] of Object.entries(value as Json)) appendQuery(params, prefix ? `${prefix}.${k}` : k, v);
  } else {
    params.append(prefix, String(value));
  }
}

export interface BuiltRequest {
  method: string;
  url: string;
  body?: string;
}

// Fills the route template from the request; what is left goes to the query string (GET,
// DELETE) or the JSON body (POST, PUT, PATCH), as the gateway's mapping rules say.
export function buildRequest(route: Route, req: Json): BuiltRequest {
  const rest: Json = structuredClone(req);
  const path = route.path.replace(/\{([a-zA-Z0-9_.]+)(=\*\*)?\}/g, (_m, field: string, rest2?: string) => {
    const v = getField(req, field);
    deleteField(rest, field);
    const s = v === undefined || v === null ? "" : String(v);
    return rest2 ? s.split("/").map(encodeURIComponent).join("/") : encodeURIComponent(s);
  });
  if (route.method === "GET" || route.method === "DELETE") {
    const params = new URLSearchParams();
    appendQuery(params, "", rest);
    const q = params.toString();
    return { method: route.method, url: q ? `${path}?${q}` : path };
  }
  return { method: route.method, url: path, body: JSON.stringify(rest) };
}

function headers(json: boolean): HeadersInit {
  const h: Record<string, string> = {};
  const token = getToken();
  if (token) h["Authorization"] = `Bearer ${token}`;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function errorOf(resp: Response): Promise<ApiError> {
  let status = "UNKNOWN";
  let message = `${resp.status} ${resp.statusText}`;
  try {
    const body = (await resp.json()) as { error?: { status?: string; message?: string } };
    if (body.error) {
      status = body.error.status ?? status;
      message = body.error.message ?? message;
    }
  } catch {
    // Not JSON (a proxy's page): keep the HTTP status line.
  }
  if (resp.status === 401) onUnauthenticated();
  return new ApiError(resp.status, status, message);
}

// The reads index.html started before the app loaded, by URL (see its boot script).
interface Boot {
  at: number;
  pending: Record<string, Promise<Response>>;
}
const BOOT_TTL_MS = 10_000;
const bootToken = getToken();

// The boot script's answer to `GET url`, once, if it is young and the token is the one it used.
function takeBooted(url: string, token: string | null): Promise<Response> | undefined {
  const boot = (window as { __mlcBoot?: Boot }).__mlcBoot;
  if (!boot || performance.now() - boot.at > BOOT_TTL_MS || token !== bootToken) return undefined;
  const resp = boot.pending[url];
  delete boot.pending[url];
  return resp;
}

// Calls a unary rpc ("JobService.GetJob") with a request in the proto3 JSON mapping.
export async function call<T>(rpc: string, req: Json = {}, signal?: AbortSignal): Promise<T> {
  const r = buildRequest(routeFor(rpc), req);
  const booted = r.method === "GET" && !signal?.aborted ? takeBooted(r.url, getToken()) : undefined;
  const resp = await (booted ?? fetch(r.url, { method: r.method, headers: headers(r.body !== undefined), body: r.body, signal }));
  if (!resp.ok) throw await errorOf(resp);
  return (await resp.json()) as T;
}

// Reads a server-streaming rpc as Server-Sent Events: `onMessage` per `data:` event; resolves
// when the stream ends, rejects with ApiError on an `event: error` or an error answer. Abort
// `signal` to stop.
export async function stream<T>(
  rpc: string,
  req: Json,
  onMessage: (msg: T) => void,
  signal?: AbortSignal,
): Promise<void> {
  const r = buildRequest(routeFor(rpc), req);
  const h = headers(r.body !== undefined) as Record<string, string>;
  h["Accept"] = "text/event-stream";
  const resp = await fetch(r.url, { method: r.method, headers: h, body: r.body, signal });
  if (!resp.ok) throw await errorOf(resp);
  if (!resp.body) return;
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let event = "message";
  let data: string[] = [];
  const dispatch = () => {
    if (data.length === 0) {
      event = "message";
      return;
    }
    const text = data.join("\n");
    const kind = event;
    data = [];
    event = "message";
    const parsed = JSON.parse(text) as unknown;
    if (kind === "error") {
      const e = (parsed as { error?: { code?: number; status?: string; message?: string } }).error ?? {};
      throw new ApiError(e.code ?? 500, e.status ?? "UNKNOWN", e.message ?? text);
    }
    onMessage(parsed as T);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") dispatch();
      else if (line.startsWith(":")) continue;
      else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      else if (line.startsWith("event:")) event = line.slice(6).trim();
    }
  }
  dispatch();
}

// Reads every page of a list rpc: `key` names the repeated field of the response. `onPage` sees
// each page as it arrives (for incremental rendering); a small `firstPage` draws sooner.
export async function listAll<T>(
  rpc: string,
  req: Json,
  key: string,
  onPage?: (items: T[], done: boolean) => void,
  signal?: AbortSignal,
  maxItems = 100_000,
  firstPage = 1000,
): Promise<T[]> {
  const all: T[] = [];
  let pageToken = "";
  for (;;) {
    const resp = await call<Json>(rpc, { ...req, pageSize: pageToken ? 1000 : firstPage, pageToken }, signal);
    const items = (resp[key] as T[] | undefined) ?? [];
    all.push(...items);
    pageToken = (resp.nextPageToken as string | undefined) ?? "";
    const done = !pageToken || all.length >= maxItems;
    onPage?.(items, done);
    if (done) return all;
  }
}
