import { randomBytes } from "node:crypto";
import { count } from "drizzle-orm";
import type { Database } from "./client.server";
import { participants } from "./schema";
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from "../app/modules/demo";
import { DEMO_TOTP_SECRET, newTotpSecret } from "../app/auth/totp.server";
import { addStepEntry, getCase, updateStepPlan } from "../app/modules/onboarding/service.server";
import { decideRequest, requestGrant } from "../app/modules/roles/service.server";
import { createUser } from "../app/modules/users/service.server";
import { applyImport, checkImport } from "../app/modules/users/import.server";
import { createCheckpoint } from "../app/modules/audit/checkpoint.server";
import { decideItem, getCampaign, openCampaign } from "../app/modules/reviews/service.server";
import { DEMO_CHECKPOINT_KEY } from "../app/env.server";
import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { POP_AUDIENCE } from "../app/modules/credentials/claim-rules";
import { createClient, issueChallenge, registerKey, sendExpiryNotices } from "../app/modules/credentials/service.server";
import { systemContext, type ServiceContext } from "../app/modules/context.server";
import { addNcpAgreement } from "../app/modules/participants/clearing.server";
import { confirmChecklist, confirmResult, createRollout, recordResult, requestFreezeException, takeDueSnapshots } from "../app/modules/rollouts/service.server";
import { getParticipantRollout } from "../app/modules/rollouts/views.server";
import { hongKongDayPlus } from "../app/lib/hong-kong-time";
import { advanceCase, certifyParticipant, contextFor, createConsoleUser, registerParticipant, type CaseActors } from "./factories";

/**
 * The demo: HKEX staff, participants at different points of onboarding (one live, one mid-way with an overdue
 * step and a certification run with failed and blocked cases, one certified, one just registered), a maker and a
 * checker for B01234, C00123 and E00789, and a rollout in its verification session. Seeds only an empty
 * database; answers whether it did. Everything goes through the services, so the audit trail tells the story.
 */
