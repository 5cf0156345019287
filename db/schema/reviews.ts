import { sql } from "drizzle-orm";
import { boolean, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { participants } from "./participants";
import { users } from "./users";
import { roleGrants } from "./roles";
import { apiClients } from "./credentials";

/** The reviews module's tables (app/modules/reviews): access review campaigns and their items (SPEC §8). Only that module writes them (eslint: local/module-owns-tables). */

export const CAMPAIGN_POLICIES = ["revoke", "flag"] as const;
export type CampaignPolicy = (typeof CAMPAIGN_POLICIES)[number];

/** An access review campaign (SPEC §8): every active grant in scope becomes an item to keep or revoke. */
export const reviewCampaigns = pgTable(
  "review_campaigns",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    // Null means every participant / every role.
    participantIds: jsonb("participant_ids").$type<string[] | null>(),
    roleCodes: jsonb("role_codes").$type<string[] | null>(),
    // API clients and their owners are reviewed too when set (SPEC §8).
    includeApiClients: boolean("include_api_clients").notNull().default(false),
    deadline: timestamp("deadline", { withTimezone: true, precision: 3 }).notNull(),
    // What happens to items still undecided at the deadline.
    deadlinePolicy: text("deadline_policy").$type<CampaignPolicy>().notNull(),
    status: text("status").$type<"open" | "closed">().notNull().default("open"),
    createdBy: text("created_by").references(() => users.id),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull(),
    closedAt: timestamp("closed_at", { withTimezone: true, precision: 3 }),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    check("review_campaigns_policy_valid", sql`${t.deadlinePolicy} in ('revoke','flag')`),
    check("review_campaigns_status_valid", sql`${t.status} in ('open','closed')`),
  ],
);

export const REVIEW_DECISIONS = ["keep", "revoke"] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

export const reviewItems = pgTable(
  "review_items",
  {
    id: text("id").primaryKey(),
    campaignId: text("campaign_id")
      .notNull()
      .references(() => reviewCampaigns.id),
    participantId: text("participant_id")
      .notNull()
      .references(() => participants.id),
    // What is reviewed: a role grant, or an API client (whose owner is the item's user).
    kind: text("kind").$type<"grant" | "api_client">().notNull().default("grant"),
    grantId: text("grant_id").references(() => roleGrants.id),
    apiClientId: text("api_client_id").references(() => apiClients.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    roleCode: text("role_code"),
    decision: text("decision").$type<ReviewDecision>(),
    comment: text("comment"),
    decidedBy: text("decided_by").references(() => users.id),
    decidedAt: timestamp("decided_at", { withTimezone: true, precision: 3 }),
    // After the campaign closes: kept, revoked, auto-revoked at the deadline, or flagged at the deadline.
    outcome: text("outcome").$type<"kept" | "revoked" | "auto_revoked" | "flagged" | "already_ended">(),
    version: integer("version").notNull().default(1),
  },
  (t) => [
    uniqueIndex("review_items_campaign_grant_unique").on(t.campaignId, t.grantId),
    uniqueIndex("review_items_campaign_client_unique").on(t.campaignId, t.apiClientId),
    check("review_items_subject", sql`(${t.kind} = 'grant' and ${t.grantId} is not null) or (${t.kind} = 'api_client' and ${t.apiClientId} is not null)`),
    index("review_items_participant_idx").on(t.participantId, t.campaignId),
    index("review_items_grant_idx").on(t.grantId),
    check("review_items_decision_valid", sql`${t.decision} is null or ${t.decision} in ('keep','revoke')`),
  ],
);

export type ReviewCampaign = typeof reviewCampaigns.$inferSelect;
export type ReviewItem = typeof reviewItems.$inferSelect;
