// Whether build/ is up to date with the sources, and how to rebuild it: shared by bin/console.mjs and the tests'
// global setup, so that nothing runs an old build by mistake.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const buildFile = path.join(root, "build/index.js");
const remixCli = path.join(root, "node_modules/@remix-run/dev/dist/cli.js");

/** Why build/ cannot be used as it is (missing, or older than a source it was made from), or null when it can. */
export function staleness() {
  if (!existsSync(buildFile)) return "build/index.js is missing";
  const builtAt = statSync(buildFile).mtimeMs;
  for (const metafile of ["build/metafile.server.json", "build/metafile.js.json"]) {
    let inputs;
    try {
      inputs = Object.keys(JSON.parse(readFileSync(path.join(root, metafile), "utf8")).inputs);
    } catch {
      return `${metafile} is missing`;
    }
    for (const input of inputs) {
      // Packages are not this project's sources; "namespace:…" and "<stdin>" are the compiler's virtual modules.
      if (input.startsWith("node_modules/") || input.includes(":") || input.startsWith("<")) continue;
      const file = path.join(root, input);
      if (!existsSync(file)) return `${input}, part of the last build, is gone`;
      if (statSync(file).mtimeMs > builtAt) return `${input} changed since the last build`;
    }
  }
  return null;
}

/** Whether the Remix compiler (a development dependency) is installed. */
export function canBuild() {
  return existsSync(remixCli);
}

/**
 * Runs `remix build`, its output on stderr (stdout belongs to the command that asked); answers its exit status.
 * Always a production build, as `npm run build` makes: the compiler takes its mode from NODE_ENV, which the caller
 * (a test run, a development server) may have set otherwise.
 */
export function build() {
  const result = spawnSync(process.execPath, [remixCli, "build"], {
    cwd: root,
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", 2, 2],
  });
  return result.status ?? 1;
}