export async function seedDemo(db: Database, checkpointKey: string | null = DEMO_CHECKPOINT_KEY, baseUrl?: string): Promise<boolean> {
  const [row] = await db.select({ n: count() }).from(participants);
  if (Number(row?.n ?? 0) > 0) return false;

  for (const account of DEMO_ACCOUNTS.filter((a) => a.participantId === null)) {
    await createConsoleUser(db, {
      email: account.email,
      displayName: account.displayName,
      participantId: null,
      password: DEMO_PASSWORD,
      roleCodes: [account.roleCode],
      isDemo: true,
      // Demo accounts come enrolled with the published demo key, so that a tester can use any authenticator.
      totpSecret: DEMO_TOTP_SECRET,
    });
  }

  await registerParticipant(db, {
    id: "B01234",
    nameEn: "Harbour View Securities Clearing Limited",
    nameZh: "港景證券結算有限公司",
    type: "GCP",
    bic: "HVSCHKHH",
    services: ["trade_info", "reference_data", "si_status"],
    contacts: [
      { name: "Mandy Wong", email: "mandy.wong@harbourview.example", phone: "+852 2100 1234", title: "Head of Operations" },
      { name: "Kelvin Chan", email: "kelvin.chan@harbourview.example", phone: "+852 2100 1235", title: "IT Manager" },
    ],
  });
  await registerParticipant(db, {
    id: "C00123",
    nameEn: "Lion Rock Custodian Services Limited",
    nameZh: "獅子山託管服務有限公司",
    type: "CUSTODIAN",
    bic: "LRCSHKHHXXX",
    services: ["reference_data", "si_status"],
    contacts: [{ name: "Calvin Lee", email: "calvin.lee@lionrock.example", phone: "+852 2200 5678", title: "Custody Operations" }],
  });
  await registerParticipant(db, {
    id: "D00456",
    nameEn: "Kowloon Bay Securities Limited",
    nameZh: "九龍灣證券有限公司",
    type: "DCP",
    services: ["trade_info"],
    contacts: [{ name: "Daisy Ho", email: "daisy.ho@kowloonbay.example", title: "Compliance Officer" }],
  });
  await registerParticipant(db, {
    id: "E00789",
    nameEn: "Tsim Sha Tsui Securities Clearing Limited",
    nameZh: "尖沙咀證券結算有限公司",
    type: "GCP",
    bic: "TSTSHKHH",
    services: ["trade_info", "reference_data", "si_status"],
    contacts: [{ name: "Eva Lam", email: "eva.lam@tsimshatsui.example", phone: "+852 2300 7788", title: "Head of Settlement" }],
  });
  await registerParticipant(db, {
    id: "A00003",
    nameEn: "Victoria Peak Direct Clearing Limited",
    nameZh: "太平山直接結算有限公司",
    type: "DCP",
    services: ["trade_info", "reference_data"],
    contacts: [{ name: "Alan Yip", email: "alan.yip@victoriapeak.example", title: "Managing Director" }],
  });

  for (const account of DEMO_ACCOUNTS.filter((a) => a.participantId !== null)) {
    await createConsoleUser(db, {
      email: account.email,
      displayName: account.displayName,
      participantId: account.participantId,
      password: DEMO_PASSWORD,
      roleCodes: [account.roleCode],
      isDemo: true,
      // Demo accounts come enrolled with the published demo key, so that a tester can use any authenticator.
      totpSecret: DEMO_TOTP_SECRET,
    });
  }
  // D00456's administrators and C00123's operations staff are not demo sign-ins: their passwords are random.
  const unknownPassword = () => randomBytes(24).toString("base64url");
  // Activated administrators have a password and a second factor (the onboarding check reads both); theirs are random.
  await createConsoleUser(db, { email: "da.maker@kowloonbay.example", displayName: "Derek Maker (D00456)", participantId: "D00456", password: unknownPassword(), roleCodes: ["da_maker"], totpSecret: newTotpSecret() });
  // D00456's checker reads the console's mail in Chinese (users.locale): the demo mailbox shows both kinds.
  await createConsoleUser(db, { email: "da.checker@kowloonbay.example", displayName: "Doris Checker (D00456)", participantId: "D00456", password: unknownPassword(), roleCodes: ["da_checker"], totpSecret: newTotpSecret(), locale: "zh-HK" });
  await createConsoleUser(db, { email: "ops@kowloonbay.example", displayName: "Trade desk (D00456)", participantId: "D00456", password: null, roleCodes: ["trade_info_viewer"], totpSecret: null });
  await createConsoleUser(db, { email: "ops@lionrock.example", displayName: "Settlement operations (C00123)", participantId: "C00123", password: null, roleCodes: ["si_status_subscriber", "ref_data_viewer"], totpSecret: null });

  const officer = await contextFor(db, "officer@hkex.demo");
  const approver = await contextFor(db, "officer2@hkex.demo");
  await seedClearingAgreements(officer);
  const actorsOf = async (participantEmail: string): Promise<CaseActors> => ({
    officer,
    approver,
    participant: await contextFor(db, participantEmail),
  });

  // C00123: live, with what its checks read: a simulator client, a signed-off certification, a production client.
  await advanceCase(db, "C00123", await actorsOf("maker@c00123.demo"), "production_enablement");
  // D00456: certified (its certification signed off by an officer) and its users and roles approved; readiness
  // verification next.
  const d = await actorsOf("da.maker@kowloonbay.example");
  await advanceCase(db, "D00456", d, "users_and_roles");
  await advanceCase(db, "D00456", d, "api_certification");
  // B01234: mid-way. Users and roles in progress and overdue; test credentials submitted, waiting for an officer.
  const b = await actorsOf("maker@b01234.demo");
  await advanceCase(db, "B01234", b, "admin_activation");
  await advanceCase(db, "B01234", b, "users_and_roles", "in_progress");
  await advanceCase(db, "B01234", b, "test_credentials", "submitted");
  const view = await getCase(officer, "B01234");
  const usersStep = view.steps.find((s) => s.definition.key === "users_and_roles")!;
  const overdue = new Date(Date.now() - 5 * 24 * 3600 * 1000).toISOString().slice(0, 10);
  await updateStepPlan(officer, {
    participantId: "B01234",
    stepKey: "users_and_roles",
    version: usersStep.row.version,
    ownerUserId: b.participant.actor.userId,
    dueDate: overdue,
  });
  await addStepEntry(b.participant, {
    participantId: "B01234",
    stepKey: "users_and_roles",
    kind: "note",
    body: "SI users are being set up; waiting for the SI checker's HKID copy from HR.",
  });
  // E00789: a large firm mid-way, whose staff file brought 300 users and 600 role requests to its checker. Seeded
  // before the other firms' mail, so that the demo mailbox's newest messages are the ones the tour points at.
  await advanceCase(db, "E00789", await actorsOf("maker@e00789.demo"), "admin_activation");
  // Rollout readiness: a wave in its verification session; C00123 ready, E00789 and D00456 not. Its carry-over is
  // sealed here, before the staff import and the Login Management story: those users joined after the cutoff, are
  // not carried over and so not frozen (B01234, the maker-checker walkthrough, is not in the wave at all).
  await seedRollout(db);
  await seedVolume(db, baseUrl);
  // B01234: mid-certification in the Developer Corner — some cases failed, one blocked, one not run yet.
  await certifyParticipant(db, "B01234", { maker: b.participant, checker: await contextFor(db, "checker@b01234.demo"), officer, tester: await contextFor(db, "tester@b01234.demo") }, {
    programName: "Harbour View OCP Gateway",
    programVersion: "3.2.0",
    until: "recording",
    outcomes: {
      "CON-02": [{ outcome: "failed", evidence: "Token endpoint answered 401 but the gateway retried the same assertion 5 times (log ref HV-20261128-017)." }],
      "TRD-02": [
        { outcome: "failed", evidence: "Gap of 12 records after reconnecting: the gateway resumed from the next sequence number instead of the last received." },
        { outcome: "passed", evidence: "Fixed in build 3.2.0-rc4; reconnect at seq 4410 replayed 4410–4452 with no gaps (log ref HV-20261130-004)." },
      ],
      "REF-05": [{ outcome: "failed", evidence: "NCP lookup returned the clearing participant's own ID; mapping table not refreshed." }],
      "SIS-03": [{ outcome: "blocked", evidence: "Replay endpoint not available in the simulator build we have (v1.3); waiting for v1.4 from the Developer Corner." }],
      "SIS-04": [{ outcome: "not_applicable", evidence: "The gateway receives push only; history paging is not used." }],
      "SIS-05": [],
    },
  });
  // Login Management: B01234's staff through maker-checker, a pending request for each participant's checker,
  // and one separation-of-duties warning with its justification.
  await seedLoginManagement(db, baseUrl);
  // API credentials: B01234's simulator client with a key about to expire (its notice is in the demo mailbox).
  await seedCredentials(db, baseUrl);
  // Compliance: one open access review with a few decisions, and a signed checkpoint of the audit chains.
  await seedCompliance(db, checkpointKey);
  // A00003: just registered; the application waits for the officer.
  return true;
}

