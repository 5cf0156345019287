import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { asFailure, FormMessage, fieldMessage } from "~/components/form-feedback";
import { ConfirmPanel } from "~/components/confirm";
import { Timeline } from "~/components/timeline";
import { frozenNamesOf, namesForEvents, referencesOf } from "~/modules/audit/names.server";
import { localeOf } from "~/i18n/locale.server";
import type { Submission } from "~/lib/forms";
import { validate } from "~/lib/validation";
import { IntentForm } from "~/components/field";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { caseTimeline, getCase, runAutomaticSteps } from "~/modules/onboarding/service.server";
import {
  getParticipant,
  getParticipantProfile,
  listServiceCatalogue,
  reinstateParticipant,
  suspendParticipant,
} from "~/modules/participants/service.server";
import { titled } from "~/lib/meta";
import { NcpAgreements } from "~/components/ncp-agreements";
import { addNcpAgreement, describeNcpEnd, endNcpAgreement, listClearingAgreements, renameNcpAgreement } from "~/modules/participants/clearing.server";
import { certificationStatusOf } from "~/modules/certification/service.server";


export const meta = titled("case.title");
export const loader = /* @__PURE__ */ protectedLoader("case:read", async ({ ctx, params, request }) => {
  const id = params.participantId ?? "";
  const profile = await getParticipantProfile(ctx, id);
  const view = await getCase(ctx, id);
  const timeline = await caseTimeline(ctx, id, { before: new URL(request.url).searchParams.get("before") });
  const catalogue = await listServiceCatalogue(ctx.db);
  const certification = await certificationStatusOf(ctx.db, id);
  const clearing = await listClearingAgreements(ctx, id);
  const p = profile.participant;
  return json({
    participant: {
      id: p.id,
      nameEn: p.nameEn,
      nameZh: p.nameZh,
      type: p.type,
      status: p.status,
      bic: p.bic,
      version: p.version,
      suspendedAt: p.suspendedAt?.toISOString() ?? null,
      suspensionReason: p.suspensionReason,
      updatedAt: p.updatedAt.toISOString(),
    },
    services: profile.services.map((code) => catalogue.find((s) => s.code === code) ?? { code, nameEn: code, nameZh: code }),
    ncps: {
      agreements: clearing.agreements.map(({ id: agreementId, ncpId, ncpNameEn, ncpNameZh, startsOn, endsOn, state, version }) => ({ id: agreementId, ncpId, ncpNameEn, ncpNameZh, startsOn, endsOn, state, version })),
      canManage: clearing.canManage,
    },
    contacts: profile.contacts.map(({ name, email, phone, title }) => ({ name, email, phone, title })),
    certification: { ...certification, visible: mayOn(ctx.actor, "certification:read", id) },
    canEdit: mayOn(ctx.actor, "participant:update", id),
    canRunChecks: mayOn(ctx.actor, "case:complete", id),
    steps: view.steps.map((s) => ({
      key: s.definition.key,
      titleKey: s.definition.titleKey,
      state: s.row.state,
      ownerName: s.ownerName,
      dueDate: s.row.dueDate,
      overdue: s.overdue,
      blockers: s.blockers,
      returnReason: s.row.state === "returned" ? s.row.returnReason : null,
      canAct: s.allowedActions.length > 0,
    })),
    timeline: timeline.events.map((e) => ({
      id: e.id,
      occurredAt: e.occurredAt.toISOString(),
      actorUserId: e.actorUserId,
      actorName: e.actorName,
      action: e.action,
      refs: referencesOf(e),
      frozen: frozenNamesOf(e),
      reason: e.reason,
      changes: e.changes,
    })),
    nextCursor: timeline.nextCursor,
    names: await namesForEvents(ctx, timeline.events),
  });
});

function ncpEndInput(params: { participantId?: string }, form: Submission) {
  return { participantId: params.participantId ?? "", agreementId: form.value("agreementId") ?? "", version: form.value("version") ?? "", endsOn: form.value("endsOn") ?? "" };
}

