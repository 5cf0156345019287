import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { ConfirmPanel } from "~/components/confirm";
import { DecideForm, InlineReasonForm } from "~/components/decide-form";
import { LocaleField, TextField, IntentForm } from "~/components/field";
import { asFailure, FormMessage, fieldMessage, type Failure } from "~/components/form-feedback";
import { useI18n } from "~/i18n/use-i18n";
import { localeOf } from "~/i18n/locale.server";
import { nameIn, type MessageKey } from "~/i18n/messages";
import { listServiceCatalogue } from "~/modules/participants/service.server";
import type { Submission } from "~/lib/forms";
import { validate } from "~/lib/validation";
import { getCatalogue } from "~/modules/roles/catalogue.server";
import { cancelRequest, decideRequest, describeGrant, previewResetToBaseline, requestGrant, requestWaiver, revokeGrant } from "~/modules/roles/service.server";
import { performSupportAction, supportHistory } from "~/modules/users/support.server";
import { changeUserStatus, describeUser, getUserProfile, updateUser } from "~/modules/users/service.server";
import { titled } from "~/lib/meta";

const iso = (d: Date | null) => d?.toISOString() ?? null;


export const meta = titled("users.profile");
export const loader = /* @__PURE__ */ protectedLoader("user:read", async ({ ctx, params }) => {
  const profile = await getUserProfile(ctx, params.userId ?? "");
  const { user } = profile;
  const catalogue = await getCatalogue(ctx.db);
  const services = await listServiceCatalogue(ctx.db);
  const history = await supportHistory(ctx, user.id);
  return json({
    user: {
      id: user.id,
      email: user.email,
      displayName: user.displayName,
      locale: user.locale,
      participantId: user.participantId,
      status: user.status,
      statusReason: user.statusReason,
      version: user.version,
      lastSignInAt: iso(user.lastSignInAt),
      mfaEnrolled: user.mfaEnrolledAt !== null,
    },
    dormant: profile.dormant,
    me: ctx.actor.userId,
    can: profile.can,
    roles: catalogue.roles.filter((r) => r.population === "participant" && r.active).map((r) => ({ code: r.code, nameEn: r.nameEn, nameZh: r.nameZh })),
    grants: profile.grants.map((g) => ({
      id: g.id,
      roleCode: g.roleCode,
      roleNameEn: g.roleNameEn,
      roleNameZh: g.roleNameZh,
      // The OCP service the role gives access to, by name (the catalogue keeps its code).
      service: services.find((s) => s.code === g.service) ?? null,
      state: g.state,
      source: g.source,
      requestedByName: g.requestedByName,
      approvedByName: g.approvedByName,
      revokedByName: g.revokedByName,
      revokeReason: g.revokeReason,
      validFrom: iso(g.validFrom)!,
      validTo: iso(g.validTo),
      revokedAt: iso(g.revokedAt),
      createdAt: iso(g.createdAt)!,
      sodJustification: g.sodJustification,
      lastReview: g.lastReview ? { campaignName: g.lastReview.campaignName, decidedAt: g.lastReview.decidedAt.toISOString(), decidedBy: g.lastReview.decidedBy } : null,
    })),
    requests: profile.requests.map((r) => ({
      id: r.id,
      roleCode: r.roleCode,
      status: r.status,
      requestedByName: r.requestedByName,
      requestedBy: r.requestedBy,
      requestedAt: iso(r.requestedAt)!,
      decidedByName: r.decidedByName,
      decidedAt: iso(r.decidedAt),
      decisionComment: r.decisionComment,
      validFrom: iso(r.validFrom),
      validTo: iso(r.validTo),
      source: r.source,
      sodJustification: r.sodJustification,
    })),
    sodConflicts: profile.sodConflicts,
    waivers: profile.waivers.map((w) => ({ id: w.id, ruleId: w.ruleId, status: w.status, reason: w.reason, decidedAt: iso(w.decidedAt) })),
    support: history.map((h) => ({ id: h.action.id, action: h.action.action, ticketRef: h.action.ticketRef, reason: h.action.reason, by: h.performedByName, at: iso(h.action.performedAt)! })),
  });
});

