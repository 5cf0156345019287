import { json } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { useRef } from "react";
import { z } from "zod";
import { intent, intentAction, protectedLoader } from "~/auth/guard.server";
import { Pager, PagingFields, SortHeader } from "~/components/data-table";
import { InlineReasonForm } from "~/components/decide-form";
import { asFailure, FormMessage } from "~/components/form-feedback";
import type { MessageKey } from "~/i18n/messages";
import { useI18n } from "~/i18n/use-i18n";
import { AppError } from "~/lib/errors";
import { titled } from "~/lib/meta";
import { offsetOf, pagingFrom } from "~/lib/paging";
import { clientsAwaitingDecision, decideClient } from "~/modules/credentials/service.server";
import {
  approvalQueue,
  BULK_MAX,
  countRequests,
  decideRequest,
  decideRequestsInBulk,
  decideWaiver,
  listPendingWaivers,
  listRequests,
  QUEUE_SORTS,
  queueIds,
  type QueueFilters,
  type RequestRow,
} from "~/modules/roles/service.server";
import { mayOn } from "~/modules/tenancy.server";

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** The queue's filters from a query string or a form: unknown or oversized values are ignored, never an error. */
const filterText = z.string().trim().min(1).max(100).optional().catch(undefined);
const filtersSchema = z.object({ roleCode: filterText, requestedBy: filterText, source: filterText, importRunId: filterText });
const filtersFrom = (get: (name: string) => string | null | undefined): QueueFilters =>
  filtersSchema.parse({ roleCode: get("role") ?? undefined, requestedBy: get("requestedBy") ?? undefined, source: get("source") ?? undefined, importRunId: get("run") ?? undefined });

const mineView = (r: RequestRow) => ({
  id: r.id,
  userId: r.userId,
  userName: r.userName,
  roleCode: r.roleCode,
  roleNameEn: r.roleNameEn,
  roleNameZh: r.roleNameZh,
  status: r.status,
  requestedAt: iso(r.requestedAt)!,
  decidedByName: r.decidedByName,
  decidedAt: iso(r.decidedAt),
  decisionComment: r.decisionComment,
});

export const meta = titled("requests.title");
export const loader = /* @__PURE__ */ protectedLoader("user:read", async ({ ctx, request }) => {
  const own = ctx.actor.participantId;
  const checker = own !== null && mayOn(ctx.actor, "role:approve", own);
  const maker = own !== null && mayOn(ctx.actor, "role:request", own);
  const params = new URL(request.url).searchParams;
  const filters = filtersFrom((n) => params.get(n));
  const paging = pagingFrom(params, QUEUE_SORTS, { sort: "requestedAt", dir: "asc" });
  const minePage = pagingFrom(new URLSearchParams({ page: params.get("minePage") ?? "1" }), ["requestedAt"], { sort: "requestedAt", dir: "desc" });
  const [queue, clients, waivers, mine, mineTotal] = await Promise.all([
    checker ? approvalQueue(ctx, filters, paging) : null,
    clientsAwaitingDecision(ctx),
    listPendingWaivers(ctx),
    maker ? listRequests(ctx, "mine", { limit: minePage.size, offset: offsetOf(minePage) }) : [],
    maker ? countRequests(ctx, "mine") : 0,
  ]);
  return json({
    checker,
    maker,
    bulkMax: BULK_MAX,
    filters,
    paging,
    queue: queue
      ? {
          info: queue.info,
          options: queue.options,
          rows: queue.rows.map((r) => ({
            id: r.id,
            userId: r.userId,
            userName: r.userName,
            userEmail: r.userEmail,
            roleCode: r.roleCode,
            roleNameEn: r.roleNameEn,
            roleNameZh: r.roleNameZh,
            requestedByName: r.requestedByName,
            requestedAt: iso(r.requestedAt)!,
            validFrom: iso(r.validFrom),
            validTo: iso(r.validTo),
            source: r.source,
            importRunId: r.importRunId,
            sodJustification: r.sodJustification,
          })),
        }
      : null,
    clients: clients.map((c) => ({ id: c.id, clientId: c.clientId, name: c.name, environment: c.environment, requestedByName: c.requestedByName, createdAt: iso(c.createdAt)! })),
    waivers: waivers.map((w) => ({ id: w.id, userId: w.userId, userName: w.userName, participantId: w.participantId, ruleId: w.ruleId, reason: w.reason, requestedAt: iso(w.requestedAt)! })),
    mine: mine.map(mineView),
    mineInfo: { total: mineTotal, page: minePage.page, size: minePage.size },
  });
});

