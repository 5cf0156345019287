import type { DbOrTx } from "../../../db/client.server";
import { translator } from "~/i18n/messages";
import type { CheckResult } from "../onboarding/workflow";
import { rolloutReadinessOf } from "./views.server";

/**
 * Step 7 (readiness verification) of a participant's onboarding case: passes when the participant is ready in its
 * current rollout (every service and carried-over login and API client verified and confirmed, the fallback
 * checklist complete, no freeze exception pending), fails with the reasons when it is not. A participant in no
 * rollout yet is left to the reviewer, with the evidence, as before rollouts existed.
 */
export async function verificationAttendedCheck(db: DbOrTx, participantId: string): Promise<Omit<CheckResult, "id">> {
  const check = await rolloutReadinessOf(db, participantId);
  if (check.outcome === "none") return { outcome: "manual", messageKey: "rollout.check.none" };
  if (check.outcome === "pass") return { outcome: "pass", messageKey: "rollout.check.pass", params: { rollout: check.rollout } };
  // The reasons in both languages: the translator reads "reasonsZh" for {reasons} in Chinese.
  const [en, zh] = [translator("en"), translator("zh-HK")];
  return {
    outcome: "fail",
    messageKey: "rollout.check.notReady",
    params: { rollout: check.rollout, reasons: check.reasons.map((r) => en(`rollout.reason.${r}`)).join("; "), reasonsZh: check.reasons.map((r) => zh(`rollout.reason.${r}`)).join("；") },
  };
}