type Params = Record<string, string | undefined>;
const lifecycleInput = (params: Params, form: Submission) => ({
  userId: params.userId ?? "",
  action: form.value("action") ?? "",
  version: form.value("version") ?? "",
  reason: form.value("reason") ?? "",
});
const supportInput = (params: Params, form: Submission) => ({
  userId: params.userId ?? "",
  action: form.value("action") ?? "",
  ticketRef: form.value("ticketRef") ?? "",
  reason: form.value("reason") ?? "",
});

const done = (intent: string) => ({ ok: true as const, intent, done: intent === "support" ? ("support.done" as const) : null });

export const action = /* @__PURE__ */ intentAction({
  update: /* @__PURE__ */ intent(updateUser, async ({ ctx, params, form }) => {
    await updateUser(ctx, { userId: params.userId ?? "", version: form.value("version") ?? "", displayName: form.value("displayName") ?? "", locale: form.value("locale") ?? undefined });
    return done("update");
  }),
  lifecycle: /* @__PURE__ */ intent(
    changeUserStatus,
    async ({ ctx, params, form }) => {
      await changeUserStatus(ctx, lifecycleInput(params, form));
      return done("lifecycle");
    },
    {
      // Suspending and deactivating end access at once (deactivation for good): both are asked first.
      async confirm({ ctx, params, form, request }) {
        const input = validate(changeUserStatus.spec.input, lifecycleInput(params, form));
        if (input.action !== "suspend" && input.action !== "deactivate") return null;
        const user = await describeUser(ctx, input.userId);
        const zh = (await localeOf(request)) === "zh-HK";
        return {
          titleKey: input.action === "suspend" ? "confirm.user.suspend.title" : "confirm.user.deactivate.title",
          messageKey: input.action === "suspend" ? "confirm.user.suspend.message" : "confirm.user.deactivate.message",
          confirmKey: input.action === "suspend" ? "confirm.user.suspend.button" : "confirm.user.deactivate.button",
          params: { name: user.displayName, email: user.email },
          lists: [{ headingKey: "confirm.user.rolesHeld", items: user.roles.map((r) => (zh ? r.nameZh : r.nameEn)), emptyKey: "confirm.user.noRoles" }],
        };
      },
    },
  ),
  request: /* @__PURE__ */ intent(requestGrant, async ({ ctx, params, form }) => {
    await requestGrant(ctx, { userId: params.userId ?? "", roleCode: form.value("roleCode") ?? "", validFrom: form.value("validFrom"), validTo: form.value("validTo"), justification: form.value("justification") });
    return done("request");
  }),
  revoke: /* @__PURE__ */ intent(
    revokeGrant,
    async ({ ctx, form }) => {
      await revokeGrant(ctx, { grantId: form.value("grantId") ?? "", reason: form.value("reason") ?? "" });
      return done("revoke");
    },
    {
      async confirm({ ctx, form }) {
        const input = validate(revokeGrant.spec.input, { grantId: form.value("grantId") ?? "", reason: form.value("reason") ?? "" });
        const grant = await describeGrant(ctx, input.grantId);
        return {
          titleKey: "confirm.grant.revoke.title",
          messageKey: "confirm.grant.revoke.message",
          confirmKey: "confirm.grant.revoke.button",
          params: { role: grant.roleNameEn, roleZh: grant.roleNameZh, name: grant.userName },
        };
      },
    },
  ),
  withdraw: /* @__PURE__ */ intent(cancelRequest, async ({ ctx, form }) => {
    await cancelRequest(ctx, { requestId: form.value("requestId") ?? "" });
    return done("withdraw");
  }),
  decide: /* @__PURE__ */ intent(decideRequest, async ({ ctx, form }) => {
    await decideRequest(ctx, { requestId: form.value("requestId") ?? "", decision: form.value("decision") ?? "", comment: form.value("comment") });
    return done("decide");
  }),
  waiver: /* @__PURE__ */ intent(requestWaiver, async ({ ctx, params, form }) => {
    await requestWaiver(ctx, { userId: params.userId ?? "", ruleId: form.value("ruleId") ?? "", reason: form.value("reason") ?? "" });
    return done("waiver");
  }),
  support: /* @__PURE__ */ intent(
    performSupportAction,
    async ({ ctx, params, form }) => {
      await performSupportAction(ctx, supportInput(params, form));
      return done("support");
    },
    {
      // What takes something away is asked first; a reset to baseline shows exactly what it removes and keeps.
      async confirm({ ctx, params, form, request }) {
        const input = validate(performSupportAction.spec.input, supportInput(params, form));
        const user = await describeUser(ctx, input.userId);
        const common = { params: { name: user.displayName, email: user.email, ticket: input.ticketRef } };
        if (input.action === "reset_mfa") return { ...common, titleKey: "confirm.support.resetMfa.title", messageKey: "confirm.support.resetMfa.message", confirmKey: "confirm.support.resetMfa.button" };
        if (input.action === "revoke_sessions") return { ...common, titleKey: "confirm.support.sessions.title", messageKey: "confirm.support.sessions.message", confirmKey: "confirm.support.sessions.button" };
        if (input.action !== "reset_roles") return null;
        const preview = await previewResetToBaseline(ctx, input.userId);
        const zh = (await localeOf(request)) === "zh-HK";
        const names = (list: { nameEn: string; nameZh: string }[]) => list.map((r) => (zh ? r.nameZh : r.nameEn));
        return {
          ...common,
          titleKey: "confirm.support.reset.title",
          messageKey: preview.revoke.length + preview.withdraw.length > 0 ? "confirm.support.reset.message" : "confirm.support.reset.nothing",
          confirmKey: "confirm.support.reset.button",
          lists: [
            { headingKey: "confirm.support.reset.revoked", items: names(preview.revoke), emptyKey: "confirm.none" },
            { headingKey: "confirm.support.reset.withdrawn", items: names(preview.withdraw), emptyKey: "confirm.none" },
            { headingKey: "confirm.support.reset.kept", items: names(preview.keep), emptyKey: "confirm.support.reset.keptNone" },
          ],
        };
      },
    },
  ),
});

