import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { mayOn, tenantOf } from "~/modules/tenancy.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { userSearchSchema } from "~/modules/users/schemas";
import { pageUsers, USER_SORTS } from "~/modules/users/service.server";
import { Pager, PagingFields, SortHeader } from "~/components/data-table";
import { pagingFrom } from "~/lib/paging";
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
  const paging = pagingFrom(params, USER_SORTS, { sort: "name", dir: "asc" });
  const { rows, info } = await pageUsers(ctx, filters, paging);
  return json({
    filters,
    paging,
    info,
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
  const sort = { current: data.paging.sort, dir: data.paging.dir };
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
        <PagingFields id="users-size" paging={data.paging} />
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
                <SortHeader column="name" {...sort}>
                  {t("users.displayName")}
                </SortHeader>
                <SortHeader column="email" {...sort}>
                  {t("users.email")}
                </SortHeader>
                <SortHeader column="participant" {...sort}>
                  {t("users.participant")}
                </SortHeader>
                <SortHeader column="status" {...sort}>
                  {t("users.status")}
                </SortHeader>
                <SortHeader column="lastSignIn" {...sort}>
                  {t("users.lastSignIn")}
                </SortHeader>
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
      {data.info.total > 0 ? <Pager info={data.info} label={t("users.title")} /> : null}
    </section>
  );
}