/**
 * The GCPs' non-clearing participants (SPEC §2), fictional exchange participants: B01234 clears for two and used to
 * clear for a third, which moved to E00789 at the turn of the year. The simulator's NCP/GCP mapping shows the
 * agreements in force today.
 */
async function seedClearingAgreements(officer: ServiceContext): Promise<void> {
  const agreements = [
    { participantId: "B01234", ncpId: "E10001", nameEn: "Lantau Peak Securities Limited", nameZh: "大嶼峰證券有限公司", startsOn: "2025-07-02" },
    { participantId: "B01234", ncpId: "E10002", nameEn: "Shek O Bay Brokerage Limited", nameZh: "石澳灣經紀有限公司", startsOn: "2026-01-02" },
    { participantId: "B01234", ncpId: "E10003", nameEn: "Ap Lei Chau Capital Securities Limited", nameZh: "鴨脷洲資本證券有限公司", startsOn: "2024-03-01", endsOn: "2025-12-31" },
    { participantId: "E00789", ncpId: "E10003", nameEn: "Ap Lei Chau Capital Securities Limited", nameZh: "鴨脷洲資本證券有限公司", startsOn: "2026-01-01" },
    { participantId: "E00789", ncpId: "E10004", nameEn: "Sai Kung Harbour Securities Limited", nameZh: "西貢港證券有限公司", startsOn: "2026-04-01" },
  ];
  for (const a of agreements) await addNcpAgreement(officer, a);
}

