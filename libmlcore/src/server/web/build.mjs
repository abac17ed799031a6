// Bundles the UI with esbuild into DIST (default ../../../../build/web/dist): index.html, app.js
// (with uPlot), app.css (with uPlot's css). Minified, with a source map kept out of the embedding.
// Usage: node build.mjs [DIST]
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.argv[2] ?? join(here, "../../../../build/web/dist"));
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, "src/main.ts") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  outdir: dist,
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(dist, "index.html"));
console.log(`build-web: bundled into ${dist}`);
