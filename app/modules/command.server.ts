import { eq } from "drizzle-orm";
import type { z } from "zod";
import type { Transaction } from "../../db/client.server";
import { participants } from "../../db/schema";
import type { Capability } from "~/auth/permissions";
import type { MessageKey } from "~/i18n/messages";
import { AppError } from "~/lib/errors";
import { validate } from "~/lib/validation";
import type { AuditAction } from "./audit/actions";
import { freezeNames } from "./audit/names.server";
import { appendAuditEvents, type AuditEventInput } from "./audit/service.server";
import type { Actor, ServiceContext } from "./context.server";
import { assertPlatformCapability, assertTenant } from "./tenancy.server";

/**
 * Every change of state is a command (docs/decisions/012-commands-and-modules.md). A command declares its
 * permission, its input schema, how its tenant (the participant it changes) is found, and the audit actions it
 * appends; `defineCommand` then runs it the one way every change runs:
 *
 *   validate the input (400, nothing read) → open a transaction → find the tenant → 404/403 by the tenancy rule →
 *   lock the participant row → run the change → append its audit events → commit.
 *
 * Lock order: the participant row first, always, then whatever the change locks (user → request → grant → key),
 * then the audit chain heads at the end. Commands of one participant therefore take turns instead of waiting on
 * each other crosswise; a deadlock or serialization failure that still happens is retried, and after that answered
 * 409, never 500.
 */

/** What a command's `run` receives. In-transaction helpers of other modules take it too (`cx`). */
export interface CommandContext<I = unknown> {
  tx: Transaction;
  ctx: ServiceContext;
  actor: Actor;
  input: I;
  /** The participant the change belongs to, locked for the transaction; null for an HKEX-wide change. */
  participantId: string | null;
  now: Date;
  /** Queues an audit event; the wrapper appends them all before commit. Only declared actions are accepted. */
  audit(event: AuditEventInput): void;
  /**
   * Runs part of the change in a savepoint: if it throws, its writes and the events it queued are undone and the
   * error is rethrown, while the rest of the command goes on (closing a campaign flags what it cannot revoke).
   */
  savepoint<T>(fn: (cx: CommandContext<I>) => Promise<T>): Promise<T>;
  /**
   * Records the command's events as done by this actor: for public commands, whose actor is learnt while they run
   * (the user a one-time link belongs to, the account signing in).
   */
  recordAs(actor: Actor): void;
}

/** "public": no capability is needed (signing in, redeeming a link): the command authorizes by what it is given. */
export type CommandPermission = Capability | "public";

export interface CommandSpec<S extends z.ZodType, R> {
  /** Unique, `module.verb` (the registry and the atomicity test list commands by it). */
  name: string;
  permission: CommandPermission | ((input: z.output<S>, actor: Actor) => CommandPermission);
  /** The message of a 403 (the actor sees the object but may not do this); "error.forbidden" by default. */
  refusal?: MessageKey;
  input: S;
  /** Every audit action the command (and the helpers it calls) may append. */
  events: readonly AuditAction[];
  /**
   * The participant this change belongs to: its id, or null for an HKEX-owned object (an HKEX user). Reads what it
   * needs to find it, and throws 404 when the object named by the input does not exist. "platform" for an
   * HKEX-wide operation with no object to hide (a catalogue entry, a campaign, a new participant): the capability
   * alone decides, 403 without it.
   */
  tenant: "platform" | ((tx: Transaction, input: z.output<S>, actor: Actor) => Promise<string | null> | string | null);
  /** Whether to lock the tenant's participant row before running (default true). */
  lockParticipant?: boolean;
  run: (cx: CommandContext<z.output<S>>) => Promise<R>;
}

/**
 * What a caller may pass: the schema's input with every literal loosened to its base type (a form sends any string
 * for a choice); the schema, not the compiler, decides what is valid, with a field message.
 */
export type CommandInput<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends string
    ? string
    : T extends number
      ? number | string
      : T extends boolean
        ? boolean
        : T extends Date
          ? Date
          : T extends readonly (infer U)[]
            ? CommandInput<U>[]
            : T extends object
              ? { [K in keyof T as unknown extends T[K] ? never : K]: CommandInput<T[K]> } & { [K in keyof T as unknown extends T[K] ? K : never]?: unknown }
              : T;

export type Command<S extends z.ZodType = z.ZodType, R = unknown> = ((ctx: ServiceContext, input: CommandInput<z.input<S>>) => Promise<R>) & {
  spec: CommandSpec<S, R>;
};

