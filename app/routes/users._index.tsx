import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn, tenantOf } from "~/modules/tenancy.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { userSearchSchema } from "~/modules/users/schemas";
import { listUsers } from "~/modules/users/service.server";
import { titled } from "~/lib/meta";

const STATUSES = ["invited", "active", "locked", "suspended", "deactivated"] as const;


export const meta = titled("users.title");
export const loader = /* @__PURE__ */ protectedLoader("user:read", async ({ ctx, request }) => {
  const params = new URL(request.url).searchParams;
  const filters = userSearchSchema.parse({
    q: params.get("q") ?? undefined,
    status: params.get("status") ?? undefined,
    participantId: params.get("participantId") ?? undefined,
  });
  const rows = await listUsers(ctx, filters);
  return json({
    filters,
    own: tenantOf(ctx.actor, "user:read"),
    canCreate: mayOn(ctx.actor, "user:create", ctx.actor.participantId),
    users: rows.map((u) => ({
      id: u.id,
      email: u.email,
      displayName: u.displayName,
      participantId: u.participantId,
      status: u.status,
      lastSignInAt: u.lastSignInAt?.toISOString() ?? null,
    })),
  });
});

export default function Users() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  return (
    <section aria-labelledby="users-title">
      <div className="title-row">
        <h1 id="users-title">{t("users.title")}</h1>
        {data.canCreate ? (
          <Link className="button primary" to="/users/new">
            {t("users.new")}
          </Link>
        ) : null}
      </div>
      <p>{data.own ? t("users.scopeOwn", { participant: data.own }) : t("users.scopeAll")}</p>
      <Form method="get" className="filters" role="search">
        <div className="field compact">
          <label htmlFor="users-q">{t("users.searchLabel")}</label>
          <input id="users-q" name="q" type="search" defaultValue={data.filters.q ?? ""} />
        </div>
        <div className="field compact">
          <label htmlFor="users-status">{t("users.status")}</label>
          <select id="users-status" name="status" defaultValue={data.filters.status ?? ""}>
            <option value="">{t("participants.filterAll")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`userStatus.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button secondary">
          {t("users.search")}
        </button>
      </Form>
      {data.users.length === 0 ? (
        <p>{t("users.empty")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("users.displayName")}</th>
                <th scope="col">{t("users.email")}</th>
                <th scope="col">{t("users.participant")}</th>
                <th scope="col">{t("users.status")}</th>
                <th scope="col">{t("users.lastSignIn")}</th>
              </tr>
            </thead>
            <tbody>
              {data.users.map((u) => (
                <tr key={u.id}>
                  <td>
                    <Link to={`/users/${u.id}`}>{u.displayName}</Link>
                  </td>
                  <td>{u.email}</td>
                  <td>{u.participantId ?? "HKEX"}</td>
                  <td>
                    <span className={`badge user-${u.status}`}>{t(`userStatus.${u.status}` as MessageKey)}</span>
                  </td>
                  <td>{u.lastSignInAt ? time(u.lastSignInAt) : t("users.never")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
