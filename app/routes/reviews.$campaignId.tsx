import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { ConfirmPanel } from "~/components/confirm";
import { InlineReasonForm } from "~/components/decide-form";
import { asFailure, FormMessage } from "~/components/form-feedback";
import { IntentForm } from "~/components/field";
import { useI18n } from "~/i18n/use-i18n";
import { counted } from "~/i18n/plural";
import { nameIn, type MessageKey } from "~/i18n/messages";
import { closeCampaign, decideItem, getCampaign } from "~/modules/reviews/service.server";
import { titled } from "~/lib/meta";


export const meta = titled("reviews.title");
export const loader = /* @__PURE__ */ protectedLoader("review:read", async ({ ctx, params }) => {
  const { campaign, items } = await getCampaign(ctx, params.campaignId ?? "");
  return json({
    me: ctx.actor.userId,
    canDecide: ctx.actor.participantId !== null && mayOn(ctx.actor, "review:decide", ctx.actor.participantId),
    canClose: mayOn(ctx.actor, "review:manage", null) && campaign.status === "open" && campaign.deadline.getTime() <= Date.now(),
    campaign: {
      id: campaign.id,
      name: campaign.name,
      status: campaign.status,
      deadline: campaign.deadline.toISOString(),
      deadlinePolicy: campaign.deadlinePolicy,
      total: campaign.total,
      decided: campaign.decided,
      kept: campaign.kept,
      revoked: campaign.revoked,
      flagged: campaign.flagged,
      ended: campaign.ended,
    },
    items: items.map((i) => ({
      id: i.id,
      participantId: i.participantId,
      userId: i.userId,
      userName: i.userName,
      userEmail: i.userEmail,
      roleName: i.roleName,
      roleNameZh: i.roleNameZh,
      decision: i.decision,
      comment: i.comment,
      decidedByName: i.decidedByName,
      decidedAt: i.decidedAt?.toISOString() ?? null,
      outcome: i.outcome,
    })),
  });
});

export const action = /* @__PURE__ */ intentAction({
  decide: /* @__PURE__ */ intent(decideItem, async ({ ctx, form }) => {
    await decideItem(ctx, { itemId: form.value("itemId") ?? "", decision: form.value("decision") ?? "", comment: form.value("comment") });
    return json({ ok: true as const });
  }),
  close: /* @__PURE__ */ intent(
    closeCampaign,
    async ({ ctx, params }) => {
      await closeCampaign(ctx, { campaignId: params.campaignId ?? "" });
      return json({ ok: true as const });
    },
    {
      // Closing applies the deadline policy to what is undecided: say how many and what happens to them.
      async confirm({ ctx, params }) {
        const { campaign } = await getCampaign(ctx, params.campaignId ?? "");
        const undecided = campaign.total - campaign.decided;
        if (undecided === 0) return null;
        return {
          titleKey: "confirm.campaign.close.title",
          messageKey: campaign.deadlinePolicy === "revoke" ? "confirm.campaign.close.revoke" : "confirm.campaign.close.flag",
          confirmKey: "confirm.campaign.close.button",
          params: { campaign: campaign.name, undecided },
        };
      },
    },
  ),
});

export default function Campaign() {
  const { t, time, locale, number } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  const c = data.campaign;
  return (
    <section aria-labelledby="campaign-title">
      <p>
        <Link to="/reviews">{t("reviews.title")}</Link>
      </p>
      <div className="panel">
        <h1 id="campaign-title">
          {c.name} <span className="badge">{t(`reviews.status.${c.status}` as MessageKey)}</span>
        </h1>
        <p>
          {t("reviews.deadline")}: {time(c.deadline)} · {t("reviews.policy")}: {t(`reviews.policy.${c.deadlinePolicy}` as MessageKey)}
        </p>
        <p>
          {t("reviews.progress", { decided: c.decided, total: c.total })}{" "}
          <progress max={Math.max(c.total, 1)} value={c.decided} aria-label={t("reviews.progress", { decided: c.decided, total: c.total })} />
        </p>
        <p>
          <a href={`/reviews/${c.id}/export`} download>
            {t("export.campaignCsv")}
          </a>{" "}
          <span className="muted">{counted(t, locale, "export.rows", data.items.length, number)}</span>
        </p>
        {c.status === "closed" ? <p className="notice">{t("reviews.report", { kept: c.kept, revoked: c.revoked, flagged: c.flagged, ended: c.ended })}</p> : null}
        <FormMessage failure={failure} />
        <ConfirmPanel />
        {data.canClose ? (
          <IntentForm intent="close">
            <button type="submit" className="button primary">
              {t("reviews.close")}
            </button>
          </IntentForm>
        ) : null}
      </div>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("users.participant")}</th>
              <th scope="col">{t("requests.user")}</th>
              <th scope="col">{t("reviews.item")}</th>
              <th scope="col">{t("reviews.decision")}</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((i) => (
              <tr key={i.id}>
                <td>{i.participantId}</td>
                <td>
                  <Link to={`/users/${i.userId}`}>{i.userName}</Link>
                  <p className="small muted">{i.userEmail}</p>
                </td>
                <td>{nameIn(locale, { nameEn: i.roleName, nameZh: i.roleNameZh })}</td>
                <td>
                  {i.outcome ? (
                    <strong>{t(`reviews.outcome.${i.outcome}` as MessageKey)}</strong>
                  ) : i.decision ? (
                    <strong>{t(i.decision === "keep" ? "reviews.keep" : "reviews.revoke")}</strong>
                  ) : (
                    <span className="muted">{t("reviews.undecided")}</span>
                  )}
                  {i.decidedByName ? <p className="small">{t("requests.decidedBy", { name: i.decidedByName, time: i.decidedAt ? time(i.decidedAt) : "" })}</p> : null}
                  {i.comment ? <p className="small">{i.comment}</p> : null}
                  {data.canDecide && !i.decision && c.status === "open" && i.userId !== data.me ? (
                    <InlineReasonForm
                      id={`review-${i.id}`}
                      hidden={{ intent: "decide", itemId: i.id }}
                      inputName="comment"
                      label={t("reviews.comment")}
                      buttons={[
                        { label: t("reviews.keep"), value: "keep" },
                        { label: t("reviews.revoke"), value: "revoke" },
                      ]}
                    />
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
