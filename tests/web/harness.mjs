// The e2e tests' harness: a real `mlc server --http` on a fresh state directory with users and
// tokens made out of band, the `mlc` CLI (over grpc://) to create what the pages show, and a
// headless Chromium driven by playwright-core (Debian's chromium; no browser download).
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const WEB = join(ROOT, "libmlcore/src/server/web");
export const MLC = resolve(process.env.MLC_BIN ?? join(ROOT, "build/dev/cli/mlc"));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = join(ROOT, "build/test-artifacts/web");

// playwright-core is a devDependency of the web UI's package (npm ci in scripts/build-web.sh).
const require = createRequire(join(WEB, "package.json"));
export const { chromium } = require("playwright-core");

const run = promisify(execFile);

export class Server {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "mlc-web-e2e-"));
    this.state = join(this.dir, "state");
    this.env = {
      ...process.env,
      MLC_NODE_CAPACITY: "cpu=8,memory=16Gi,gpu=0",
      MLC_CONFIG: join(this.dir, "config.yaml"),
      XDG_DATA_HOME: join(this.dir, "data"),
      XDG_CONFIG_HOME: join(this.dir, "config"),
      XDG_CACHE_HOME: join(this.dir, "cache"),
    };
    delete this.env.MLC_BACKEND;
    delete this.env.MLC_PROJECT;
    delete this.env.MLC_TOKEN;
    delete this.env.MLC_CONTEXT;
    this.stderr = "";
    this.proc = null;
  }

  // Creates a user with a first token (before or while the server runs); returns the token.
  async addUser(name, ...flags) {
    const { stdout } = await run(MLC, ["server", "user", "add", name, "--token", "--state", this.state, ...flags], { env: this.env });
    const token = stdout.trim();
    if (!token.startsWith("mlc_")) throw new Error(`no token from user add: ${stdout}`);
    return token;
  }

  async start() {
    this.proc = spawn(MLC, ["server", "--state", this.state, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"], {
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stderr.on("data", (d) => (this.stderr += d));
    const lines = [];
    await new Promise((resolveStart, reject) => {
      let buf = "";
      const timer = setTimeout(() => reject(new Error(`mlc server did not print its addresses in 30 s:\n${buf}\n${this.stderr}`)), 30_000);
      this.proc.on("exit", (code) => reject(new Error(`mlc server exited ${code}:\n${buf}\n${this.stderr}`)));
      this.proc.stdout.on("data", (d) => {
        buf += d;
        for (const line of buf.split("\n").slice(0, -1)) if (!lines.includes(line)) lines.push(line);
        const http = lines.find((l) => l.startsWith("http "));
        const grpc = lines.find((l) => l.startsWith("serving grpc://"));
        if (http && grpc) {
          clearTimeout(timer);
          this.url = http.split(/\s+/)[1].replace(/\/$/, "");
          this.grpc = grpc.split(/\s+/)[1];
          resolveStart();
        }
      });
    });
    this.proc.removeAllListeners("exit");
  }

  // Runs the CLI against the server as `token`; returns stdout (parsed with json: true).
  async mlc(token, args, { json = false, cwd } = {}) {
    const argv = json ? ["-o", "json", ...args] : args;
    try {
      const { stdout } = await run(MLC, argv, {
        env: { ...this.env, MLC_BACKEND: this.grpc, MLC_TOKEN: token },
        cwd: cwd ?? this.dir,
        maxBuffer: 64 << 20,
      });
      return json ? JSON.parse(stdout) : stdout;
    } catch (e) {
      throw new Error(`mlc ${argv.join(" ")}: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    }
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (!process.env.MLC_KEEP_TMP) rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

export async function waitFor(fn, { timeout = 30_000, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
