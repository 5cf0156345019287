import { z } from "zod";

const booleanFlag = z
  .enum(["1", "0", "true", "false", "yes", "no"], {
    error: "must be one of 1, 0, true, false, yes, no",
  })
  .transform((v) => v === "1" || v === "true" || v === "yes");

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  DATABASE_READ_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  DATA_DIR: z.string().min(1).default("./data/pglite"),
  DEMO_MODE: booleanFlag.optional(),
  APP_ORIGIN: z.url({ error: "must be an absolute URL such as https://console.example.com" }).optional(),
  COOKIE_SECURE: booleanFlag.optional(),
  TRUST_PROXY: booleanFlag.default(false),
  AUDIT_CHECKPOINT_KEY: z.string().min(32, { error: "must be at least 32 characters (a random secret)" }).optional(),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, "must be an smtp:// or smtps:// URL").optional(),
  MAIL_FROM: z.email({ error: "must be an email address" }).optional(),
  JOBS_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86400).default(300),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface AppConfig {
  nodeEnv: "development" | "production" | "test";
  port: number;
  host: string;
  databaseUrl?: string;
  /**
   * Optional read replica of DATABASE_URL for the read-heavy pages (audit explorer, reports, exports); every
   * write, sign-in and session check stays on DATABASE_URL. Unset: everything reads the primary.
   */
  databaseReadUrl?: string;
  dataDir: string;
  /** Demo accounts may sign in only in demo mode: by default on with PGlite, off with DATABASE_URL. */
  demoMode: boolean;
  /** The origin browsers must send on every non-GET request; derived from the Host header when unset. */
  appOrigin?: string;
  cookieSecure: boolean;
  trustProxy: boolean;
  logLevel: string;
  /** Signs audit checkpoints (HS256). Unset outside demo mode means checkpoints cannot be made or checked. */
  auditCheckpointKey: string | null;
  /** How often each server runs the scheduled jobs; 0 turns the timer off (npm run jobs still works). */
  jobsIntervalSeconds: number;
  /** With SMTP_URL the jobs runner sends the mail outbox; in demo mode the mailbox page shows it instead. */
  smtpUrl: string | null;
  mailFrom: string;
}

/**
 * Demo mode only: the audit checkpoint key when none is configured. Public by design (it is in the repository),
 * so it proves nothing outside a demo; the server refuses it whenever demo mode is off.
 */
export const DEMO_CHECKPOINT_KEY = "demo-only-audit-checkpoint-key-not-a-secret";

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Reads and checks the environment once at boot. Throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  // Empty strings count as unset, as they do in most deployment tools.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "environment"}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databaseReadUrl: e.DATABASE_URL ? e.DATABASE_READ_URL : undefined,
    dataDir: e.DATA_DIR,
    demoMode: e.DEMO_MODE ?? !e.DATABASE_URL,
    appOrigin: e.APP_ORIGIN ? new URL(e.APP_ORIGIN).origin : undefined,
    cookieSecure: e.COOKIE_SECURE ?? e.NODE_ENV === "production",
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    jobsIntervalSeconds: e.JOBS_INTERVAL_SECONDS,
    smtpUrl: e.SMTP_URL ?? null,
    mailFrom: e.MAIL_FROM ?? "no-reply@ocp-console.invalid",
    auditCheckpointKey: e.AUDIT_CHECKPOINT_KEY ?? ((e.DEMO_MODE ?? !e.DATABASE_URL) ? DEMO_CHECKPOINT_KEY : null),
  };
}