/** Every command of the console, by name: the atomicity, tenancy and fuzz tests walk this. */
export const COMMANDS = new Map<string, Command>();

export type FaultPoint = "before-run" | "after-run" | "after-audit";
/**
 * Test hook: called at three points of every command, inside its transaction. A test throws from it (or kills
 * the connection) to prove that a command leaves both its change and its events, or neither.
 */
export const commandFaults: { inject: ((name: string, point: FaultPoint, tx: Transaction) => Promise<void> | void) | null } = {
  inject: null,
};

const MAX_ATTEMPTS = 4;

function isRetryable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // 40P01 deadlock detected, 40001 serialization failure.
    if (code === "40P01" || code === "40001") return true;
  }
  return false;
}

/** The tenant's participant row, locked when the command locks it: whether it is suspended. */
async function participantRow(tx: Transaction, participantId: string, lock: boolean): Promise<{ suspendedAt: Date | null } | undefined> {
  const query = tx.select({ suspendedAt: participants.suspendedAt }).from(participants).where(eq(participants.id, participantId));
  const [row] = lock ? await query.for("no key update") : await query;
  return row;
}

export function defineCommand<S extends z.ZodType, R>(spec: CommandSpec<S, R>): Command<S, R> {
  if (COMMANDS.has(spec.name)) throw new Error(`command ${spec.name} is defined twice`);
  const declared = new Set<string>(spec.events);
  const command = async (ctx: ServiceContext, raw: CommandInput<z.input<S>>): Promise<R> => {
    const input = validate(spec.input, raw);
    const permission = typeof spec.permission === "function" ? spec.permission(input, ctx.actor) : spec.permission;
    for (let attempt = 1; ; attempt++) {
      try {
        return await ctx.db.transaction(async (tx) => {
          const platform = spec.tenant === "platform";
          const participantId = spec.tenant === "platform" ? null : await spec.tenant(tx, input, ctx.actor);
          if (permission !== "public") {
            if (platform) assertPlatformCapability(ctx.actor, permission, spec.refusal);
            else assertTenant(ctx.actor, permission, participantId, spec.refusal);
          }
          if (participantId) {
            const row = await participantRow(tx, participantId, spec.lockParticipant !== false);
            // A suspended participant is stopped (SPEC §2): its own users change nothing until an officer reinstates it.
            if (row?.suspendedAt && permission !== "public" && ctx.actor.participantId === participantId) {
              throw new AppError(403, "participant.refused.suspended");
            }
          }
          const events: AuditEventInput[] = [];
          const now = new Date();
          let recordedActor = ctx.actor;
          const contextOn = (on: Transaction): CommandContext<z.output<S>> => ({
            tx: on,
            ctx,
            actor: ctx.actor,
            input,
            participantId,
            now,
            audit(event) {
              if (!declared.has(event.action)) throw new Error(`command ${spec.name} appends undeclared audit action ${event.action}`);
              events.push(event);
            },
            recordAs(actor) {
              recordedActor = actor;
            },
            async savepoint(fn) {
              const queued = events.length;
              // `this`: the context it is called on, with whatever actor a caller put in it (the console's own).
              const outer = this as CommandContext<z.output<S>>;
              try {
                return await on.transaction((inner) => fn({ ...outer, tx: inner }));
              } catch (error) {
                events.length = queued;
                throw error;
              }
            },
          });
          const cx = contextOn(tx);
          await commandFaults.inject?.(spec.name, "before-run", tx);
          const result = await spec.run(cx);
          await commandFaults.inject?.(spec.name, "after-run", tx);
          // The names of what the events are about, as they are now (a renamed user keeps the name an event had).
          await freezeNames(tx, events);
          await appendAuditEvents(tx, { ...ctx, actor: recordedActor }, events);
          await commandFaults.inject?.(spec.name, "after-audit", tx);
          return result;
        });
      } catch (error) {
        if (!isRetryable(error)) throw error;
        if (attempt >= MAX_ATTEMPTS) throw new AppError(409, "error.busy");
        await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20 * attempt));
      }
    }
  };
  const defined = Object.assign(command, { spec });
  COMMANDS.set(spec.name, defined as unknown as Command);
  return defined;
}

/** The tenant of a command about one participant named in its input. */
export const participantInInput = <I extends { participantId: string }>(_tx: Transaction, input: I) => input.participantId;

/** The tenant of an HKEX-wide operation (catalogues, campaigns, checkpoints, registering a participant). */
export const platformWide = "platform" as const;
