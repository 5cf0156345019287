import { json } from "@remix-run/node";
import { Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { mayOn } from "~/modules/tenancy.server";
import { TextField, IntentForm } from "~/components/field";
import { asFailure, FormMessage, fieldMessage, type Failure } from "~/components/form-feedback";
import { UserPickerField } from "~/components/pickers";
import { useI18n } from "~/i18n/use-i18n";
import { nameIn, type MessageKey } from "~/i18n/messages";
import { addStepEntry, getStep, transitionStep, updateStepPlan } from "~/modules/onboarding/service.server";
import { titled } from "~/lib/meta";


export const meta = titled("case.step");
export const loader = /* @__PURE__ */ protectedLoader("case:read", async ({ ctx, params }) => {
  const step = await getStep(ctx, params.participantId ?? "", params.stepKey ?? "");
  const r = step.row;
  return json({
    participant: { id: step.participant.id, nameEn: step.participant.nameEn, nameZh: step.participant.nameZh },
    step: {
      key: step.definition.key,
      titleKey: step.definition.titleKey,
      descriptionKey: step.definition.descriptionKey,
      completedBy: step.definition.completedBy,
      approval: step.definition.approval,
      requiresEvidence: step.definition.requiresEvidence,
      state: r.state,
      version: r.version,
      ownerUserId: r.ownerUserId,
      ownerName: step.ownerName,
      dueDate: r.dueDate,
      overdue: step.overdue,
      returnReason: r.returnReason,
      submittedAt: r.submittedAt?.toISOString() ?? null,
      decidedAt: r.decidedAt?.toISOString() ?? null,
      blockers: step.blockers,
    },
    allowedActions: step.allowedActions.filter((a) => a !== "auto_complete"),
    checks: step.checks,
    entries: step.entries.map((e) => ({
      id: e.id,
      kind: e.kind,
      body: e.body,
      reference: e.reference,
      authorName: e.authorName,
      createdAt: e.createdAt.toISOString(),
    })),
    canComment: mayOn(ctx.actor, "case:comment", step.participant.id),
    canPlan: mayOn(ctx.actor, "case:plan", step.participant.id),
    owners: step.owners,
  });
});

/** Moving a step: starting and submitting are the case's work, approving and returning are an officer's. */
const move = (permission: "case:complete" | "case:approve", name: string) =>
  intent(
    transitionStep,
    async ({ ctx, params, form }) => {
    await transitionStep(ctx, {
      participantId: params.participantId ?? "",
      stepKey: params.stepKey ?? "",
      action: form.value("action") ?? "",
      version: form.value("version") ?? "",
      reason: form.value("reason"),
    });
    return json({ ok: true as const, intent: name });
    },
    { permission },
  );

export const action = /* @__PURE__ */ intentAction({
  start: /* @__PURE__ */ move("case:complete", "start"),
  submit: /* @__PURE__ */ move("case:complete", "submit"),
  approve: /* @__PURE__ */ move("case:approve", "approve"),
  return: /* @__PURE__ */ move("case:approve", "return"),
  plan: /* @__PURE__ */ intent(updateStepPlan, async ({ ctx, params, form }) => {
    await updateStepPlan(ctx, {
      participantId: params.participantId ?? "",
      stepKey: params.stepKey ?? "",
      version: form.value("version") ?? "",
      ownerUserId: form.value("ownerUserId"),
      dueDate: form.value("dueDate"),
    });
    return json({ ok: true as const, intent: "plan" });
  }),
  entry: /* @__PURE__ */ intent(addStepEntry, async ({ ctx, params, form }) => {
    await addStepEntry(ctx, {
      participantId: params.participantId ?? "",
      stepKey: params.stepKey ?? "",
      kind: form.value("kind") ?? "",
      body: form.value("body") ?? "",
      reference: form.value("reference"),
    });
    return json({ ok: true as const, intent: "entry" });
  }),
});

export default function StepPage() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const s = data.step;
  const entryKey = actionData && "intent" in actionData && actionData.intent === "entry" ? `saved-${Date.now()}` : "entry";
  return (
    <>
      <p>
        <Link to={`/participants/${data.participant.id}`}>{t("case.backToCase")}</Link>
      </p>
      <section className="panel" aria-labelledby="step-title">
        <p className="muted">
          {data.participant.id} · {nameIn(locale, data.participant)}
        </p>
        <h1 id="step-title">
          {t(s.titleKey)} <span className={`badge state-${s.state}`}>{t(`stepState.${s.state}` as MessageKey)}</span>
          {s.overdue ? <span className="badge overdue-badge"> {t("case.overdue")}</span> : null}
        </h1>
        <p>{t(s.descriptionKey)}</p>
        <dl className="facts">
          <dt>{t("case.completedBy")}</dt>
          <dd>{t(`case.party.${s.completedBy}` as MessageKey)}</dd>
          <dt>{t("case.approvedBy")}</dt>
          <dd>{t(`case.approval.${s.approval}` as MessageKey)}</dd>
          <dt>{t("case.owner")}</dt>
          <dd>{s.ownerName ?? t("case.noOwner")}</dd>
          <dt>{t("case.dueDate")}</dt>
          <dd>{s.dueDate ?? "—"}</dd>
        </dl>
        {s.state === "returned" && s.returnReason ? (
          <p className="warning" role="status">
            {t("case.returnedBecause", { reason: s.returnReason })}
          </p>
        ) : null}
        {s.submittedAt ? <p className="muted">{t("stepState.submitted")}: {time(s.submittedAt)}</p> : null}
      </section>

      <section className="panel" aria-labelledby="actions-title">
        <h2 id="actions-title">{t("case.actions")}</h2>
        {failure && (!actionData || !("intent" in actionData)) ? <FormMessage failure={failure} /> : null}
        {data.allowedActions.length === 0 ? (
          <p>{t("case.noActions")}</p>
        ) : (
          <div className="step-actions">
            {data.allowedActions
              .filter((a) => a !== "return")
              .map((a) => (
                <IntentForm intent={a} key={a}>
                  <input type="hidden" name="action" value={a} />
                  <input type="hidden" name="version" value={s.version} />
                  <button type="submit" className={a === "approve" || a === "submit" ? "button primary" : "button secondary"} disabled={busy}>
                    {t(`stepAction.${a}` as MessageKey)}
                  </button>
                </IntentForm>
              ))}
            {data.allowedActions.includes("return") ? (
              <IntentForm intent="return" className="inline-form">
                <input type="hidden" name="action" value="return" />
                <input type="hidden" name="version" value={s.version} />
                <TextField name="reason" label={t("case.returnReason")} required />
                <button type="submit" className="button secondary" disabled={busy}>
                  {t("stepAction.return")}
                </button>
              </IntentForm>
            ) : null}
          </div>
        )}
      </section>

      <section className="panel" aria-labelledby="checks-title">
        <h2 id="checks-title">{t("case.checks")}</h2>
        {data.checks.length === 0 ? (
          <p className="muted">—</p>
        ) : (
          <ul className="checks">
            {data.checks.map((c) => (
              <li key={c.id} className={`check-${c.outcome}`}>
                <strong>{t(`checkOutcome.${c.outcome}` as MessageKey)}</strong> — {t(c.messageKey, c.params)}
              </li>
            ))}
          </ul>
        )}
      </section>

      {data.canPlan ? <PlanForm step={s} owners={data.owners} failure={actionData && "intent" in actionData ? null : failure} /> : null}

      <section className="panel" aria-labelledby="entries-title">
        <h2 id="entries-title">{t("case.entries")}</h2>
        {data.entries.length === 0 ? (
          <p>{t("case.noEntries")}</p>
        ) : (
          <ol className="entries">
            {data.entries.map((e) => (
              <li key={e.id}>
                <p className="timeline-head">
                  <span className={`badge kind-${e.kind}`}>{t(`case.entryKind.${e.kind}` as MessageKey)}</span>{" "}
                  <time dateTime={e.createdAt}>{time(e.createdAt)}</time> · {e.authorName}
                </p>
                <p className="entry-body">{e.body}</p>
                {e.reference ? (
                  <p className="muted">
                    {t("case.entryReference")}: {e.reference}
                  </p>
                ) : null}
              </li>
            ))}
          </ol>
        )}
        {data.canComment ? <EntryForm key={entryKey} failure={failure} /> : null}
      </section>
    </>
  );
}

