import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../db/client.server";
import { consolePersonasOf } from "../../app/auth/session.server";
import { AppError } from "../../app/lib/errors";
import type { ServiceContext } from "../../app/modules/context.server";
import { heldRoleCodes } from "../../app/modules/roles/facts.server";
import { cancelRequest, decideRequest, requestGrant, revokeGrant } from "../../app/modules/roles/service.server";
import { getUserProfile } from "../../app/modules/users/service.server";
import { contextFor, createConsoleUser, registerParticipant } from "../factories";
import { HOUR, TestClock } from "../support/clock";
import { describeEachDatabase } from "../support/databases";

/**
 * Model-based test of maker-checker grants (SPEC §4). Random sequences of request, approve, reject, withdraw,
 * revoke and the passing of time run against the real services and a real database, next to a small in-memory
 * model of who should hold what. After every step the user's effective access (heldRoleCodes, the personas
 * consolePersonasOf gives, and the grant states and pending requests of getUserProfile) must match the model, and
 * nobody may ever hold both roles of a blocking separation-of-duties pair. The clock is faked (Date only) so that
 * valid-from and valid-to dates come and go. The seed is fixed so a failure reproduces; FC_SEED and
 * FC_MODEL_RUNS override.
 */
const SEED = Number(process.env.FC_SEED ?? 20261122);
const NUM_RUNS = Number(process.env.FC_MODEL_RUNS ?? 40);

/** Operational roles with a blocking pair (SI maker ⟂ SI checker), plus a console role that gives a persona. */
const ROLES = ["trade_info_viewer", "si_maker", "si_checker", "da_checker"] as const;
type RoleCode = (typeof ROLES)[number];
const BLOCKING: [RoleCode, RoleCode][] = [["si_maker", "si_checker"]];
const TARGETS = 2;

interface ModelGrant {
  id: string;
  user: number;
  role: RoleCode;
  from: number;
  to: number | null;
  revoked: boolean;
}
interface ModelRequest {
  id: string;
  user: number;
  role: RoleCode;
  from: number | null;
  to: number | null;
  status: "pending" | "approved" | "rejected" | "cancelled";
}
interface Model {
  grants: ModelGrant[];
  requests: ModelRequest[];
}
interface Real {
  db: Database;
  commandsRun: number;
  clock: TestClock;
  maker: ServiceContext;
  checker: ServiceContext;
  users: string[];
}

const now = (r: Real) => r.clock.current().getTime();
const counts = (g: ModelGrant, t: number) => !g.revoked && g.from <= t && (g.to === null || g.to > t);
/** A grant not yet over: counting now, or starting later. Separation of duties and "already held" look at these. */
const notOver = (g: ModelGrant, t: number) => !g.revoked && (g.to === null || g.to > t);
const pendingOf = (m: Model) => m.requests.filter((q) => q.status === "pending");

async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; status: number; key: string }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    if (error instanceof AppError) return { ok: false, status: error.status, key: error.messageKey };
    throw error;
  }
}

function otherOfBlockingPair(role: RoleCode): RoleCode | null {
  for (const [a, b] of BLOCKING) {
    if (role === a) return b;
    if (role === b) return a;
  }
  return null;
}

/** Each command runs against the model and the database, then compares the two. */
abstract class Cmd implements fc.AsyncCommand<Model, Real> {
  abstract check(m: Readonly<Model>): boolean;
  protected abstract apply(m: Model, r: Real): Promise<void>;
  abstract toString(): string;
  async run(m: Model, r: Real): Promise<void> {
    await this.apply(m, r);
    r.commandsRun++;
    await expectMatchesModel(m, r, this.toString());
  }
}

