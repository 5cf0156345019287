import type { Logger } from "pino";
import type { Database } from "../../../db/client.server";
import { AppError } from "~/lib/errors";
import { systemContext } from "../context.server";
import { closeCampaign, dueCampaigns } from "../reviews/service.server";

export interface JobsResult {
  campaignsClosed: number;
}

/**
 * Scheduled work, run by `npm run jobs` and by each server on a timer. Every job is safe to run from several
 * processes at once: each change happens under a row lock and checks that it is still due.
 */
export async function runJobs(db: Database, logger?: Pick<Logger, "info" | "warn">): Promise<JobsResult> {
  const ctx = systemContext(db, `jobs-${Date.now()}`);
  let campaignsClosed = 0;
  for (const id of await dueCampaigns(db)) {
    try {
      await closeCampaign(ctx, id);
      campaignsClosed++;
    } catch (error) {
      // Another process closed it first.
      if (!(error instanceof AppError && error.status === 409)) throw error;
    }
  }
  if (campaignsClosed) logger?.info({ campaignsClosed }, "jobs: access reviews closed at their deadline");
  return { campaignsClosed };
}
