import type { ServerBuild } from "@remix-run/node";
import { auditVerifyCommand } from "../scripts/audit-verify";
import { jobsCommand } from "../scripts/jobs";
import { migrateCommand } from "../scripts/migrate";
import { seedDemoCommand } from "../scripts/seed-demo";
import { serve } from "./index";

interface Command {
  what: string;
  /** Answers the exit code, or null when the process stays up (the server, until a signal). */
  run(args: string[], build: ServerBuild): Promise<number | null>;
}

const COMMANDS: Record<string, Command> = {
  serve: { what: "migrate, seed the demo (PGlite in demo mode only), serve", run: (_args, build) => serve(build).then(() => null) },
  migrate: { what: "apply db/migrations", run: () => migrateCommand() },
  "seed-demo": { what: "seed the demo into an empty database", run: () => seedDemoCommand() },
  jobs: { what: "run the scheduled jobs once", run: () => jobsCommand() },
  "audit-verify": {
    what: "walk every audit chain, compare with the latest signed checkpoint or --checkpoint file.jws",
    run: (args) => auditVerifyCommand(args),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    "usage: node bin/console.mjs <command> [options]",
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.what}`),
  ].join("\n");
}

/**
 * Everything the process runs besides the routes. app/entry.server.tsx exports it, so it is bundled into the server
 * build with the routes: bin/console.mjs loads build/index.js and calls `run`, and every module of the app exists
 * once in the process (decision 001).
 */
export const runtime = {
  /** Runs `<command> [args]`; answers its exit code, or null when the process stays up (serve). */
  run(argv: string[], build: ServerBuild): Promise<number | null> {
    const [name = "", ...args] = argv;
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) {
      console.error(name ? `Unknown command "${name}".\n${usage()}` : usage());
      return Promise.resolve(2);
    }
    return command.run(args, build);
  },
};