async function seedLoginManagement(db: Database, baseUrl?: string): Promise<void> {
  const makerB = { ...(await contextFor(db, "maker@b01234.demo")), baseUrl };
  const checkerB = await contextFor(db, "checker@b01234.demo");
  const alice = await createUser(makerB, {
    participantId: "B01234",
    email: "alice.tam@harbourview.example",
    displayName: "Alice Tam",
    roles: ["trade_info_viewer", "si_maker"],
  });
  const sam = await createUser(makerB, {
    participantId: "B01234",
    email: "sam.lau@harbourview.example",
    displayName: "Sam Lau",
    roles: ["si_checker", "si_status_subscriber"],
  });
  for (const requestId of [...alice.requests, ...sam.requests]) {
    await decideRequest(checkerB, { requestId, decision: "approve", comment: "Matches the signed user-access form." });
  }
  // The warning: a DA holding an operational role, allowed with a written justification.
  const own = await requestGrant(makerB, {
    userId: makerB.actor.userId!,
    roleCode: "ref_data_viewer",
    justification: "Two-person operations team: the maker also checks the reference-data feed during month-end.",
  });
  await decideRequest(checkerB, { requestId: own.id, decision: "approve", comment: "Accepted for the small team; review at the next access review." });
  // Waiting for B01234's checker: a time-limited grant for a contractor.
  const contractor = await createUser(makerB, {
    participantId: "B01234",
    email: "contractor.ng@harbourview.example",
    displayName: "Kit Ng (contractor)",
  });
  const end = new Date(Date.now() + 60 * 24 * 3600 * 1000).toISOString().slice(0, 10);
  await requestGrant(makerB, { userId: contractor.user.id, roleCode: "trade_info_viewer", validTo: end });

  // Waiting for C00123's checker.
  const makerC = { ...(await contextFor(db, "maker@c00123.demo")), baseUrl };
  await createUser(makerC, {
    participantId: "C00123",
    email: "wing.cheung@lionrock.example",
    displayName: "Wing Cheung",
    roles: ["si_maker"],
  });
}

/**
 * Volume for the lists (issue 13): E00789's maker imports a staff file of 300 people, each asking for two roles,
 * so its checker's approvals queue holds 600 requests and every list pages. Through the import, as a firm would.
 */
async function seedVolume(db: Database, baseUrl?: string): Promise<void> {
  const maker = { ...(await contextFor(db, "maker@e00789.demo")), baseUrl };
  const desks = ["Settlement", "Trade support", "Reference data", "Operations control", "Middle office", "Treasury"];
  const surnames = ["Chan", "Wong", "Lee", "Cheung", "Lau", "Ho", "Ng", "Leung", "Tang", "Yip", "Lam", "Chow", "Tsang", "Kwok", "Mak"];
  const given = ["Ada", "Brian", "Cindy", "Daniel", "Elaine", "Felix", "Grace", "Henry", "Iris", "Jason", "Karen", "Leo", "Mandy", "Nelson", "Olive", "Peter", "Queenie", "Raymond", "Sharon", "Terence"];
  const pairs = [["trade_info_viewer", "ref_data_viewer"], ["si_status_subscriber", "ref_data_viewer"], ["trade_info_viewer", "si_status_subscriber"]];
  const lines = Array.from({ length: 300 }, (_, i) => {
    const name = `${given[i % given.length]} ${surnames[Math.floor(i / given.length) % surnames.length]}`;
    const email = `${name.toLowerCase().replace(" ", ".")}.${String(i + 1).padStart(3, "0")}@tsimshatsui.example`;
    return `${email},${name} (${desks[i % desks.length]}),${pairs[i % pairs.length]!.join(";")},,,`;
  });
  const run = await checkImport(maker, {
    participantId: "E00789",
    fileName: "tst-staff-2026-12.csv",
    text: ["email,display_name,roles,valid_from,valid_to,justification", ...lines].join("\n"),
  });
  await applyImport(maker, { runId: run.id });
}

async function seedCompliance(db: Database, checkpointKey: string | null): Promise<void> {
  const compliance = await contextFor(db, "compliance@hkex.demo");
  const deadline = new Date(Date.now() + 14 * 24 * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 10);
  const campaign = await openCampaign(compliance, {
    name: "Q4 2026 OCP access review",
    participantIds: ["B01234", "C00123"],
    deadline,
    deadlinePolicy: "flag",
    includeApiClients: true,
  });
  const checkerB = await contextFor(db, "checker@b01234.demo");
  const { items } = await getCampaign(checkerB, campaign.id);
  for (const item of items.filter((i) => i.userEmail === "alice.tam@harbourview.example")) {
    await decideItem(checkerB, { itemId: item.id, decision: "keep", comment: "Still on the trading desk." });
  }
  // Without AUDIT_CHECKPOINT_KEY the demo key signs it: public, and accepted only in demo mode (app/env.server.ts).
  if (checkpointKey) await createCheckpoint(compliance, { key: checkpointKey });
}