class RequestCommand extends Cmd {
  constructor(
    readonly user: number,
    readonly role: RoleCode,
    readonly fromHours: number | null,
    readonly toHours: number | null,
  ) {
    super();
  }
  check() {
    return true;
  }
  protected async apply(m: Model, r: Real) {
    const t = now(r);
    const from = this.fromHours === null ? null : t + this.fromHours * HOUR;
    const to = this.toHours === null ? null : (from ?? t) + this.toHours * HOUR;
    const result = await outcome(
      requestGrant(r.maker, {
        userId: r.users[this.user]!,
        roleCode: this.role,
        validFrom: from === null ? null : new Date(from).toISOString(),
        validTo: to === null ? null : new Date(to).toISOString(),
        // A DA checker with an operational role is a warning: always justified here, so warnings never refuse.
        justification: "Small team: model test",
      }),
    );
    const mine = m.grants.filter((g) => g.user === this.user);
    const pending = pendingOf(m).filter((q) => q.user === this.user);
    const other = otherOfBlockingPair(this.role);
    let expected: string | null = null;
    if (other && (mine.some((g) => g.role === other && notOver(g, t)) || pending.some((q) => q.role === other))) expected = "access.sod.blocked";
    else if (mine.some((g) => g.role === this.role && notOver(g, t))) expected = "access.refused.alreadyHeld";
    else if (pending.some((q) => q.role === this.role)) expected = "access.refused.alreadyRequested";
    if (expected) {
      expect(result, this.toString()).toMatchObject({ ok: false, status: 400, key: expected });
      return;
    }
    if (!result.ok) throw new Error(`${this.toString()} was refused: ${result.key}`);
    m.requests.push({ id: result.value.id, user: this.user, role: this.role, from, to, status: "pending" });
  }
  toString() {
    return `request(user ${this.user}, ${this.role}, from +${this.fromHours ?? "now"}h, for ${this.toHours ?? "ever"}h)`;
  }
}

class DecideCommand extends Cmd {
  constructor(
    readonly pick: number,
    readonly decision: "approve" | "reject",
  ) {
    super();
  }
  check(m: Readonly<Model>) {
    return pendingOf(m as Model).length > 0;
  }
  protected async apply(m: Model, r: Real) {
    const pending = pendingOf(m);
    const request = pending[this.pick % pending.length]!;
    const t = now(r);
    const result = await outcome(decideRequest(r.checker, { requestId: request.id, decision: this.decision, comment: "model test" }));
    if (this.decision === "reject") {
      expect(result.ok, this.toString()).toBe(true);
      request.status = "rejected";
      return;
    }
    // A request whose validity has already ended by the time a checker gets to it grants nothing.
    if (request.to !== null && request.to <= t) {
      expect(result, this.toString()).toMatchObject({ ok: false, status: 400, key: "access.refused.windowEnded" });
      return;
    }
    if (!result.ok) throw new Error(`${this.toString()} was refused: ${result.key}`);
    expect(result.value.grantId).toBeTruthy();
    request.status = "approved";
    m.grants.push({ id: result.value.grantId!, user: request.user, role: request.role, from: Math.max(request.from ?? t, t), to: request.to, revoked: false });
  }
  toString() {
    return `${this.decision}(pending #${this.pick})`;
  }
}

class WithdrawCommand extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return pendingOf(m as Model).length > 0;
  }
  protected async apply(m: Model, r: Real) {
    const pending = pendingOf(m);
    const request = pending[this.pick % pending.length]!;
    await cancelRequest(r.maker, { requestId: request.id });
    request.status = "cancelled";
  }
  toString() {
    return `withdraw(pending #${this.pick})`;
  }
}

class RevokeCommand extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>) {
    return m.grants.length > 0;
  }
  protected async apply(m: Model, r: Real) {
    const grant = m.grants[this.pick % m.grants.length]!;
    const result = await outcome(revokeGrant(r.checker, { grantId: grant.id, reason: "Left the SI team (model test)" }));
    if (grant.revoked) {
      expect(result, this.toString()).toMatchObject({ ok: false, status: 409, key: "access.refused.alreadyRevoked" });
      return;
    }
    if (!result.ok) throw new Error(`${this.toString()} was refused: ${result.key}`);
    grant.revoked = true;
  }
  toString() {
    return `revoke(grant #${this.pick})`;
  }
}

class AdvanceClockCommand extends Cmd {
  constructor(readonly hours: number) {
    super();
  }
  check() {
    return true;
  }
  protected apply(_m: Model, r: Real) {
    r.clock.advance(this.hours * HOUR);
    return Promise.resolve();
  }
  toString() {
    return `advance(${this.hours}h)`;
  }
}

const commandArbitraries = [
  fc
    .tuple(
      fc.nat(TARGETS - 1),
      fc.constantFrom(...ROLES),
      fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 12 }) }),
      fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 24 }) }),
    )
    .map(([user, role, from, to]) => new RequestCommand(user, role, from, to)),
  fc.tuple(fc.nat(10), fc.constantFrom("approve" as const, "approve" as const, "reject" as const)).map(([pick, d]) => new DecideCommand(pick, d)),
  fc.nat(10).map((pick) => new WithdrawCommand(pick)),
  fc.nat(20).map((pick) => new RevokeCommand(pick)),
  fc.integer({ min: 1, max: 30 }).map((hours) => new AdvanceClockCommand(hours)),
];