export const action = /* @__PURE__ */ intentAction({
  "run-checks": /* @__PURE__ */ intent(runAutomaticSteps, async ({ ctx, params }) => {
    await runAutomaticSteps(ctx, { participantId: params.participantId ?? "" });
    return json({ ok: true as const });
  }),
  suspend: /* @__PURE__ */ intent(
    suspendParticipant,
    async ({ ctx, params, form }) => {
      await suspendParticipant(ctx, { participantId: params.participantId ?? "", version: form.value("version") ?? "", reason: form.value("reason") ?? "" });
      return json({ ok: true as const });
    },
    {
      async confirm({ ctx, params, form, request }) {
        validate(suspendParticipant.spec.input, { participantId: params.participantId ?? "", version: form.value("version") ?? "", reason: form.value("reason") ?? "" });
        const participant = await getParticipant(ctx, params.participantId ?? "");
        const zh = (await localeOf(request)) === "zh-HK";
        const name = `${zh ? participant.nameZh : participant.nameEn} (${participant.id})`;
        return { titleKey: "confirm.participant.suspend.title", messageKey: "confirm.participant.suspend.message", confirmKey: "confirm.participant.suspend.button", params: { participant: name } };
      },
    },
  ),
  "ncp-add": /* @__PURE__ */ intent(addNcpAgreement, async ({ ctx, params, form }) => {
    await addNcpAgreement(ctx, {
      participantId: params.participantId ?? "",
      ncpId: form.value("ncpId") ?? "",
      nameEn: form.value("nameEn") ?? "",
      nameZh: form.value("nameZh") ?? "",
      startsOn: form.value("startsOn") ?? "",
      endsOn: form.value("endsOn") ?? null,
    });
    return json({ ok: true as const });
  }),
  "ncp-end": /* @__PURE__ */ intent(
    endNcpAgreement,
    async ({ ctx, params, form }) => {
      await endNcpAgreement(ctx, ncpEndInput(params, form));
      return json({ ok: true as const });
    },
    {
      // An ended agreement stays ended: the officer is asked first, with the NCP and the last day named.
      async confirm({ ctx, params, form, request }) {
        const ending = await describeNcpEnd(ctx, validate(endNcpAgreement.spec.input, ncpEndInput(params, form)));
        const zh = (await localeOf(request)) === "zh-HK";
        return {
          titleKey: "confirm.ncp.end.title",
          messageKey: "confirm.ncp.end.message",
          confirmKey: "confirm.ncp.end.button",
          params: { ncp: zh ? ending.ncpNameZh : ending.ncpNameEn, ncpId: ending.ncpId, endsOn: ending.endsOn },
        };
      },
    },
  ),
  "ncp-rename": /* @__PURE__ */ intent(renameNcpAgreement, async ({ ctx, params, form }) => {
    await renameNcpAgreement(ctx, {
      participantId: params.participantId ?? "",
      agreementId: form.value("agreementId") ?? "",
      version: form.value("version") ?? "",
      nameEn: form.value("nameEn") ?? "",
      nameZh: form.value("nameZh") ?? "",
    });
    return json({ ok: true as const });
  }),
  reinstate: /* @__PURE__ */ intent(reinstateParticipant, async ({ ctx, params, form }) => {
    await reinstateParticipant(ctx, { participantId: params.participantId ?? "", version: form.value("version") ?? "", reason: form.value("reason") ?? "" });
    return json({ ok: true as const });
  }),
});

