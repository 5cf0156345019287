import type { Logger } from "pino";
import type { Database } from "../../../db/client.server";
import { AppError } from "~/lib/errors";
import { rollUpAuditDays } from "../audit/activity.server";
import { runScheduledWalk, WALK_EVERY_MINUTES } from "../audit/walks.server";
import { systemContext } from "../context.server";
import { sendExpiryNotices } from "../credentials/service.server";
import { deliverOutbox } from "../mail/service.server";
import { closeCampaign, dueCampaigns } from "../reviews/service.server";
import { takeDueSnapshots } from "../rollouts/service.server";

export interface JobsResult {
  campaignsClosed: number;
  expiryNotices: number;
  /** Rollouts' carry-over snapshots taken at their end-of-day cutoff. */
  rolloutSnapshots: number;
  mailsSent: number;
  /** Integrity walks of the audit chains run (0 or 1: one an hour across every process). */
  integrityWalks: number;
  /** Closed Hong Kong days whose audit events were counted into the explorer chart's rollup. */
  auditDaysRolledUp: number;
}

export interface JobsOptions {
  smtpUrl?: string;
  mailFrom?: string;
  /** The console's public address, for links in mail (APP_ORIGIN, else the local port). */
  baseUrl?: string;
  /** AUDIT_CHECKPOINT_KEY, for the integrity walk's comparison with the latest signed checkpoint. */
  auditCheckpointKey?: string | null;
  /** Minutes between scheduled integrity walks (default 60); 0 turns them off. */
  integrityWalkMinutes?: number;
}

/**
 * Scheduled work, run by `npm run jobs` and by each server on a timer: closing access reviews past their deadline,
 * key expiry notices, rollouts' carry-over snapshots once their end-of-day cutoff has passed, sending the mail
 * outbox when SMTP is configured, counting the audit events of closed days for the explorer's chart, and the hourly integrity walk of the audit chains (recorded for the Integrity page). Every job is safe to run from several processes at once: each change happens under a row lock or a unique key and checks that it is still due.
 */
export async function runJobs(db: Database, logger?: Pick<Logger, "info" | "warn">, options: JobsOptions = {}): Promise<JobsResult> {
  const ctx = { ...systemContext(db, `jobs-${Date.now()}`), baseUrl: options.baseUrl };
  let campaignsClosed = 0;
  for (const id of await dueCampaigns(db)) {
    try {
      await closeCampaign(ctx, { campaignId: id });
      campaignsClosed++;
    } catch (error) {
      // Another process closed it first.
      if (!(error instanceof AppError && error.status === 409)) throw error;
    }
  }
  if (campaignsClosed) logger?.info({ campaignsClosed }, "jobs: access reviews closed at their deadline");
  const expiryNotices = await sendExpiryNotices(ctx);
  if (expiryNotices) logger?.info({ expiryNotices }, "jobs: key expiry notices queued");
  const rolloutSnapshots = await takeDueSnapshots(ctx);
  if (rolloutSnapshots) logger?.info({ rolloutSnapshots }, "jobs: rollout carry-over snapshots taken at the cutoff");
  const mailsSent = options.smtpUrl ? await deliverOutbox(db, options.smtpUrl, options.mailFrom ?? "no-reply@ocp-console.invalid") : 0;
  if (mailsSent) logger?.info({ mailsSent }, "jobs: mail sent");
  const auditDaysRolledUp = await rollUpAuditDays(db);
  if (auditDaysRolledUp) logger?.info({ auditDaysRolledUp }, "jobs: audit events of closed days counted for the explorer's chart");
  // Last: the walk takes seconds at volume, and the other jobs need not wait for it. One walk at a time, everywhere.
  const every = options.integrityWalkMinutes ?? WALK_EVERY_MINUTES;
  const walk = every > 0 ? await runScheduledWalk(db, options.auditCheckpointKey ?? null, every) : null;
  if (walk) logger?.[walk.ok ? "info" : "warn"]({ walkId: walk.id, ok: walk.ok, chains: walk.chains, events: walk.events }, "jobs: audit chains verified");
  return { campaignsClosed, expiryNotices, rolloutSnapshots, mailsSent, integrityWalks: walk ? 1 : 0, auditDaysRolledUp };
}