function PlanForm({
  step,
  owners,
  failure,
}: {
  step: { version: number; ownerUserId: string | null; dueDate: string | null };
  owners: { options: { id: string; name: string }[] | null; currentEmail: string | null };
  failure: Failure | null;
}) {
  const { t } = useI18n();
  return (
    <section className="panel" aria-labelledby="plan-title">
      <h2 id="plan-title">{t("case.plan")}</h2>
      <IntentForm intent="plan" key={step.version}>
        <input type="hidden" name="version" value={step.version} />
        <UserPickerField
          id="plan-owner"
          name="ownerUserId"
          label={t("case.owner")}
          options={owners.options}
          currentId={step.ownerUserId}
          currentEmail={owners.currentEmail}
          noneLabel={t("case.noOwner")}
          error={fieldMessage(failure, "ownerUserId", t)}
        />
        <TextField name="dueDate" type="date" label={t("case.dueDate")} defaultValue={step.dueDate ?? ""} error={fieldMessage(failure, "dueDate", t)} />
        <button type="submit" className="button secondary">
          {t("case.savePlan")}
        </button>
      </IntentForm>
    </section>
  );
}

function EntryForm({ failure }: { failure: Failure | null }) {
  const { t } = useI18n();
  return (
    <IntentForm intent="entry" className="stacked-form">
      <h3>{t("case.addEntry")}</h3>
      <fieldset className="field">
        <legend>{t("case.entryKind")}</legend>
        <label className="checkbox">
          <input type="radio" name="kind" value="evidence" defaultChecked /> {t("case.entryKind.evidence")}
        </label>
        <label className="checkbox">
          <input type="radio" name="kind" value="note" /> {t("case.entryKind.note")}
        </label>
      </fieldset>
      <div className="field">
        <label htmlFor="entry-body">{t("case.entryBody")}</label>
        <textarea
          id="entry-body"
          name="body"
          rows={3}
          aria-invalid={failure?.fieldErrors.body ? true : undefined}
          aria-describedby={failure?.fieldErrors.body ? "entry-body-error" : undefined}
        />
        {failure?.fieldErrors.body ? (
          <p className="field-error" id="entry-body-error">
            {fieldMessage(failure, "body", t)}
          </p>
        ) : null}
      </div>
      <TextField name="reference" label={t("case.entryReference")} hint={t("case.entryReferenceHint")} error={fieldMessage(failure, "reference", t)} />
      <button type="submit" className="button secondary">
        {t("case.addEntrySubmit")}
      </button>
    </IntentForm>
  );
}