export default function ParticipantCase() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const failure = asFailure(useActionData<typeof action>());
  // The NCP section shows its own refusals; the suspension form shows the others.
  const ncpFailure = failure?.values.intent?.startsWith("ncp-") ? failure : null;
  const pageFailure = ncpFailure ? null : failure;
  const navigation = useNavigation();
  const p = data.participant;
  const stepTitle = (key: string) => t(data.steps.find((s) => s.key === key)?.titleKey ?? ("case.step" as MessageKey));
  return (
    <>
      <p>
        <Link to="/participants">{t("participants.backToList")}</Link>
      </p>
      <section className="panel" aria-labelledby="participant-title">
        <div className="title-row">
          <h1 id="participant-title">
            {t("participants.detailTitle", { participant: p.id })}{" "}
            <span className={`badge status-${p.status}`}>{t(`participantStatus.${p.status}` as MessageKey)}</span>
          </h1>
          {data.canEdit ? (
            <Link className="button secondary" to={`/participants/${p.id}/edit`}>
              {t("participants.edit")}
            </Link>
          ) : null}
        </div>
        {p.suspendedAt ? (
          <p className="warning" role="status">
            {t("participants.suspended", { time: time(p.suspendedAt), reason: p.suspensionReason ?? "" })}
          </p>
        ) : null}
        <dl className="facts">
          <dt>{t("participants.nameEn")}</dt>
          <dd lang="en">{p.nameEn}</dd>
          <dt>{t("participants.nameZh")}</dt>
          <dd lang="zh-HK">{p.nameZh}</dd>
          <dt>{t("participants.type")}</dt>
          <dd>{t(`participantType.${p.type}` as MessageKey)}</dd>
          <dt>{t("participants.bic")}</dt>
          <dd>{p.bic ?? "—"}</dd>
          <dt>{t("participants.services")}</dt>
          <dd>
            {data.services.length ? data.services.map((s) => (locale === "zh-HK" ? s.nameZh : s.nameEn)).join("; ") : t("participants.none")}
          </dd>
          <dt>{t("participants.contacts")}</dt>
          <dd>
            {data.contacts.length ? (
              <ul className="plain">
                {data.contacts.map((c) => (
                  <li key={c.email + c.name}>
                    {c.name}
                    {c.title ? `, ${c.title}` : ""} — {c.email}
                    {c.phone ? ` · ${c.phone}` : ""}
                  </li>
                ))}
              </ul>
            ) : (
              t("participants.none")
            )}
          </dd>
          <dt>{t("cert.statusOnParticipant")}</dt>
          <dd>
            <span className={`badge outcome-${data.certification.current ? "passed" : data.certification.status === "stale" ? "failed" : "none"}`}>
              {t(`cert.status.${data.certification.status}` as MessageKey)}
            </span>
            {data.certification.programVersion ? ` ${data.certification.programVersion}` : ""}
            {data.certification.visible && data.certification.runId ? (
              <>
                {" "}
                <Link to={`/certification/${data.certification.runId}`}>{t("cert.run")}</Link>
              </>
            ) : null}
          </dd>
          <dt>{t("participants.updatedAt")}</dt>
          <dd>{time(p.updatedAt)}</dd>
        </dl>
        {data.canEdit ? (
          <IntentForm intent={p.suspendedAt ? "reinstate" : "suspend"} className="inline-form" aria-label={p.suspendedAt ? t("participants.reinstate") : t("participants.suspend")}>
            <FormMessage failure={pageFailure} />
            <ConfirmPanel intents={["suspend"]} />
            <input type="hidden" name="version" value={p.version} />
            <div className="field compact">
              <label htmlFor="suspension-reason">{t("participants.reason")}</label>
              <input
                id="suspension-reason"
                name="reason"
                aria-invalid={failure?.fieldErrors.reason ? true : undefined}
                aria-describedby={failure?.fieldErrors.reason ? "suspension-reason-error" : undefined}
              />
              {failure?.fieldErrors.reason ? (
                <p className="field-error" id="suspension-reason-error">
                  {fieldMessage(failure, "reason", t)}
                </p>
              ) : null}
            </div>
            <button type="submit" className="button secondary" disabled={navigation.state === "submitting"}>
              {p.suspendedAt ? t("participants.reinstate") : t("participants.suspend")}
            </button>
          </IntentForm>
        ) : null}
      </section>

      {p.type === "GCP" || data.ncps.agreements.length > 0 ? (
        <NcpAgreements agreements={data.ncps.agreements} isGcp={p.type === "GCP"} canManage={data.ncps.canManage} failure={ncpFailure} />
      ) : null}

      <section className="panel" aria-labelledby="case-title">
        <div className="title-row">
          <h2 id="case-title">{t("case.title")}</h2>
          {data.canRunChecks ? (
            <IntentForm intent="run-checks">
              <button type="submit" className="button secondary">
                {t("case.runChecks")}
              </button>
            </IntentForm>
          ) : null}
        </div>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("case.step")}</th>
                <th scope="col">{t("case.state")}</th>
                <th scope="col">{t("case.owner")}</th>
                <th scope="col">{t("case.dueDate")}</th>
              </tr>
            </thead>
            <tbody>
              {data.steps.map((s, i) => (
                <tr key={s.key} className={s.overdue ? "overdue" : undefined}>
                  <td>
                    {i + 1}. <Link to={`/participants/${p.id}/steps/${s.key}`}>{t(s.titleKey)}</Link>
                    {s.blockers.length ? (
                      <p className="muted small">{t("case.blockedBy", { steps: s.blockers.map(stepTitle).join(", ") })}</p>
                    ) : null}
                    {s.returnReason ? <p className="small warning-text">{t("case.returnedBecause", { reason: s.returnReason })}</p> : null}
                  </td>
                  <td>
                    <span className={`badge state-${s.state}`}>{t(`stepState.${s.state}` as MessageKey)}</span>
                  </td>
                  <td>{s.ownerName ?? <span className="muted">{t("case.noOwner")}</span>}</td>
                  <td>
                    {s.dueDate ?? "—"}
                    {s.overdue ? <span className="badge overdue-badge"> {t("case.overdue")}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section className="panel" aria-labelledby="timeline-title">
        <h2 id="timeline-title">{t("case.timeline")}</h2>
        <Timeline events={data.timeline} names={data.names} olderHref={data.nextCursor ? `/participants/${p.id}?before=${encodeURIComponent(data.nextCursor)}` : null} />
      </section>
    </>
  );
}
