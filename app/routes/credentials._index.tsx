import { json, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { protectedAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { TextField } from "~/components/field";
import { UserPickerField } from "~/components/pickers";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { titled } from "~/lib/meta";
import { createClient, listClients } from "~/modules/credentials/service.server";
import { ownerCandidates } from "~/modules/users/service.server";

export const meta = titled("credentials.title");

export const loader = /* @__PURE__ */ protectedLoader("credential:read", async ({ ctx }) => {
  const clients = await listClients(ctx);
  const canCreate = ctx.actor.participantId !== null && mayOn(ctx.actor, "credential:create", ctx.actor.participantId);
  return json({
    canCreate,
    owners: canCreate ? await ownerCandidates(ctx, ctx.actor.participantId!) : null,
    clients: clients.map((c) => ({ id: c.id, clientId: c.clientId, participantId: c.participantId, environment: c.environment, name: c.name, status: c.status, ownerName: c.ownerName, keys: c.keys, nextExpiry: c.nextExpiry?.toISOString() ?? null, expiresSoon: c.nextExpiry !== null && c.nextExpiry.getTime() - Date.now() <= 30 * 24 * 3600 * 1000 })),
  });
});

export const action = /* @__PURE__ */ protectedAction("credential:create", async ({ ctx, form }) => {
  // A participant administrator creates clients for their own participant.
  const client = await createClient(ctx, { participantId: ctx.actor.participantId ?? "", environment: form.value("environment") ?? "", name: form.value("name") ?? "", ownerUserId: form.value("ownerUserId") ?? "" });
  return redirect(`/credentials/${client.id}`);
});

export default function Credentials() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  return (
    <section aria-labelledby="credentials-title">
      <h1 id="credentials-title">{t("credentials.title")}</h1>
      <p>{t("credentials.intro")}</p>
      {data.clients.length === 0 ? (
        <p>{t("credentials.none")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("credentials.name")}</th>
                <th scope="col">{t("credentials.clientId")}</th>
                <th scope="col">{t("users.participant")}</th>
                <th scope="col">{t("credentials.environment")}</th>
                <th scope="col">{t("credentials.owner")}</th>
                <th scope="col">{t("credentials.status")}</th>
                <th scope="col">{t("credentials.keys")}</th>
                <th scope="col">{t("cert.nextExpiry")}</th>
              </tr>
            </thead>
            <tbody>
              {data.clients.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link to={`/credentials/${c.id}`}>{c.name}</Link>
                  </td>
                  <td>
                    <code>{c.clientId}</code>
                  </td>
                  <td>{c.participantId}</td>
                  <td>{t(`credentials.env.${c.environment}` as MessageKey)}</td>
                  <td>{c.ownerName}</td>
                  <td>{t(`credentials.status.${c.status}` as MessageKey)}</td>
                  <td>{c.keys}</td>
                  <td>
                    {c.nextExpiry ? time(c.nextExpiry) : "—"}
                    {c.expiresSoon ? <span className="badge warning-badge"> {t("cert.expiresSoon")}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data.canCreate ? (
        <section className="panel" aria-labelledby="create-client-title">
          <h2 id="create-client-title">{t("credentials.create")}</h2>
          <Form method="post" className="stacked-form">
            <FormMessage failure={failure} />
            <div className="field">
              <label htmlFor="client-environment">{t("credentials.environment")}</label>
              <select id="client-environment" name="environment">
                {(["simulator", "test", "production"] as const).map((e) => (
                  <option key={e} value={e}>
                    {t(`credentials.env.${e}`)}
                  </option>
                ))}
              </select>
              {fieldMessage(failure, "environment", t) ? <p className="field-error">{fieldMessage(failure, "environment", t)}</p> : null}
            </div>
            <TextField name="name" label={t("credentials.name")} required error={fieldMessage(failure, "name", t)} />
            <UserPickerField
              id="client-owner"
              name="ownerUserId"
              label={t("credentials.owner")}
              hint={t("credentials.ownerHint")}
              options={data.owners?.options ?? null}
              error={fieldMessage(failure, "ownerUserId", t)}
            />
            <button type="submit" className="button primary">
              {t("credentials.create")}
            </button>
          </Form>
        </section>
      ) : null}
      <p className="muted">
        {(["simulator", "test", "production"] as const).map((e) => (
          <a key={e} href={`/jwks/${e}`} className="spaced">
            {t("credentials.jwks", { environment: t(`credentials.env.${e}`) })}
          </a>
        ))}
      </p>
    </section>
  );
}