async function seedCredentials(db: Database, baseUrl?: string): Promise<void> {
  const maker = await contextFor(db, "maker@b01234.demo");
  const system = { ...systemContext(db), baseUrl };
  const client = await createClient(system, { participantId: "B01234", environment: "simulator", name: "Trade feed (simulator)", ownerUserId: maker.actor.userId! });
  // The demo's key pair is made here and its private half thrown away: only the public key is registered.
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { nonce } = await issueChallenge(system, { clientId: client.id });
  const proof = await new SignJWT({ nonce })
    .setProtectedHeader({ alg: "ES256" })
    .setAudience(POP_AUDIENCE)
    .setSubject(client.clientId)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(privateKey);
  const soon = new Date(Date.now() + 5 * 24 * 3600 * 1000 + 8 * 3600 * 1000).toISOString().slice(0, 10);
  await registerKey(system, {
    clientId: client.id,
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
    proof,
    nonce,
    expiresOn: soon,
  });
  await sendExpiryNotices(system);
}

async function seedRollout(db: Database): Promise<void> {
  const officer = await contextFor(db, "officer@hkex.demo");
  const now = new Date();
  const hours = (h: number) => new Date(now.getTime() + h * 3600 * 1000).toISOString();
  const rollout = await createRollout(officer, {
    name: "OCP go-live, wave 1",
    serviceCodes: ["reference_data", "si_status"],
    participantIds: ["C00123", "D00456", "E00789"],
    cutoffDay: hongKongDayPlus(now, -2),
    conversionDay: hongKongDayPlus(now, -1),
    verificationStart: hours(-2),
    verificationEnd: hours(22),
    launchDay: hongKongDayPlus(now, 3),
  });
  // The jobs runner seals the carry-over once the cutoff has passed.
  await takeDueSnapshots(systemContext(db), now);

  // C00123: every service, login and API client verified and confirmed; fallback checklist complete.
  const makerC = await contextFor(db, "maker@c00123.demo");
  for (const s of (await getParticipantRollout(makerC, rollout.id, "C00123")).subjects) {
    const result = await recordResult(makerC, { rolloutId: rollout.id, participantId: "C00123", subjectKind: s.subjectKind, subjectRef: s.subjectRef, outcome: "verified", evidence: "Verified in the session" });
    await confirmResult(officer, { resultId: result.id });
  }
  await confirmChecklist(await contextFor(db, "checker@c00123.demo"), {
    rolloutId: rollout.id,
    participantId: "C00123",
    items: ["standby_systems", "retained_credentials", "contact_person"],
    contactPerson: "Calvin Lee, +852 2200 5678",
  });

  // E00789: reference data verified and confirmed, SI status failed, checklist half done, and a freeze exception
  // waiting: its maker's login is carried over, so adding a role to it during the freeze needs one.
  const makerE = await contextFor(db, "maker@e00789.demo");
  const ref = await recordResult(makerE, { rolloutId: rollout.id, participantId: "E00789", subjectKind: "service", subjectRef: "reference_data", outcome: "verified", evidence: "JWT connection check passed" });
  await confirmResult(officer, { resultId: ref.id });
  await recordResult(makerE, { rolloutId: rollout.id, participantId: "E00789", subjectKind: "service", subjectRef: "si_status", outcome: "failed", reason: "The SI status feed refused the connection: the certificate chain was incomplete." });
  await confirmChecklist(await contextFor(db, "checker@e00789.demo"), { rolloutId: rollout.id, participantId: "E00789", items: ["standby_systems"] });
  await requestFreezeException(makerE, {
    rolloutId: rollout.id,
    participantId: "E00789",
    kind: "role_change",
    subjectRef: "maker@e00789.demo",
    reason: "The maker also checks the reference-data feed during the launch-day reconciliation.",
  });
  // D00456: did not attend yet: no result at all.
}