export const action = /* @__PURE__ */ intentAction({
  decide: /* @__PURE__ */ intent(decideRequest, async ({ ctx, form }) => {
    await decideRequest(ctx, { requestId: form.value("requestId") ?? "", decision: form.value("decision") ?? "", comment: form.value("comment") });
    return json({ ok: true as const });
  }),
  /** Many requests under one comment: the ticked rows, or every request the filters match. Each is its own decision. */
  "decide-bulk": /* @__PURE__ */ intent(
    "role:approve",
    async ({ ctx, form }) => {
      const scope = form.value("scope") === "matching" ? "matching" : "selected";
      let ids = form.list("requestId");
      if (scope === "matching") {
        ids = await queueIds(ctx, filtersFrom((n) => form.value(n)), BULK_MAX);
        if (ids.length === 0) throw new AppError(400, "requests.bulk.noneMatching", { requestIds: "requests.bulk.noneMatching" });
      }
      const outcomes = await decideRequestsInBulk(ctx, { requestIds: ids, decision: form.value("decision") ?? "", comment: form.value("comment") });
      return json({ bulk: { decision: form.value("decision") === "reject" ? ("reject" as const) : ("approve" as const), outcomes } });
    },
    { refusal: "access.refused.checkerOnly" },
  ),
  "decide-client": /* @__PURE__ */ intent(decideClient, async ({ ctx, form }) => {
    await decideClient(ctx, { clientId: form.value("clientId") ?? "", decision: form.value("decision") ?? "" });
    return json({ ok: true as const });
  }),
  "decide-waiver": /* @__PURE__ */ intent(decideWaiver, async ({ ctx, form }) => {
    await decideWaiver(ctx, { waiverId: form.value("waiverId") ?? "", decision: form.value("decision") ?? "", comment: form.value("comment") });
    return json({ ok: true as const });
  }),
});

type LoaderData = ReturnType<typeof useLoaderData<typeof loader>>;

