import type { CaseOutcome, CertificationRunStatus } from "../../../db/schema/certification";
import type { MessageKey } from "~/i18n/messages";

/**
 * The certification run's rules (SPEC §6), plain functions of data:
 *
 *   recording → submitted (the participant's maker, every mandatory case passed)
 *             → confirmed (the participant's checker, not the maker)
 *             → signed_off (an officer with a declaration, who recorded, submitted and confirmed nothing)
 *   submitted | confirmed → returned (with reasons) → recording again when a result is recorded
 *   any state but stale → stale (a new program version, or a catalogue version adding mandatory cases)
 *
 * A signed-off run is immutable: nothing but going stale happens to it.
 */

export interface RunCaseFacts {
  code: string;
  mandatory: boolean;
  /** The outcome of the case's latest attempt, or null when nobody has recorded one. */
  latest: CaseOutcome | null;
}

export interface RunFacts {
  status: CertificationRunStatus;
  submittedBy: string | null;
  confirmedBy: string | null;
  /** Everyone who recorded a result in this run. */
  recorders: readonly string[];
  cases: readonly RunCaseFacts[];
}

export type RunAction =
  | { kind: "record"; userId: string | null; caseCode: string; outcome: CaseOutcome }
  | { kind: "submit"; userId: string | null }
  | { kind: "confirm"; userId: string | null }
  | { kind: "sign_off"; userId: string | null }
  | { kind: "return"; userId: string | null }
  | { kind: "stale" };

export type RunDecision = { ok: true; status: CertificationRunStatus } | { ok: false; messageKey: MessageKey };

export const OPEN_STATUSES: readonly CertificationRunStatus[] = ["recording", "submitted", "confirmed", "returned"];

const refuse = (messageKey: MessageKey): RunDecision => ({ ok: false, messageKey });

/** Mandatory cases whose latest attempt is not a pass. */
export function missingMandatory(cases: readonly RunCaseFacts[]): string[] {
  return cases.filter((c) => c.mandatory && c.latest !== "passed").map((c) => c.code);
}

/** Two users are the same person when both are known and equal (the console itself is nobody's second pair of eyes). */
const same = (a: string | null, b: string | null) => a === null || b === null || a === b;

export function decideRun(run: RunFacts, action: RunAction): RunDecision {
  if (action.kind === "stale") {
    return run.status === "stale" ? refuse("cert.refused.alreadyStale") : { ok: true, status: "stale" };
  }
  // A decision that comes second (two officers at once) is told the run was already decided.
  const deciding = action.kind === "confirm" || action.kind === "sign_off" || action.kind === "return";
  if (run.status === "signed_off") return refuse(deciding ? "cert.refused.alreadyDecided" : "cert.refused.signedOff");
  if (run.status === "stale") return refuse("cert.refused.stale");
  switch (action.kind) {
    case "record": {
      if (run.status !== "recording" && run.status !== "returned") return refuse("cert.refused.notRecording");
      const c = run.cases.find((x) => x.code === action.caseCode);
      if (!c) return refuse("cert.refused.unknownCase");
      if (action.outcome === "not_applicable" && c.mandatory) return refuse("cert.refused.mandatoryApplies");
      return { ok: true, status: "recording" };
    }
    case "submit": {
      if (run.status !== "recording" && run.status !== "returned") return refuse("cert.refused.notRecording");
      if (missingMandatory(run.cases).length > 0) return refuse("cert.refused.mandatoryMissing");
      return { ok: true, status: "submitted" };
    }
    case "confirm": {
      if (run.status !== "submitted") return refuse("cert.refused.alreadyDecided");
      if (same(action.userId, run.submittedBy)) return refuse("cert.refused.fourEyes");
      return { ok: true, status: "confirmed" };
    }
    case "sign_off": {
      if (run.status !== "confirmed") return refuse("cert.refused.alreadyDecided");
      if (missingMandatory(run.cases).length > 0) return refuse("cert.refused.mandatoryMissing");
      if (action.userId === null || run.recorders.includes(action.userId) || same(action.userId, run.submittedBy) || same(action.userId, run.confirmedBy)) {
        return refuse("cert.refused.ownWork");
      }
      return { ok: true, status: "signed_off" };
    }
    case "return": {
      if (run.status !== "submitted" && run.status !== "confirmed") return refuse("cert.refused.alreadyDecided");
      if (same(action.userId, run.submittedBy)) return refuse("cert.refused.fourEyes");
      return { ok: true, status: "returned" };
    }
  }
}

/**
 * Whether a signed-off run still certifies the participant: the same program version as the one now declared, and
 * every mandatory case the catalogue asks now for the participant's services among the run's cases.
 */
export function isCurrent(
  run: { status: CertificationRunStatus; programVersion: string; caseCodes: readonly string[]; services: readonly string[] },
  now: { programVersion: string | null; mandatoryCases: readonly { code: string; serviceCode: string }[]; subscribed: readonly string[] },
): boolean {
  if (run.status !== "signed_off") return false;
  if (now.programVersion !== null && now.programVersion !== run.programVersion) return false;
  if (!now.subscribed.every((s) => run.services.includes(s))) return false;
  const codes = new Set(run.caseCodes);
  return now.mandatoryCases.filter((c) => now.subscribed.includes(c.serviceCode)).every((c) => codes.has(c.code));
}
