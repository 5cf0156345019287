import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `node bin/console.mjs <command> [args]` as an operator runs it: the built console under plain node, on PGlite
 * unless the env gives a DATABASE_URL.
 */
export async function runConsoleCommand(args: string[], env: Record<string, string>, timeout = 90_000): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["bin/console.mjs", ...args], {
      env: { ...process.env, DATABASE_URL: "", LOG_LEVEL: "warn", ...env },
      timeout,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}