function QueueFilterForm({ data }: { data: LoaderData }) {
  const { t, locale, time } = useI18n();
  const queue = data.queue!;
  return (
    <Form method="get" className="filters" role="search" aria-label={t("requests.filters")}>
      <div className="field compact">
        <label htmlFor="queue-role">{t("users.role")}</label>
        <select id="queue-role" name="role" defaultValue={data.filters.roleCode ?? ""}>
          <option value="">{t("participants.filterAll")}</option>
          {queue.options.roles.map((r) => (
            <option key={r.code} value={r.code}>
              {locale === "zh-HK" ? r.nameZh : r.nameEn}
            </option>
          ))}
        </select>
      </div>
      <div className="field compact">
        <label htmlFor="queue-requester">{t("users.requestedBy")}</label>
        <select id="queue-requester" name="requestedBy" defaultValue={data.filters.requestedBy ?? ""}>
          <option value="">{t("participants.filterAll")}</option>
          {queue.options.requesters.map((r) => (
            <option key={r.id} value={r.id}>
              {r.name}
            </option>
          ))}
        </select>
      </div>
      <div className="field compact">
        <label htmlFor="queue-source">{t("requests.source")}</label>
        <select id="queue-source" name="source" defaultValue={data.filters.source ?? ""}>
          <option value="">{t("participants.filterAll")}</option>
          {queue.options.sources.map((s) => (
            <option key={s} value={s}>
              {t(`source.${s}` as MessageKey)}
            </option>
          ))}
        </select>
      </div>
      {queue.options.importRuns.length > 0 ? (
        <div className="field compact">
          <label htmlFor="queue-run">{t("requests.importRun")}</label>
          <select id="queue-run" name="run" defaultValue={data.filters.importRunId ?? ""}>
            <option value="">{t("participants.filterAll")}</option>
            {queue.options.importRuns.map((run) => (
              <option key={run.id} value={run.id}>
                {run.fileName} · {time(run.createdAt)}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <PagingFields id="queue-size" paging={data.paging} />
      <button type="submit" className="button secondary">
        {t("requests.applyFilters")}
      </button>
    </Form>
  );
}

function BulkResult({ bulk }: { bulk: { decision: "approve" | "reject"; outcomes: { requestId: string; ok: boolean; userName: string | null; roleNameEn: string | null; roleNameZh: string | null; messageKey: string | null; params: Record<string, string | number> }[] } }) {
  const { t, locale, number } = useI18n();
  const done = bulk.outcomes.filter((o) => o.ok).length;
  const refused = bulk.outcomes.filter((o) => !o.ok);
  return (
    <div className={refused.length ? "notice-box warning" : "notice-box"} role="status">
      <p>
        {t(bulk.decision === "approve" ? "requests.bulk.approved" : "requests.bulk.rejected", { count: number(done) })}
        {refused.length ? ` ${t("requests.bulk.refusedCount", { count: number(refused.length) })}` : ""}
      </p>
      {refused.length ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{t("requests.bulk.refusedCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("requests.user")}</th>
                <th scope="col">{t("users.role")}</th>
                <th scope="col">{t("requests.bulk.reason")}</th>
              </tr>
            </thead>
            <tbody>
              {refused.map((o) => (
                <tr key={o.requestId}>
                  <td>{o.userName ?? o.requestId}</td>
                  <td>{(locale === "zh-HK" ? o.roleNameZh : o.roleNameEn) ?? "—"}</td>
                  <td>{o.messageKey ? t(o.messageKey as MessageKey, o.params) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function ApprovalQueue({ data, bulk }: { data: LoaderData; bulk: Parameters<typeof BulkResult>[0]["bulk"] | null }) {
  const { t, time, locale, number } = useI18n();
  const form = useRef<HTMLFormElement>(null);
  const queue = data.queue!;
  const window = (r: { validFrom: string | null; validTo: string | null }) =>
    r.validFrom || r.validTo ? `${r.validFrom ? time(r.validFrom) : "—"} → ${r.validTo ? time(r.validTo) : t("users.noEnd")}` : t("users.noEnd");
  const toggleAll = (checked: boolean) => {
    form.current?.querySelectorAll<HTMLInputElement>('input[name="requestId"]').forEach((box) => (box.checked = checked));
  };
  const sort = { current: data.paging.sort, dir: data.paging.dir };
  return (
    <section className="panel" aria-labelledby="awaiting-title">
      <h2 id="awaiting-title">
        {t("requests.awaiting")} <span className="badge">{number(queue.info.total)}</span>
      </h2>
      <p className="muted">{t("requests.awaitingIntro")}</p>
      {bulk ? <BulkResult bulk={bulk} /> : null}
      <QueueFilterForm data={data} />
      {queue.rows.length === 0 ? (
        <p>{t("requests.none")}</p>
      ) : (
        <Form method="post" ref={form} aria-label={t("requests.bulk.formLabel")}>
          <input type="hidden" name="intent" value="decide-bulk" />
          <input type="hidden" name="role" value={data.filters.roleCode ?? ""} />
          <input type="hidden" name="requestedBy" value={data.filters.requestedBy ?? ""} />
          <input type="hidden" name="source" value={data.filters.source ?? ""} />
          <input type="hidden" name="run" value={data.filters.importRunId ?? ""} />
          <div className="table-wrap">
            <table className="queue">
              <caption className="visually-hidden">{t("requests.awaiting")}</caption>
              <thead>
                <tr>
                  <th scope="col">
                    <input type="checkbox" id="queue-select-page" aria-label={t("requests.bulk.selectPage")} onChange={(e) => toggleAll(e.currentTarget.checked)} />
                  </th>
                  <SortHeader column="user" {...sort}>
                    {t("requests.user")}
                  </SortHeader>
                  <SortHeader column="role" {...sort}>
                    {t("users.role")}
                  </SortHeader>
                  <SortHeader column="requestedBy" {...sort}>
                    {t("users.requestedBy")}
                  </SortHeader>
                  <SortHeader column="requestedAt" {...sort}>
                    {t("requests.requested")}
                  </SortHeader>
                  <th scope="col">{t("requests.window")}</th>
                  <th scope="col">{t("requests.source")}</th>
                </tr>
              </thead>
              <tbody>
                {queue.rows.map((r) => {
                  const role = locale === "zh-HK" ? r.roleNameZh : r.roleNameEn;
                  return (
                    <tr key={r.id}>
                      <td>
                        <input type="checkbox" name="requestId" value={r.id} aria-label={t("requests.bulk.selectRow", { user: r.userName, role })} />
                      </td>
                      <td>
                        <Link to={`/users/${r.userId}`}>{r.userName}</Link>
                        <div className="small muted">{r.userEmail}</div>
                      </td>
                      <td>
                        {role}
                        {r.sodJustification ? <p className="small warning-text">{t("users.sodWarning", { justification: r.sodJustification })}</p> : null}
                      </td>
                      <td>{r.requestedByName ?? "—"}</td>
                      <td>{time(r.requestedAt)}</td>
                      <td>{window(r)}</td>
                      <td>{t(`source.${r.source}` as MessageKey)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <Pager info={queue.info} label={t("requests.awaiting")} />
          <fieldset className="bulk-decision">
            <legend>{t("requests.bulk.legend")}</legend>
            <div className="radio-row">
              <label>
                <input type="radio" name="scope" value="selected" defaultChecked /> {t("requests.bulk.scopeSelected")}
              </label>
              <label>
                <input type="radio" name="scope" value="matching" />{" "}
                {t("requests.bulk.scopeMatching", { count: number(Math.min(queue.info.total, data.bulkMax)) })}
              </label>
            </div>
            <div className="field compact">
              <label htmlFor="bulk-comment">{t("requests.comment")}</label>
              <input id="bulk-comment" name="comment" maxLength={500} />
            </div>
            <button type="submit" name="decision" value="approve" className="button primary">
              {t("requests.bulk.approve")}
            </button>{" "}
            <button type="submit" name="decision" value="reject" className="button secondary">
              {t("requests.bulk.reject")}
            </button>
            <p className="small muted">{t("requests.bulk.note", { max: number(data.bulkMax) })}</p>
          </fieldset>
        </Form>
      )}
    </section>
  );
}

export default function Requests() {
  const { t, time, locale } = useI18n();
  const data = useLoaderData<typeof loader>();
  const actionData = useActionData<typeof action>();
  const failure = asFailure(actionData);
  const bulk = actionData && "bulk" in actionData ? actionData.bulk : null;
  return (
    <section aria-labelledby="requests-title">
      <h1 id="requests-title">{t("requests.title")}</h1>
      <FormMessage failure={failure} />
      {data.checker ? <ApprovalQueue data={data} bulk={bulk} /> : null}
      {data.clients.length > 0 ? (
        <section className="panel" aria-labelledby="clients-title">
          <h2 id="clients-title">
            {t("requests.clients")} <span className="badge">{data.clients.length}</span>
          </h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("requests.client")}</th>
                  <th scope="col">{t("users.requestedBy")}</th>
                  <th scope="col">{t("requests.requested")}</th>
                  <th scope="col">{t("requests.decision")}</th>
                </tr>
              </thead>
              <tbody>
                {data.clients.map((c) => (
                  <tr key={c.id}>
                    <td>
                      <Link to={`/credentials/${c.id}`}>{c.clientId}</Link>
                      <div className="small muted">{c.name}</div>
                    </td>
                    <td>{c.requestedByName ?? "—"}</td>
                    <td>{time(c.createdAt)}</td>
                    <td>
                      <Form method="post" className="inline-form tight">
                        <input type="hidden" name="intent" value="decide-client" />
                        <input type="hidden" name="clientId" value={c.id} />
                        <button type="submit" name="decision" value="approve" className="button primary">
                          {t("requests.approve")}
                        </button>
                        <button type="submit" name="decision" value="reject" className="button secondary">
                          {t("requests.reject")}
                        </button>
                      </Form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      {data.waivers.length > 0 ? (
        <section className="panel" aria-labelledby="waivers-title">
          <h2 id="waivers-title">
            {t("requests.waivers")} <span className="badge">{data.waivers.length}</span>
          </h2>
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
                      <td>{locale === "zh-HK" ? r.roleNameZh : r.roleNameEn}</td>
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
              <Pager info={data.mineInfo} label={t("requests.mine")} param="minePage" />
            </div>
          )}
        </section>
      ) : null}
      {!data.checker && !data.maker && data.waivers.length === 0 && data.clients.length === 0 ? <p>{t("requests.none")}</p> : null}
    </section>
  );
}
