import { json, redirect } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { asFailure } from "~/components/form-feedback";
import { ParticipantForm } from "~/components/participant-form";
import { useI18n } from "~/i18n/use-i18n";
import { participantInputFromForm } from "~/modules/participants/form.server";
import { createParticipant, listServiceCatalogue } from "~/modules/participants/service.server";
import { titled } from "~/lib/meta";


export const meta = titled("participants.registerTitle");
export const loader = /* @__PURE__ */ protectedLoader("participant:create", async ({ ctx }) => {
  return json({ services: await listServiceCatalogue(ctx.db) });
});

export const action = /* @__PURE__ */ protectedAction("participant:create", async ({ ctx, form }) => {
  const input = participantInputFromForm(form);
  const participant = await createParticipant(ctx, { ...input, id: input.id ?? "" });
  return redirect(`/participants/${participant.id}`);
});

export default function NewParticipant() {
  const { t } = useI18n();
  const { services } = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  return (
    <section className="panel" aria-labelledby="new-participant-title">
      <h1 id="new-participant-title">{t("participants.registerTitle")}</h1>
      <ParticipantForm mode="create" values={null} services={services} failure={failure} cancelTo="/participants" />
    </section>
  );
}
