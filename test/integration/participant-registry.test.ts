import { beforeAll, describe, expect, it } from "vitest";
import type { ServiceContext } from "../../app/modules/context.server";
import {
  createParticipant,
  getParticipant,
  getParticipantProfile,
  listParticipants,
  reinstateParticipant,
  suspendParticipant,
  updateParticipant,
} from "../../app/modules/participants/service.server";
import type { CreateParticipantInput } from "../../app/modules/participants/schemas";
import { getCase } from "../../app/modules/onboarding/service.server";
import { WORKFLOW } from "../../app/modules/onboarding/workflow";
import { verifyAuditChains } from "../../app/modules/audit/service.server";
import { advanceCase, type CaseActors } from "../factories";
import { describeEachDatabase } from "../support/databases";
import {
  auditSince,
  hongKongDay,
  lastAuditId,
  newOfficer,
  participantInput,
  participantRow,
  participantWithAdministrators,
  refusedWith,
  registryFootprint,
  statesOf,
} from "../support/onboarding";

describeEachDatabase("participant registry", (use) => {
  let officer: ServiceContext;
  let approver: ServiceContext;

  beforeAll(async () => {
    const { db } = use();
    officer = await newOfficer(db, "registrar@hkex.test", "Rita Registrar");
    approver = await newOfficer(db, "second@hkex.test", "Sam Second");
  });

  /** The call must answer 400 with this message on this field, and write nothing: no row, no audit event. */
  async function expectRefusedField(input: CreateParticipantInput, field: string, messageKey: string, params?: Record<string, string>) {
    const { db } = use();
    const before = await registryFootprint(db);
    const existing = await participantRow(db, input.id);
    const error = await refusedWith(createParticipant(officer, input), 400, "error.badRequest");
    expect(error.fieldErrors[field], JSON.stringify(error.fieldErrors)).toBe(messageKey);
    if (params) expect(error.params).toMatchObject(params);
    expect(await registryFootprint(db)).toEqual(before);
    expect(await participantRow(db, input.id)).toEqual(existing);
  }

  describe("refuses a bad registration with a field message, and writes nothing", () => {
    it.each(["b01234", "B1234", "BB01234", "B012345", "1B0123", "", "B01 234"])("participant ID %j", async (id) => {
      await expectRefusedField(participantInput({ id }), "id", "participant.error.idFormat");
    });

    it("a participant ID already registered: IDs are never reused, even for a suspended participant", async () => {
      const { db } = use();
      const first = await createParticipant(officer, participantInput({ id: "B20001", nameEn: "First Holder Limited" }));
      await expectRefusedField(participantInput({ id: "B20001", nameEn: "Second Comer Limited" }), "id", "participant.error.idTaken");
      await suspendParticipant(officer, { participantId: first.id, version: first.version, reason: "Licence revoked by the SFC" });
      await expectRefusedField(participantInput({ id: "B20001", nameEn: "Third Comer Limited" }), "id", "participant.error.idTaken");
      expect((await participantRow(db, "B20001"))!.nameEn).toBe("First Holder Limited");
    });

    it.each([
      ["too short", "HVSCHKH"],
      ["between 8 and 11", "HVSCHKHHX"],
      ["too long", "HVSCHKHHXXXX"],
      ["an unknown country", "HVSCZZHH"],
      ["digits for a country", "HVSC12HH"],
      ["punctuation", "HVSC-HKHH"],
    ])("a BIC with %s (%s)", async (_why, bic) => {
      await expectRefusedField(participantInput({ bic }), "bic", "participant.error.bic");
    });

    it("a contact with a bad email", async () => {
      const contacts = [
        { name: "Good Contact", email: "good@example.test" },
        { name: "Bad Contact", email: "not-an-email" },
      ];
      await expectRefusedField(participantInput({ contacts }), "contacts.1.email", "validation.email");
    });

    it("a contact without a name, and a phone number with letters", async () => {
      await expectRefusedField(participantInput({ contacts: [{ name: " ", email: "a@example.test" }] }), "contacts.0.name", "validation.required");
      await expectRefusedField(
        participantInput({ contacts: [{ name: "Ann", email: "a@example.test", phone: "call me" }] }),
        "contacts.0.phone",
        "participant.error.phone",
      );
    });

    it("a service outside the catalogue, an unknown type, and a missing name", async () => {
      await expectRefusedField(participantInput({ services: ["trade_info", "crypto_feed"] }), "services", "participant.error.serviceUnknown");
      await expectRefusedField(participantInput({ type: "BANK" }), "type", "participant.error.type");
      await expectRefusedField(participantInput({ nameZh: "" }), "nameZh", "validation.required");
    });

    it("a registration by a participant administrator (403), and writes nothing", async () => {
      const { db } = use();
      const { maker } = await participantWithAdministrators(db, officer);
      const before = await registryFootprint(db);
      await refusedWith(createParticipant(maker, participantInput()), 403);
      expect(await registryFootprint(db)).toEqual(before);
    });
  });

  describe("a valid registration", () => {
    it("writes the participant, its details, its case (application ready, the rest locked) and their audit events", async () => {
      const { db } = use();
      const before = await lastAuditId(db);
      const input = participantInput({
        id: "B30001",
        type: "GCP",
        bic: "hvschkhhxxx",
        services: ["trade_info", "si_status"],
        contacts: [{ name: "Mandy Wong", email: "mandy@example.test", phone: "+852 2100 1234", title: "Head of Operations" }],
      });
      const created = await createParticipant(officer, input);
      expect(created).toMatchObject({ id: "B30001", type: "GCP", bic: "HVSCHKHHXXX", status: "prospect", version: 1, suspendedAt: null });

      const profile = await getParticipantProfile(officer, "B30001");
      expect(profile.services).toEqual(["si_status", "trade_info"]);
      expect(profile.contacts.map(({ name, email, phone, title }) => ({ name, email, phone, title }))).toEqual(input.contacts);

      const view = await getCase(officer, "B30001");
      expect(view.steps.map((s) => [s.definition.key, s.row.state])).toEqual(
        WORKFLOW.map((s) => [s.key, s.key === "application" ? "ready" : "locked"]),
      );
      const application = view.steps[0]!;
      expect(application.row.dueDate).toBe(hongKongDay(WORKFLOW[0]!.defaultDueDays));
      for (const step of view.steps.slice(1)) {
        expect(step.row.dueDate).toBeNull();
        expect(step.blockers.length).toBeGreaterThan(0);
      }

      const events = await auditSince(db, before);
      expect(events.map((e) => e.action)).toEqual(["participant.created", "case.opened"]);
      for (const e of events) {
        expect(e).toMatchObject({
          participantId: "B30001",
          chainKey: "B30001",
          actorUserId: officer.actor.userId,
          actorName: "Rita Registrar",
          actorPersona: "officer",
          requestId: officer.requestId,
        });
      }
      expect(events[0]!.changes).toMatchObject({
        id: { before: null, after: "B30001" },
        type: { before: null, after: "GCP" },
        bic: { before: null, after: "HVSCHKHHXXX" },
        services: { before: null, after: ["si_status", "trade_info"] },
      });
      expect(events[1]!.metadata).toMatchObject({ steps: WORKFLOW.map((s) => s.key) });
    });

    it("takes IDs of every initial letter", async () => {
      for (const id of ["A00003", "Z99998", "C00019"]) await createParticipant(officer, participantInput({ id }));
      expect((await listParticipants(officer)).map((p) => p.id)).toEqual(expect.arrayContaining(["A00003", "Z99998", "C00019"]));
    });
  });

  describe("updating a participant", () => {
    it("with the current version changes the fields and audits each one's before and after", async () => {
      const { db } = use();
      const created = await createParticipant(
        officer,
        participantInput({ id: "B40001", type: "GCP", bic: "HVSCHKHH", services: ["trade_info"] }),
      );
      const before = await lastAuditId(db);
      const updated = await updateParticipant(officer, { participantId: "B40001", version: created.version,
        nameEn: "Renamed Clearing Limited",
        nameZh: created.nameZh,
        type: "GCP",
        bic: "LRCSHKHHXXX",
        services: ["trade_info", "reference_data"],
        contacts: [{ name: "New Contact", email: "new@example.test" }], });
      expect(updated).toMatchObject({ nameEn: "Renamed Clearing Limited", bic: "LRCSHKHHXXX", version: created.version + 1 });
      const profile = await getParticipantProfile(officer, "B40001");
      expect(profile.services).toEqual(["reference_data", "trade_info"]);
      expect(profile.contacts.map((c) => c.email)).toEqual(["new@example.test"]);

      const events = await auditSince(db, before);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: "participant.updated", entityId: "B40001", actorUserId: officer.actor.userId });
      const changes = events[0]!.changes!;
      expect(Object.keys(changes).sort()).toEqual(["bic", "contacts", "nameEn", "services"]);
      expect(changes.nameEn).toEqual({ before: created.nameEn, after: "Renamed Clearing Limited" });
      expect(changes.bic).toEqual({ before: "HVSCHKHH", after: "LRCSHKHHXXX" });
      expect(changes.services).toEqual({ before: ["trade_info"], after: ["reference_data", "trade_info"] });
    });

    it("with nothing changed writes nothing and keeps the version", async () => {
      const { db } = use();
      const created = await createParticipant(officer, participantInput({ id: "B40002", type: "DCP", services: ["trade_info"] }));
      const profile = await getParticipantProfile(officer, created.id);
      const before = await lastAuditId(db);
      const same = await updateParticipant(officer, { participantId: created.id, version: created.version,
        nameEn: created.nameEn,
        nameZh: created.nameZh,
        type: created.type,
        bic: null,
        services: profile.services,
        contacts: profile.contacts.map(({ name, email, phone, title }) => ({ name, email, phone, title })), });
      expect(same.version).toBe(created.version);
      expect(await auditSince(db, before)).toEqual([]);
    });

    it("with a stale version answers 409 and changes nothing", async () => {
      const { db } = use();
      const created = await createParticipant(officer, participantInput({ id: "B40003", type: "DCP" }));
      const edit = {
        nameEn: "First Edit Limited",
        nameZh: created.nameZh,
        type: "DCP",
        services: ["trade_info"],
        contacts: [{ name: "A", email: "a@example.test" }],
      };
      await updateParticipant(approver, { participantId: created.id, ...edit, version: created.version });
      const afterFirst = await participantRow(db, created.id);
      const footprint = await registryFootprint(db);
      await refusedWith(
        updateParticipant(officer, { participantId: created.id, ...edit, nameEn: "Stale Edit Limited", version: created.version }),
        409,
        "error.conflict",
      );
      expect(await participantRow(db, created.id)).toEqual(afterFirst);
      expect(afterFirst!.nameEn).toBe("First Edit Limited");
      expect(await registryFootprint(db)).toEqual(footprint);
    });

    it("with a bad field answers 400 and changes nothing", async () => {
      const { db } = use();
      const created = await createParticipant(officer, participantInput({ id: "B40004", type: "CUSTODIAN" }));
      const footprint = await registryFootprint(db);
      const error = await refusedWith(
        updateParticipant(officer, { participantId: created.id, version: created.version,
          nameEn: "Changed Limited",
          nameZh: created.nameZh,
          type: "CUSTODIAN",
          bic: "NOT A BIC" }),
        400,
      );
      expect(error.fieldErrors).toEqual({ bic: "participant.error.bic" });
      expect(await participantRow(db, created.id)).toEqual(created);
      expect(await registryFootprint(db)).toEqual(footprint);
    });

    it("is refused to a participant administrator, even of that participant", async () => {
      const { db } = use();
      const { participant, maker } = await participantWithAdministrators(db, officer, { id: "B40005" });
      await refusedWith(
        updateParticipant(maker, { participantId: participant.id, version: participant.version, nameEn: "Self-renamed", nameZh: participant.nameZh, type: participant.type }),
        403,
      );
      expect((await participantRow(db, participant.id))!.nameEn).toBe(participant.nameEn);
    });
  });

  describe("suspension", () => {
    it("suspends with a reason at any point and reinstates to the status the case says", async () => {
      const { db } = use();
      const { participant, maker } = await participantWithAdministrators(db, officer, { id: "B50001" });
      const actors: CaseActors = { officer, approver, participant: maker };
      await advanceCase(db, participant.id, actors, "application");
      const onboarding = (await participantRow(db, participant.id))!;
      expect(onboarding.status).toBe("onboarding");

      const before = await lastAuditId(db);
      const suspended = await suspendParticipant(officer, { participantId: participant.id, version: onboarding.version, reason: "Regulatory review pending" });
      expect(suspended).toMatchObject({ status: "suspended", suspensionReason: "Regulatory review pending", version: onboarding.version + 1 });
      expect(suspended.suspendedAt).toBeInstanceOf(Date);
      const suspensionEvents = await auditSince(db, before);
      expect(suspensionEvents.map((e) => [e.action, e.reason, e.changes])).toEqual([
        ["participant.suspended", "Regulatory review pending", { suspended: { before: false, after: true } }],
        ["participant.status.changed", null, { status: { before: "onboarding", after: "suspended" } }],
      ]);

      // The case goes on while suspended, but the status stays "suspended" until reinstated.
      await advanceCase(db, participant.id, actors, "admin_activation");
      expect((await statesOf(db, participant.id)).admin_activation).toBe("approved");
      expect((await participantRow(db, participant.id))!.status).toBe("suspended");

      await refusedWith(
        suspendParticipant(officer, { participantId: participant.id, version: suspended.version, reason: "Twice over" }),
        400,
        "participant.error.alreadySuspended",
      );
      const reinstated = await reinstateParticipant(officer, { participantId: participant.id, version: suspended.version, reason: "Review closed, no findings" });
      expect(reinstated).toMatchObject({ status: "onboarding", suspendedAt: null, suspensionReason: null });
      await refusedWith(
        reinstateParticipant(officer, { participantId: participant.id, version: reinstated.version, reason: "Once more" }),
        400,
        "participant.error.notSuspended",
      );
      for (const r of await verifyAuditChains(db)) expect(r, r.chainKey).toMatchObject({ ok: true });
    });

    it("refuses a suspension without a reason, or on a stale version, and changes nothing", async () => {
      const { db } = use();
      const created = await createParticipant(officer, participantInput({ id: "B50002" }));
      const footprint = await registryFootprint(db);
      const error = await refusedWith(suspendParticipant(officer, { participantId: created.id, version: created.version, reason: "  no " }), 400);
      expect(error.fieldErrors).toEqual({ reason: "validation.reasonTooShort" });
      await refusedWith(suspendParticipant(officer, { participantId: created.id, version: created.version + 5, reason: "Regulatory review" }), 409, "error.conflict");
      expect(await participantRow(db, created.id)).toEqual(created);
      expect(await registryFootprint(db)).toEqual(footprint);
    });
  });

  describe("reading the registry", () => {
    it("filters by type and status, and limits a participant administrator to their own participant", async () => {
      const { db } = use();
      const { participant, maker } = await participantWithAdministrators(db, officer, { id: "C60001", type: "CUSTODIAN" });
      const custodians = await listParticipants(officer, { type: "CUSTODIAN" });
      expect(custodians.length).toBeGreaterThan(0);
      expect(custodians.every((p) => p.type === "CUSTODIAN")).toBe(true);
      const suspended = await listParticipants(officer, { status: "suspended" });
      expect(suspended.map((p) => p.id)).toEqual(expect.arrayContaining(["B20001"]));
      expect(suspended.every((p) => p.status === "suspended")).toBe(true);

      expect((await listParticipants(maker)).map((p) => p.id)).toEqual([participant.id]);
      expect((await getParticipant(maker, participant.id)).id).toBe(participant.id);
      await refusedWith(getParticipant(maker, "B30001"), 404, "error.notFound");
      await refusedWith(getParticipant(maker, "Z99999"), 404, "error.notFound");
      await refusedWith(getParticipantProfile(maker, "B30001"), 404, "error.notFound");
      await refusedWith(getParticipant(officer, "not-an-id"), 404, "error.notFound");
    });
  });
});
