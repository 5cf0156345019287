import { and, count, eq, gte, isNull, lte } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { auditEvents, users } from "../../db/schema";
import { createUser, updateUser } from "../../app/modules/users/service.server";
import { contextFor } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { startServer, type RunningServer } from "../support/server";
import { verifiedClients } from "../support/sessions";

/**
 * The audit explorer read as a person reads it (issue 14): events as sentences in the reader's language with the
 * people, roles and participants named, changed fields labelled with their values in words and Hong Kong time, a
 * grouped action list, people found by name or email within the reader's tenancy, and activity over time.
 */

interface ExplorerData {
  filters: Record<string, string | undefined>;
  people: { actor: { text: string; candidates: { id: string }[]; unmatched: string | null }; user: { text: string; candidates: { id: string }[]; unmatched: string | null } };
  names: { users: Record<string, { name: string }>; roles: Record<string, { en: string; zh: string }>; participants: Record<string, { en: string; zh: string }> };
  chart: { unit: "day" | "hour"; total: number; buckets: { label: string; count: number; from: string; to: string }[] };
  events: { id: number; action: string; actorUserId: string | null; participantId: string | null; refs: { userId: string | null; roleCode: string | null } }[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** The text a reader sees: no scripts (the loader data), no tags, entities decoded for the few used. */
function visibleText(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/g, " ")
    .replace(/<\/(p|td|th|li|div|dt|dd|option|tr|h\d|figcaption|caption|title|text|label|summary)>/g, " ")
    .replace(/<[^>]+>/g, "")
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ");
}

describeEachDatabase("the audit explorer, readable (issue 14)", { demo: true }, (use) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(use().db);
  });
  afterAll(() => server?.close());

  const as = verifiedClients(() => server.baseUrl, () => use().db);
  async function data(email: string, query: string): Promise<ExplorerData> {
    const res = await (await as(email)).get(`/activity?${query}${query ? "&" : ""}_data=routes%2Factivity`);
    expect(res.status).toBe(200);
    return (await res.json()) as ExplorerData;
  }
  async function page(email: string, query: string, language = "en"): Promise<string> {
    const res = await (await as(email)).get(`/activity?${query}`, { "Accept-Language": language });
    expect(res.status).toBe(200);
    return res.text();
  }
  const userByEmail = async (email: string) => (await use().db.select().from(users).where(eq(users.email, email)))[0]!;

  it("tells each role request as a sentence naming who asked, for whom and which role, in English and in Chinese", async () => {
    const explorer = await data("compliance@hkex.demo", "action=role.grant.requested");
    expect(explorer.events.length).toBeGreaterThan(3);
    // One batch of names for the page: every subject user and role of the page is named.
    for (const e of explorer.events) {
      expect(e.refs.userId && explorer.names.users[e.refs.userId]?.name, `user of event ${e.id}`).toBeTruthy();
      expect(e.refs.roleCode && explorer.names.roles[e.refs.roleCode]?.en, `role of event ${e.id}`).toBeTruthy();
    }
    const first = explorer.events[0]!;
    const role = explorer.names.roles[first.refs.roleCode!]!;
    const user = explorer.names.users[first.refs.userId!]!.name;

    const en = visibleText(await page("compliance@hkex.demo", "action=role.grant.requested"));
    expect(en).toContain(`requested the role ${role.en} for ${user}.`);
    expect(en, "no user id shown").not.toMatch(UUID);
    expect(en, "no raw action code").not.toContain("role.grant.requested");
    expect(en, "no ISO time").not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    const zh = visibleText(await page("compliance@hkex.demo", "action=role.grant.requested", "zh-HK"));
    expect(zh).toContain(`為${user}申請角色「${role.zh}」。`);
    expect(zh).not.toMatch(UUID);
  });

  it("keeps the names an event was written with: a renamed user's earlier events read with the name they had", async () => {
    const { db } = use();
    const maker = await contextFor(db, "maker@b01234.demo");
    const created = await createUser(maker, { participantId: "B01234", email: "wendy.wong@harbourview.example", displayName: "Wendy Wong", roles: ["trade_info_viewer"] });
    const [requested] = await db.select().from(auditEvents).where(and(eq(auditEvents.action, "role.grant.requested"), eq(auditEvents.entityId, created.requests[0]!)));
    expect(requested!.metadata).toMatchObject({ names: { user: "Wendy Wong", role: { en: "Trade information viewer" }, participant: { en: "Harbour View Securities Clearing Limited" } } });

    await updateUser(maker, { userId: created.user.id, version: created.user.version, displayName: "Wendy Lam" });
    const en = visibleText(await page("compliance@hkex.demo", `user=${created.user.id}`));
    expect(en).toContain("requested the role Trade information viewer for Wendy Wong.");
    expect(en).toContain("Wendy Lam");
    const zh = visibleText(await page("compliance@hkex.demo", `user=${created.user.id}`, "zh-HK"));
    expect(zh).toContain("為Wendy Wong申請角色");
  });

  it("labels changed fields in words, names the people in them and shows their times in Hong Kong time", async () => {
    const { db } = use();
    const [revoked] = await db.select().from(auditEvents).where(eq(auditEvents.action, "role.grant.revoked")).limit(1);
    if (!revoked) return; // the demo has revocations; guard against a reseeded demo without any
    const html = visibleText(await page("compliance@hkex.demo", `entityType=role_grant&entityId=${revoked.entityId}`));
    expect(html).toContain("Revoked by");
    expect(html).toContain("Revoked at");
    expect(html).not.toContain("revokedBy");
    expect(html).not.toMatch(UUID);
    const revoker = (await db.select().from(users).where(eq(users.id, String(revoked.changes!.revokedBy!.after))))[0]!;
    expect(html).toContain(revoker.displayName);
    const zh = visibleText(await page("compliance@hkex.demo", `entityType=role_grant&entityId=${revoked.entityId}`, "zh-HK"));
    expect(zh).toContain("撤銷人");
    expect(zh).toContain("撤銷時間");
  });

  it("lists actions by area instead of asking for a pattern, and names personas in words", async () => {
    const html = await page("compliance@hkex.demo", "");
    expect(html).toContain('<optgroup label="Roles and requests">');
    expect(html).toContain('<option value="role.grant.approved">Role request approved</option>');
    expect(html).toContain('<option value="case.*">Everything in “Onboarding cases”</option>');
    expect(visibleText(html)).not.toMatch(/\bda_checker\b|\bda_maker\b/);
  });

  it("finds the actor or the user by name or email, only among the users the reader may see", async () => {
    const maker = await userByEmail("maker@b01234.demo");
    const byName = await data("compliance@hkex.demo", "actor=Mandy%20Maker");
    expect(byName.filters.actorUserId).toBe(maker.id);
    expect(byName.people.actor.text).toBe("maker@b01234.demo");
    expect(byName.events.length).toBeGreaterThan(0);
    for (const e of byName.events) expect(e.actorUserId).toBe(maker.id);
    const byEmail = await data("compliance@hkex.demo", "actor=MAKER%40b01234.demo");
    expect(byEmail.filters.actorUserId).toBe(maker.id);
    expect(byEmail.events.map((e) => e.id)).toEqual(byName.events.map((e) => e.id));

    // A name several users share offers them to choose from and shows nothing meanwhile.
    const several = await data("compliance@hkex.demo", "user=demo");
    expect(several.people.user.candidates.length).toBeGreaterThan(1);
    expect(several.events).toEqual([]);

    // A participant administrator cannot find another participant's user, by email or by name.
    const wing = await userByEmail("wing.cheung@lionrock.example");
    for (const typed of ["wing.cheung@lionrock.example", "Wing Cheung", wing.id]) {
      const refused = await data("checker@b01234.demo", `user=${encodeURIComponent(typed)}`);
      expect(refused.people.user.candidates, typed).toEqual([]);
      expect(refused.events, typed).toEqual([]);
    }
    const own = await data("checker@b01234.demo", "user=Alice%20Tam");
    expect(own.people.user.unmatched).toBeNull();
    expect(own.events.length).toBeGreaterThan(0);
  });

  it("charts events per day for the filter with one figure per day, and a bar narrows to its day and then per hour", async () => {
    const { db } = use();
    const compliance = await data("compliance@hkex.demo", "");
    expect(compliance.chart.unit).toBe("day");
    expect(compliance.chart.buckets).toHaveLength(30);
    const since = new Date(`${compliance.chart.buckets[0]!.label}T00:00:00+08:00`);
    const [{ n }] = (await db.select({ n: count() }).from(auditEvents).where(gte(auditEvents.occurredAt, since))) as [{ n: number }];
    // Events written while the test runs (none here: reading writes nothing) would only add to the database side.
    expect(compliance.chart.total).toBe(Number(n));

    const busiest = [...compliance.chart.buckets].sort((a, b) => b.count - a.count)[0]!;
    expect(busiest.count).toBeGreaterThan(0);
    const day = await data("compliance@hkex.demo", `from=${busiest.from}&to=${busiest.to}`);
    expect(day.chart.unit).toBe("hour");
    expect(day.chart.buckets).toHaveLength(24);
    expect(day.chart.total).toBe(busiest.count);
    const hour = [...day.chart.buckets].sort((a, b) => b.count - a.count)[0]!;
    const narrowed = await data("compliance@hkex.demo", `from=${hour.from}&to=${encodeURIComponent(hour.to)}`);
    expect(narrowed.chart.total).toBe(hour.count);
    expect(narrowed.events.length).toBe(Math.min(hour.count, 50));

    // The same chart for an administrator counts their own participant's events only.
    const da = await data("checker@b01234.demo", "");
    const [{ own }] = (await db
      .select({ own: count() })
      .from(auditEvents)
      .where(and(eq(auditEvents.participantId, "B01234"), gte(auditEvents.occurredAt, since), lte(auditEvents.occurredAt, new Date())))) as [{ own: number }];
    expect(da.chart.total).toBe(Number(own));
    const [{ platform }] = (await db.select({ platform: count() }).from(auditEvents).where(isNull(auditEvents.participantId))) as [{ platform: number }];
    expect(Number(platform)).toBeGreaterThan(0);

    // The bars are links to their day, and the figures are text as well.
    const html = await page("compliance@hkex.demo", "");
    expect(html).toContain(`href="/activity?from=${busiest.from}&amp;to=${busiest.to}"`);
    expect(html).toMatch(/<title>[^<]*: \d/);
  });
});