type Data = ReturnType<typeof useLoaderData<typeof loader>>;

export default function UserPage() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const u = data.user;
  const roleName = (code: string) => {
    const r = data.roles.find((x) => x.code === code);
    return r ? (locale === "zh-HK" ? r.nameZh : r.nameEn) : code;
  };
  const active = data.grants.filter((g) => g.state === "active" || g.state === "scheduled");
  const past = data.grants.filter((g) => g.state === "expired" || g.state === "revoked");
  const pending = data.requests.filter((r) => r.status === "pending");
  const decided = data.requests.filter((r) => r.status !== "pending");
  const waived = data.waivers.some((w) => w.status === "approved");
  return (
    <>
      <p>
        <Link to="/users">{t("users.title")}</Link>
      </p>
      <section className="panel" aria-labelledby="user-title">
        <h1 id="user-title">
          {u.displayName} <span className={`badge user-${u.status}`}>{t(`userStatus.${u.status}` as MessageKey)}</span>
          {waived ? <span className="badge waiver-badge"> {t("users.waiverBadge")}</span> : null}
        </h1>
        <FormMessage failure={failure} />
        <ConfirmPanel />
        {actionData && "done" in actionData && actionData.done ? (
          <p role="status" className="notice">
            {t(actionData.done)}
          </p>
        ) : null}
        <dl className="facts">
          <dt>{t("users.email")}</dt>
          <dd>{u.email}</dd>
          <dt>{t("users.participant")}</dt>
          <dd>{u.participantId ? <Link to={`/participants/${u.participantId}`}>{u.participantId}</Link> : "HKEX"}</dd>
          <dt>{t("users.lastSignIn")}</dt>
          <dd>
            {u.lastSignInAt ? time(u.lastSignInAt) : t("users.never")}
            {data.dormant ? <span className="badge warning-badge"> {t("users.dormant")}</span> : null}
          </dd>
          {u.statusReason ? (
            <>
              <dt>{t("users.lifecycleReason")}</dt>
              <dd>{u.statusReason}</dd>
            </>
          ) : null}
        </dl>
        {data.can.update ? <ProfileForms user={u} failure={failure} /> : null}
      </section>

      <section className="panel" aria-labelledby="access-title">
        <h2 id="access-title">{t("users.effectiveAccess")}</h2>
        <p className="muted">{t("users.effectiveAccessIntro")}</p>
        {active.length === 0 ? (
          <p>{t("users.noAccess")}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("users.role")}</th>
                  <th scope="col">{t("users.requestedBy")}</th>
                  <th scope="col">{t("users.approvedBy")}</th>
                  <th scope="col">{t("users.since")}</th>
                  <th scope="col">{t("users.until")}</th>
                  <th scope="col">{t("users.source")}</th>
                  <th scope="col">{t("users.lastReview")}</th>
                  {data.can.revoke ? <th scope="col">{t("users.revoke")}</th> : null}
                </tr>
              </thead>
              <tbody>
                {active.map((g) => (
                  <tr key={g.id}>
                    <td>
                      {locale === "zh-HK" ? g.roleNameZh : g.roleNameEn}
                      {g.state === "scheduled" ? <span className="badge"> {t("grantState.scheduled")}</span> : null}
                      {g.service ? <p className="small muted">{nameIn(locale, g.service)}</p> : null}
                      {g.sodJustification ? <p className="small warning-text">{t("users.sodWarning", { justification: g.sodJustification })}</p> : null}
                    </td>
                    <td>{g.requestedByName ?? "—"}</td>
                    <td>{g.approvedByName ?? "—"}</td>
                    <td>{time(g.validFrom)}</td>
                    <td>{g.validTo ? time(g.validTo) : t("users.noEnd")}</td>
                    <td>{t(`source.${g.source}` as MessageKey)}</td>
                    <td className={g.lastReview ? undefined : "muted"}>
                      {g.lastReview
                        ? t("users.reviewedBy", { campaign: g.lastReview.campaignName, name: g.lastReview.decidedBy ?? "—", time: time(g.lastReview.decidedAt) })
                        : t("users.notReviewed")}
                    </td>
                    {data.can.revoke ? (
                      <td>
                        <InlineReasonForm
                          id={g.id}
                          hidden={{ intent: "revoke", grantId: g.id }}
                          inputName="reason"
                          label={t("users.revokeReason")}
                          buttons={[{ label: t("users.revoke") }]}
                        />
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {data.can.request ? <RequestForm roles={data.roles} failure={failure} /> : null}
      </section>

      <section className="panel" aria-labelledby="pending-title">
        <h2 id="pending-title">{t("users.pendingRequests")}</h2>
        {pending.length === 0 ? (
          <p>{t("users.noPending")}</p>
        ) : (
          <ul className="plain request-list">
            {pending.map((r) => (
              <li key={r.id}>
                <strong>{roleName(r.roleCode)}</strong> — {t("users.requestedBy")}: {r.requestedByName ?? "—"}, {time(r.requestedAt)} ·{" "}
                {t(`source.${r.source}` as MessageKey)}
                {r.sodJustification ? <p className="small warning-text">{t("users.sodWarning", { justification: r.sodJustification })}</p> : null}
                {data.can.approve && r.requestedBy !== data.me && u.id !== data.me ? <DecideForm requestId={r.id} /> : null}
                {r.requestedBy === data.me ? (
                  <IntentForm intent="withdraw" className="inline-form tight">
                    <input type="hidden" name="requestId" value={r.id} />
                    <button type="submit" className="button secondary">
                      {t("users.withdraw")}
                    </button>
                  </IntentForm>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="panel" aria-labelledby="sod-title">
        <h2 id="sod-title">{t("users.sod")}</h2>
        {data.sodConflicts.length === 0 ? (
          <p>{t("users.sodNone")}</p>
        ) : (
          <ul>
            {data.sodConflicts.map((c) => (
              <li key={c.ruleId}>
                {roleName(c.roleA)} + {roleName(c.roleB)} ({c.ruleId}): {c.waived ? t("users.sodWaived") : c.justification ? t("users.sodWarning", { justification: c.justification }) : t(`catalogue.kind.${c.kind}` as MessageKey)}
              </li>
            ))}
          </ul>
        )}
        {data.waivers.length > 0 ? (
          <>
            <h3>{t("users.waivers")}</h3>
            <ul>
              {data.waivers.map((w) => (
                <li key={w.id}>
                  {w.ruleId}: {t(`requestStatus.${w.status === "revoked" ? "cancelled" : w.status}` as MessageKey)} — {w.reason}
                </li>
              ))}
            </ul>
          </>
        ) : null}
        {data.can.waiver ? (
          <IntentForm intent="waiver" className="inline-form">
            <input type="hidden" name="ruleId" value="da_maker_checker" />
            <TextField name="reason" label={t("users.waiverReason")} required error={failure?.fieldErrors.reason ? fieldMessage(failure, "reason", t) : undefined} />
            <button type="submit" className="button secondary">
              {t("users.requestWaiver")}
            </button>
          </IntentForm>
        ) : null}
      </section>

      <section className="panel" aria-labelledby="past-title">
        <h2 id="past-title">{t("users.pastGrants")}</h2>
        {past.length === 0 && decided.length === 0 ? (
          <p>{t("users.noPast")}</p>
        ) : (
          <ul className="plain request-list">
            {past.map((g) => (
              <li key={g.id}>
                <strong>{locale === "zh-HK" ? g.roleNameZh : g.roleNameEn}</strong> — {t(`grantState.${g.state}` as MessageKey)} ·{" "}
                {t("users.requestedBy")}: {g.requestedByName ?? "—"} · {t("users.approvedBy")}: {g.approvedByName ?? "—"} · {time(g.validFrom)} →{" "}
                {g.revokedAt ? time(g.revokedAt) : g.validTo ? time(g.validTo) : "—"}
                {g.revokeReason ? ` · ${g.revokedByName ?? ""}: ${g.revokeReason}` : ""}
              </li>
            ))}
            {decided.map((r) => (
              <li key={r.id}>
                <strong>{roleName(r.roleCode)}</strong> — {t(`requestStatus.${r.status}` as MessageKey)} · {t("users.requestedBy")}: {r.requestedByName ?? "—"} ·{" "}
                {r.decidedByName ? t("requests.decidedBy", { name: r.decidedByName, time: r.decidedAt ? time(r.decidedAt) : "" }) : ""}
                {r.decisionComment ? ` · ${r.decisionComment}` : ""}
              </li>
            ))}
          </ul>
        )}
      </section>

      {data.can.support ? <SupportPanel data={data} failure={failure} /> : null}
      {data.support.length > 0 ? (
        <section className="panel" aria-labelledby="support-history-title">
          <h2 id="support-history-title">{t("users.supportHistory")}</h2>
          <ul>
            {data.support.map((s) => (
              <li key={s.id}>
                {time(s.at)} · {t(`support.action.${s.action}` as MessageKey)} · {s.ticketRef} · {s.by ?? "—"} — {s.reason}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}

function ProfileForms({ user, failure }: { user: Data["user"]; failure: Failure | null }) {
  const { t } = useI18n();
  const navigation = useNavigation();
  const lifecycle: ("suspend" | "reinstate" | "deactivate" | "unlock")[] =
    user.status === "suspended" ? ["reinstate", "deactivate"] : user.status === "locked" ? ["unlock", "suspend", "deactivate"] : user.status === "deactivated" ? [] : ["suspend", "deactivate"];
  return (
    <div className="two-forms">
      <IntentForm intent="update" key={`name-${user.version}`} className="inline-form">
        <input type="hidden" name="version" value={user.version} />
        <TextField name="displayName" label={t("users.displayName")} required defaultValue={user.displayName} error={fieldMessage(failure, "displayName", t)} />
        <LocaleField defaultValue={user.locale} error={fieldMessage(failure, "locale", t)} />
        <button type="submit" className="button secondary" disabled={navigation.state === "submitting"}>
          {t("users.save")}
        </button>
      </IntentForm>
      {lifecycle.length > 0 ? (
        <IntentForm intent="lifecycle" key={`status-${user.version}`} className="inline-form">
          <input type="hidden" name="version" value={user.version} />
          <div className="field compact">
            <label htmlFor="lifecycle-action">{t("users.lifecycle")}</label>
            <select id="lifecycle-action" name="action">
              {lifecycle.map((a) => (
                <option key={a} value={a}>
                  {t(`users.action.${a}` as MessageKey)}
                </option>
              ))}
            </select>
          </div>
          <TextField name="reason" label={t("users.lifecycleReason")} required error={fieldMessage(failure, "reason", t)} />
          <button type="submit" className="button secondary" disabled={navigation.state === "submitting"}>
            {t("users.save")}
          </button>
        </IntentForm>
      ) : null}
    </div>
  );
}

function RequestForm({ roles, failure }: { roles: Data["roles"]; failure: Failure | null }) {
  const { t, locale } = useI18n();
  const err = (name: string) => fieldMessage(failure, name, t);
  return (
    <IntentForm intent="request" className="stacked-form request-form">
      <h3>{t("users.requestRole")}</h3>
      <div className="field">
        <label htmlFor="request-role">{t("users.role")}</label>
        <select id="request-role" name="roleCode" aria-describedby={err("roleCode") ? "request-role-error" : undefined}>
          {roles.map((r) => (
            <option key={r.code} value={r.code}>
              {locale === "zh-HK" ? r.nameZh : r.nameEn}
            </option>
          ))}
        </select>
        {err("roleCode") ? (
          <p className="field-error" id="request-role-error">
            {err("roleCode")}
          </p>
        ) : null}
      </div>
      <TextField name="validFrom" type="date" label={t("users.validFrom")} error={err("validFrom")} />
      <TextField name="validTo" type="date" label={t("users.validTo")} error={err("validTo")} />
      <TextField name="justification" label={t("users.justification")} error={err("justification")} />
      <button type="submit" className="button primary">
        {t("users.submitRequest")}
      </button>
    </IntentForm>
  );
}

function SupportPanel({ data, failure }: { data: Data; failure: Failure | null }) {
  const { t } = useI18n();
  const actions = ["unlock", "reset_roles", "reset_mfa", "password_reset", "revoke_sessions"] as const;
  return (
    <section className="panel" aria-labelledby="support-title">
      <h2 id="support-title">{t("users.helpdesk")}</h2>
      <p className="muted">{t("users.helpdeskIntro")}</p>
      <IntentForm intent="support" className="stacked-form">
        <TextField name="ticketRef" label={t("users.ticketRef")} required hint="INC-20461" error={fieldMessage(failure, "ticketRef", t)} />
        <TextField name="reason" label={t("users.supportReason")} required error={fieldMessage(failure, "reason", t)} />
        {/* One button per action, each named after it: nothing is pre-selected, and what takes access away asks first. */}
        <div className="button-row" role="group" aria-label={t("users.helpdesk")}>
          {actions
            .filter((a) => a !== "unlock" || data.user.status === "locked")
            .filter((a) => a !== "reset_roles" || data.user.participantId)
            .map((a) => (
              <button key={a} type="submit" name="action" value={a} className="button secondary">
                {t(`support.action.${a}` as MessageKey)}
              </button>
            ))}
        </div>
      </IntentForm>
    </section>
  );
}