/** Everything the database says each target user holds now matches the model. */
async function expectMatchesModel(m: Model, r: Real, afterCommand: string) {
  const t = now(r);
  for (let user = 0; user < TARGETS; user++) {
    const userId = r.users[user]!;
    const mine = m.grants.filter((g) => g.user === user);
    const expectedRoles = [...new Set(mine.filter((g) => counts(g, t)).map((g) => g.role))].sort();
    const at = new Date(t);
    expect((await heldRoleCodes(r.db, userId, at)).sort(), `held roles of user ${user} after ${afterCommand}`).toEqual(expectedRoles);
    expect(await consolePersonasOf(r.db, userId, at), `personas of user ${user} after ${afterCommand}`).toEqual(
      expectedRoles.includes("da_checker") ? ["da_checker"] : [],
    );
    for (const [a, b] of BLOCKING) expect(expectedRoles.includes(a) && expectedRoles.includes(b), `user ${user} holds ${a} and ${b}`).toBe(false);

    const profile = await getUserProfile(r.checker, userId);
    const stateOf = (g: ModelGrant) => (g.revoked ? "revoked" : g.to !== null && g.to <= t ? "expired" : g.from > t ? "scheduled" : "active");
    expect(
      profile.grants.map((g) => ({ id: g.id, role: g.roleCode, state: g.state })).sort((x, y) => x.id.localeCompare(y.id)),
      `grants on the page of user ${user} after ${afterCommand}`,
    ).toEqual(mine.map((g) => ({ id: g.id, role: g.role, state: stateOf(g) })).sort((x, y) => x.id.localeCompare(y.id)));
    for (const g of profile.grants) {
      // Provenance: who asked and who approved, whatever became of the grant.
      expect(g.requestedByName).toBe(r.maker.actor.displayName);
      expect(g.approvedByName).toBe(r.checker.actor.displayName);
      expect(g.source).toBe("request");
    }
    expect(
      profile.requests.map((q) => ({ id: q.id, status: q.status })).sort((x, y) => x.id.localeCompare(y.id)),
      `requests on the page of user ${user} after ${afterCommand}`,
    ).toEqual(m.requests.filter((q) => q.user === user).map((q) => ({ id: q.id, status: q.status })).sort((x, y) => x.id.localeCompare(y.id)));
  }
}

describeEachDatabase("maker-checker grants against a model", (use) => {
  const clock = new TestClock();
  beforeAll(() => {
    clock.start();
  });
  afterAll(() => {
    clock.stop();
  });

  /** A participant of its own for each run, with a maker, a checker and users who hold nothing yet. */
  async function setup(db: Database, run: number): Promise<Real> {
    const participant = await registerParticipant(db);
    const tag = `${participant.id.toLowerCase()}-${run}`;
    await createConsoleUser(db, { email: `maker-${tag}@model.test`, displayName: `Maker ${tag}`, participantId: participant.id, roleCodes: ["da_maker"] });
    await createConsoleUser(db, { email: `checker-${tag}@model.test`, displayName: `Checker ${tag}`, participantId: participant.id, roleCodes: ["da_checker"] });
    const users: string[] = [];
    for (let i = 0; i < TARGETS; i++) {
      const user = await createConsoleUser(db, { email: `user${i}-${tag}@model.test`, displayName: `User ${i} ${tag}`, participantId: participant.id, roleCodes: [] });
      users.push(user.id);
    }
    return {
      db,
      commandsRun: 0,
      clock,
      maker: await contextFor(db, `maker-${tag}@model.test`),
      checker: await contextFor(db, `checker-${tag}@model.test`),
      users,
    };
  }

  it(
    `keeps effective access equal to the model over ${NUM_RUNS} random sequences`,
    async () => {
      const { db } = use();
      let runs = 0;
      let commandsRun = 0;
      await fc.assert(
        fc.asyncProperty(fc.commands(commandArbitraries, { maxCommands: 30, size: "max" }), async (commands) => {
          runs++;
          const real = await setup(db, runs);
          try {
            await fc.asyncModelRun(() => ({ model: { grants: [], requests: [] }, real }), commands);
          } finally {
            commandsRun += real.commandsRun;
          }
        }),
        { numRuns: NUM_RUNS, seed: SEED },
      );
      console.log(`access model [${use().kind}]: ${runs} runs, ${commandsRun} commands checked against the model`);
      expect(runs).toBe(NUM_RUNS);
    },
    600_000,
  );
});
