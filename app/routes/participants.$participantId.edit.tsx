import { json, redirect } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { asFailure } from "~/components/form-feedback";
import { ParticipantForm } from "~/components/participant-form";
import { useI18n } from "~/i18n/use-i18n";
import { participantInputFromForm } from "~/modules/participants/form.server";
import { getParticipantProfile, listServiceCatalogue, updateParticipant } from "~/modules/participants/service.server";
import { titled } from "~/lib/meta";


export const meta = titled("participants.edit");
export const loader = /* @__PURE__ */ protectedLoader("participant:update", async ({ ctx, params }) => {
  const profile = await getParticipantProfile(ctx, params.participantId ?? "");
  const p = profile.participant;
  return json({
    services: await listServiceCatalogue(ctx.db),
    values: {
      id: p.id,
      version: p.version,
      nameEn: p.nameEn,
      nameZh: p.nameZh,
      type: p.type,
      bic: p.bic,
      services: profile.services,
      contacts: profile.contacts.map(({ name, email, phone, title }) => ({ name, email, phone, title })),
    },
  });
});

export const action = /* @__PURE__ */ protectedAction("participant:update", async ({ ctx, params, form }) => {
  const id = params.participantId ?? "";
  const input = participantInputFromForm(form);
  await updateParticipant(ctx, { ...input, participantId: id, version: input.version ?? "" });
  return redirect(`/participants/${id}`);
});

export default function EditParticipant() {
  const { t } = useI18n();
  const { services, values } = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  return (
    <section className="panel" aria-labelledby="edit-participant-title">
      <h1 id="edit-participant-title">{t("participants.editTitle", { participant: values.id })}</h1>
      {/* After a conflict the loader has run again: the form shows the current record, with its new version. */}
      <ParticipantForm
        key={values.version}
        mode="edit"
        values={values}
        services={services}
        failure={failure}
        cancelTo={`/participants/${values.id}`}
      />
    </section>
  );
}
