import { and, desc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { auditEvents, mailOutbox, users } from "../../db/schema";
import { hongKongDayPlus } from "../../app/lib/hong-kong-time";
import { systemContext, type ServiceContext } from "../../app/modules/context.server";
import { sendExpiryNotices } from "../../app/modules/credentials/service.server";
import { DEMO_PASSWORD } from "../../app/modules/demo";
import { createRollout, moveRolloutMilestone } from "../../app/modules/rollouts/service.server";
import { performSupportAction } from "../../app/modules/users/support.server";
import { createUser, setOwnLocale, updateUser } from "../../app/modules/users/service.server";
import { contextFor, issueClientWithKey } from "../factories";
import { describeEachDatabase } from "../support/databases";
import { HttpClient, startServer, type RunningServer } from "../support/server";

/**
 * Mail in the recipient's language (issues 12 and 14), on both databases: each user has a language (users.locale),
 * set by the console's language switch while signed in or by an administrator on the user's form, and every mail
 * the console sends them — activation, password reset, key expiry, rollout notices — is written in it, subject and
 * body, and only in it.
 */

const HAN = /[\u4e00-\u9fff]/;
const B = "B01234";

describeEachDatabase("mail in the recipient's language", { demo: true, compatibility: true }, (use) => {
  let server: RunningServer;
  let makerB: ServiceContext;
  let counter = 0;
  const db = () => use().db;
  const mailsTo = async (email: string) => db().select().from(mailOutbox).where(eq(mailOutbox.toAddress, email)).orderBy(desc(mailOutbox.id));
  const localeOf = async (email: string) => (await db().select({ locale: users.locale }).from(users).where(eq(users.email, email)))[0]!.locale;
  const expectEnglish = (mail: { subject: string; body: string }) => {
    expect(HAN.test(mail.subject), mail.subject).toBe(false);
    expect(HAN.test(mail.body), mail.body).toBe(false);
  };

  beforeAll(async () => {
    server = await startServer(db());
    makerB = await contextFor(db(), "maker@b01234.demo");
  });
  afterAll(() => server?.close());

  it("sends the activation link in the language the administrator chose on the user's form, and only in it", async () => {
    const zhEmail = `wong.${++counter}@harbourview.example`;
    const enEmail = `smith.${counter}@harbourview.example`;
    await createUser(makerB, { participantId: B, email: zhEmail, displayName: "黃大文", locale: "zh-HK" });
    await createUser(makerB, { participantId: B, email: enEmail, displayName: "John Smith" });
    const [zh] = await mailsTo(zhEmail);
    expect(zh).toMatchObject({ kind: "invitation", subject: "啟用你的 OCP 帳戶" });
    expect(zh!.body).toContain("黃大文：");
    expect(zh!.body).toContain("請於 72 小時內設定密碼：");
    expect(zh!.body).toMatch(/\/activate\/[A-Za-z0-9_-]+/);
    expect(zh!.body).not.toContain("Dear");
    expect(zh!.body).not.toContain("password");
    const [en] = await mailsTo(enEmail);
    expect(en).toMatchObject({ kind: "invitation", subject: "Activate your OCP account" });
    expect(en!.body).toContain("Dear John Smith,");
    expectEnglish(en!);

    // The administrator changes it on the form later: a password reset follows the new choice.
    const [row] = await db().select().from(users).where(eq(users.email, enEmail));
    await updateUser(makerB, { userId: row!.id, version: row!.version, displayName: row!.displayName, locale: "zh-HK" });
    const helpdesk = await contextFor(db(), "helpdesk@hkex.demo");
    await performSupportAction(helpdesk, { userId: row!.id, action: "password_reset", ticketRef: `INC-${counter}-1`, reason: "Forgot the password" });
    const [reset] = await mailsTo(enEmail);
    expect(reset).toMatchObject({ kind: "password_reset", subject: "重設你的 OCP 密碼" });
    expect(reset!.body).toContain("如你並無提出申請，請通知你的授權管理人。");
    // A language outside the console's two is refused on its field and changes nothing.
    const [now] = await db().select().from(users).where(eq(users.email, enEmail));
    await expect(updateUser(makerB, { userId: now!.id, version: now!.version, displayName: now!.displayName, locale: "fr" })).rejects.toMatchObject({ status: 400, fieldErrors: { locale: "validation.invalid" } });
    expect(await localeOf(enEmail)).toBe("zh-HK");
  });

  it("keeps the language a signed-in user switches the console to, audited, and writes their rollout and expiry notices in it", async () => {
    // B01234's checker switches the console to Chinese while signed in; the maker does not.
    const checker = new HttpClient(server.baseUrl);
    expect((await checker.signIn("checker@b01234.demo", DEMO_PASSWORD)).status).toBe(302);
    const switched = await checker.post("/language", { locale: "zh-HK", redirectTo: "/" });
    expect(switched.status).toBe(302);
    expect(await localeOf("checker@b01234.demo")).toBe("zh-HK");
    expect(await localeOf("maker@b01234.demo")).toBe("en");
    const checkerId = (await db().select({ id: users.id }).from(users).where(eq(users.email, "checker@b01234.demo")))[0]!.id;
    const [event] = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.entityId, checkerId), eq(auditEvents.action, "user.updated")))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect(event).toMatchObject({ actorUserId: checkerId, changes: { locale: { before: "en", after: "zh-HK" } } });
    // Someone not signed in only gets the cookie: no user changes.
    const anonymous = new HttpClient(server.baseUrl);
    expect((await anonymous.post("/language", { locale: "zh-HK", redirectTo: "/" })).status).toBe(302);

    // A rollout notice: each administrator reads it in their own language, and only in it.
    const officer = await contextFor(db(), "officer@hkex.demo");
    const hours = (h: number) => new Date(Date.now() + h * 3600 * 1000).toISOString();
    const rollout = await createRollout(officer, {
      name: `Language wave ${++counter}`,
      serviceCodes: ["reference_data"],
      participantIds: [B],
      cutoffDay: hongKongDayPlus(new Date(), 2),
      conversionDay: hongKongDayPlus(new Date(), 3),
      verificationStart: hours(4 * 24),
      verificationEnd: hours(4 * 24 + 3),
      launchDay: hongKongDayPlus(new Date(), 6),
    });
    await moveRolloutMilestone(officer, { rolloutId: rollout.id, milestone: "launchAt", to: hongKongDayPlus(new Date(), 8), reason: "Vendor needs two more days" });
    const notices = await db().select().from(mailOutbox).where(sql`${mailOutbox.metadata}->>'rolloutId' = ${rollout.id}`);
    const toChecker = notices.find((m) => m.toAddress === "checker@b01234.demo")!;
    const toMaker = notices.find((m) => m.toAddress === "maker@b01234.demo")!;
    expect(toChecker.subject).toBe(`推出計劃 ${rollout.name}：推出日已更改`);
    expect(toChecker.body).toContain("推出日");
    expect(toChecker.body).toContain("（香港時間）");
    expect(toChecker.body).not.toContain("Launch day");
    expect(toMaker.subject).toBe(`Rollout ${rollout.name}: Launch day moved`);
    expect(toMaker.body).toContain("Vendor needs two more days");
    expectEnglish(toMaker);

    // A key about to expire: the same.
    await issueClientWithKey(db(), B, "simulator", makerB, undefined, 6);
    await sendExpiryNotices(systemContext(db()));
    const [expiryZh] = (await mailsTo("checker@b01234.demo")).filter((m) => m.kind === "key_expiry_notice");
    const [expiryEn] = (await mailsTo("maker@b01234.demo")).filter((m) => m.kind === "key_expiry_notice");
    expect(expiryZh!.subject).toMatch(/^OCP API 密鑰將於 \d+ 日後到期：/);
    expect(expiryZh!.body).toContain("（香港時間）到期。");
    expect(expiryEn!.subject).toMatch(/^OCP API key expires in \d+ day\(s\): /);
    expectEnglish(expiryEn!);

    // Switching back is kept too; choosing the language already kept records nothing.
    const me = await contextFor(db(), "checker@b01234.demo");
    await setOwnLocale(me, { locale: "en" });
    const mark = (await db().select({ n: sql<number>`count(*)::int` }).from(auditEvents))[0]!.n;
    await setOwnLocale(me, { locale: "en" });
    expect((await db().select({ n: sql<number>`count(*)::int` }).from(auditEvents))[0]!.n).toBe(mark);
    expect(await localeOf("checker@b01234.demo")).toBe("en");
  });
});
