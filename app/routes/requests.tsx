import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { DecideForm, InlineReasonForm } from "~/components/decide-form";
import { asFailure, FormMessage } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { decideRequest, decideWaiver, listPendingWaivers, listRequests, type RequestRow } from "~/modules/roles/service.server";
import { titled } from "~/lib/meta";


const iso = (d: Date | null) => d?.toISOString() ?? null;
const view = (r: RequestRow) => ({
  id: r.id,
  userId: r.userId,
  userName: r.userName,
  userEmail: r.userEmail,
  participantId: r.participantId,
  roleCode: r.roleCode,
  status: r.status,
  source: r.source,
  requestedByName: r.requestedByName,
  requestedAt: iso(r.requestedAt)!,
  decidedByName: r.decidedByName,
  decidedAt: iso(r.decidedAt),
  decisionComment: r.decisionComment,
  validFrom: iso(r.validFrom),
  validTo: iso(r.validTo),
  sodJustification: r.sodJustification,
});


export const meta = titled("requests.title");
export const loader = /* @__PURE__ */ protectedLoader("user:read", async ({ ctx }) => {
  const own = ctx.actor.participantId;
  const checker = own !== null && mayOn(ctx.actor, "role:approve", own);
  const maker = own !== null && mayOn(ctx.actor, "role:request", own);
  const waivers = await listPendingWaivers(ctx);
  return json({
    checker,
    maker,
    awaiting: checker ? (await listRequests(ctx, "awaiting-me")).map(view) : [],
    mine: maker ? (await listRequests(ctx, "mine", { limit: 100 })).map(view) : [],
    waivers: waivers.map((w) => ({ id: w.id, userId: w.userId, userName: w.userName, participantId: w.participantId, ruleId: w.ruleId, reason: w.reason, requestedAt: iso(w.requestedAt)! })),
  });
});

export const action = /* @__PURE__ */ intentAction({
  decide: /* @__PURE__ */ intent(decideRequest, async ({ ctx, form }) => {
    await decideRequest(ctx, { requestId: form.value("requestId") ?? "", decision: form.value("decision") ?? "", comment: form.value("comment") });
    return json({ ok: true as const });
  }),
  "decide-waiver": /* @__PURE__ */ intent(decideWaiver, async ({ ctx, form }) => {
    await decideWaiver(ctx, { waiverId: form.value("waiverId") ?? "", decision: form.value("decision") ?? "", comment: form.value("comment") });
    return json({ ok: true as const });
  }),
});

export default function Requests() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const window = (r: { validFrom: string | null; validTo: string | null }) =>
    r.validFrom || r.validTo ? `${r.validFrom ? time(r.validFrom) : "—"} → ${r.validTo ? time(r.validTo) : t("users.noEnd")}` : t("users.noEnd");
  return (
    <section aria-labelledby="requests-title">
      <h1 id="requests-title">{t("requests.title")}</h1>
      <FormMessage failure={failure} />
      {data.checker ? (
        <section className="panel" aria-labelledby="awaiting-title">
          <h2 id="awaiting-title">{t("requests.awaiting")}</h2>
          <p className="muted">{t("requests.awaitingIntro")}</p>
          {data.awaiting.length === 0 ? (
            <p>{t("requests.none")}</p>
          ) : (
            <ul className="plain request-list">
              {data.awaiting.map((r) => (
                <li key={r.id}>
                  <strong>{r.roleCode}</strong> → <Link to={`/users/${r.userId}`}>{r.userName}</Link> ({r.userEmail}) · {t("users.requestedBy")}:{" "}
                  {r.requestedByName ?? "—"}, {time(r.requestedAt)} · {t("requests.window")}: {window(r)} · {t(`source.${r.source}` as MessageKey)}
                  {r.sodJustification ? <p className="small warning-text">{t("users.sodWarning", { justification: r.sodJustification })}</p> : null}
                  <DecideForm requestId={r.id} />
                </li>
              ))}
            </ul>
          )}
        </section>
      ) : null}
      {data.maker ? (
        <section className="panel" aria-labelledby="mine-title">
          <h2 id="mine-title">{t("requests.mine")}</h2>
          {data.mine.length === 0 ? (
            <p>{t("requests.none")}</p>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("requests.user")}</th>
                    <th scope="col">{t("users.role")}</th>
                    <th scope="col">{t("requests.requested")}</th>
                    <th scope="col">{t("requests.decision")}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.mine.map((r) => (
                    <tr key={r.id}>
                      <td>
                        <Link to={`/users/${r.userId}`}>{r.userName}</Link>
                      </td>
                      <td>{r.roleCode}</td>
                      <td>{time(r.requestedAt)}</td>
                      <td>
                        <span className={`badge request-${r.status}`}>{t(`requestStatus.${r.status}` as MessageKey)}</span>
                        {r.decidedByName ? ` ${t("requests.decidedBy", { name: r.decidedByName, time: r.decidedAt ? time(r.decidedAt) : "" })}` : ""}
                        {r.decisionComment ? <p className="small">{r.decisionComment}</p> : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ) : null}
      {data.waivers.length > 0 ? (
        <section className="panel" aria-labelledby="waivers-title">
          <h2 id="waivers-title">{t("requests.waivers")}</h2>
          <ul className="plain request-list">
            {data.waivers.map((w) => (
              <li key={w.id}>
                <Link to={`/users/${w.userId}`}>{w.userName}</Link> ({w.participantId}) · {w.ruleId} · {time(w.requestedAt)} — {w.reason}
                <InlineReasonForm
                  id={`waiver-${w.id}`}
                  hidden={{ intent: "decide-waiver", waiverId: w.id }}
                  inputName="comment"
                  label={t("requests.comment")}
                  buttons={[
                    { label: t("requests.approve"), value: "approve", primary: true },
                    { label: t("requests.reject"), value: "reject" },
                  ]}
                />
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {!data.checker && !data.maker && data.waivers.length === 0 ? <p>{t("requests.none")}</p> : null}
    </section>
  );
}
