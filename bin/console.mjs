#!/usr/bin/env node
// node bin/console.mjs <serve|migrate|seed-demo|jobs|audit-verify> [options]
//
// Runs the console from its compiled server build, with plain node. The server and the commands are bundled into
// build/index.js together with the routes (app/entry.server.tsx exports them as `runtime`), so the process holds one
// copy of every module of the app (docs/decisions/001-server-and-runtime.md). A build that is missing, or older than
// a source it was made from, is rebuilt first when the Remix compiler is installed.
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { build, buildFile, canBuild, staleness } from "./build.mjs";

const stale = staleness();
if (stale && canBuild()) {
  console.error(`${stale}: building first (remix build).`);
  const status = build();
  if (status !== 0) process.exit(status);
} else if (!existsSync(buildFile)) {
  console.error(`${stale}: run \`npm run build\` first (it needs the development dependencies).`);
  process.exit(1);
} else if (stale) {
  console.error(`Warning: ${stale}, and the Remix compiler is not installed here: running the old build.`);
}

const serverBuild = await import(pathToFileURL(buildFile).href);
const code = await serverBuild.entry.module.runtime.run(process.argv.slice(2), serverBuild);
if (code !== null) process.exit(code);
