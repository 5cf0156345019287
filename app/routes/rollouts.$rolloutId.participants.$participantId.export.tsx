import { protectedLoader } from "~/auth/guard.server";
import { translator } from "~/i18n/messages";
import { getParticipantRollout, participantCsv } from "~/modules/rollouts/views.server";

/** A participant's carry-over snapshot and the changes since the cutoff, with their consequences, as CSV. */
export const loader = /* @__PURE__ */ protectedLoader("rollout:read", async ({ ctx, params }) => {
  const page = await getParticipantRollout(ctx, params.rolloutId ?? "", params.participantId ?? "");
  const en = translator("en");
  return new Response(participantCsv(page, (kind) => en(`rollout.diff.then.${kind}`)), {
    headers: {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="rollout-${page.rollout.id}-${page.participant.id}-carry-over.csv"`,
      "Cache-Control": "no-store",
    },
  });
});
