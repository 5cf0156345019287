import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { readerOf } from "~/context";
import { tenantOf } from "~/modules/tenancy.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { counted } from "~/i18n/plural";
import { localeOf } from "~/i18n/locale.server";
import { checkedReportQuery, parseReportQuery, reportRoleChoices, reportTable, type ReportTable } from "~/modules/reports/tables.server";
import { REPORTS, type ReportName } from "~/modules/reports/names";
import { titled } from "~/lib/meta";
import { Pager } from "~/components/data-table";
import { pagingFrom } from "~/lib/paging";

/**
 * A datetime-local value in Hong Kong time, to the millisecond: cut any shorter, "now" sent back in the export link
 * would miss what changed in the last moments before the page was read, and the CSV would not be the page's rows.
 */
function hkLocal(d: Date): string {
  return new Date(d.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 23);
}

export const meta = titled("reports.title");
export const loader = /* @__PURE__ */ protectedLoader("report:read", async ({ ctx: primary, request, context }) => {
  // Read from the read replica when one is configured (DATABASE_READ_URL).
  const ctx = { ...primary, db: readerOf(context) };
  const params = new URL(request.url).searchParams;
  const locale = await localeOf(request);
  const parsed = parseReportQuery(params);
  const roles = parsed.report === "access" ? await reportRoleChoices(ctx, locale) : [];
  const query = await checkedReportQuery(ctx, parsed, roles);
  const own = tenantOf(ctx.actor, "report:read");
  // A filter that cannot be read is said by its field (400) and the report is not run with it.
  const invalid = Object.keys(query.invalid).length > 0;
  // The page shows the rows a page at a time (200 unless asked otherwise) with the total; the CSV has them all.
  const paging = pagingFrom(params, ["report"], { sort: "report", dir: "asc" });
  const size = params.has("size") ? paging.size : 200;
  // The table comes in the reader's language, as its CSV download does: the two are the same rows. A long report
  // (access) reads only this page's rows, and market-wide only once narrowed; a page past the end shows the last.
  const window = (page: number) => ({ offset: (page - 1) * size, limit: size });
  let table: ReportTable = invalid ? { headers: [], linkColumn: 0, rows: [], total: 0 } : await reportTable(ctx, query, locale, window(paging.page));
  const total = table.total ?? table.rows.length;
  const page = Math.min(paging.page, Math.max(1, Math.ceil(total / size)));
  if (table.total !== undefined && page !== paging.page) table = await reportTable(ctx, query, locale, window(page));
  const rows = table.total !== undefined ? table.rows : table.rows.slice((page - 1) * size, page * size);
  const info = { total, page, size };
  const at = hkLocal(query.at);
  const shown = {
    report: query.report,
    // What was asked for, as typed, so that a field with a problem shows what to correct.
    participantId: params.get("participantId")?.trim() ?? "",
    role: query.report === "access" ? (params.get("role")?.trim() ?? "") : "",
    at,
    from: hkLocal(query.from),
    to: hkLocal(query.to),
  };
  const exportQuery = new URLSearchParams({
    report: query.report,
    ...(query.participantId ? { participantId: query.participantId } : {}),
    ...(query.roleCode ? { role: query.roleCode } : {}),
    ...(query.report === "access" ? { at } : {}),
    ...(query.report === "diff" ? { from: shown.from, to: shown.to } : {}),
  }).toString();
  return json(
    {
      ...shown,
      own,
      roles,
      problems: query.invalid,
      needsFilter: table.needsFilter === true,
      table: { headers: table.headers, linkColumn: table.linkColumn, rows },
      info,
      exportHref: `/reports/export?${exportQuery}`,
      // The access report for every participant the reader sees, at the instant asked for: streamed, never a page.
      marketExportHref: `/reports/export?${new URLSearchParams({ report: "access", at }).toString()}`,
    },
    { status: invalid ? 400 : 200 },
  );
});

const TITLES: Record<ReportName, MessageKey> = {
  access: "reports.access",
  diff: "reports.diff",
  sod: "reports.sod",
  dormant: "reports.dormant",
  mfa: "reports.mfa",
  expiring: "reports.expiring",
  pending: "reports.pending",
};

export default function Reports() {
  const { t, locale, number } = useI18n();
  const data = useLoaderData<typeof loader>();
  const { table, problems } = data;
  const count = counted(t, locale, "export.rows", data.info.total, number);
  const invalid = Object.keys(problems).length > 0;
  const problemOf = (field: "participantId" | "roleCode") => {
    const key = problems[field];
    return key ? t(key) : undefined;
  };
  const participantProblem = problemOf("participantId");
  const roleProblem = problemOf("roleCode");
  return (
    <section aria-labelledby="reports-title">
      <h1 id="reports-title">{t("reports.title")}</h1>
      <nav aria-label={t("reports.title")}>
        <ul className="tabs">
          {REPORTS.map((r) => (
            <li key={r}>
              <Link to={`/reports?report=${r}`} aria-current={r === data.report ? "page" : undefined}>
                {t(TITLES[r])}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <h2>{t(TITLES[data.report])}</h2>
      {data.own ? <p>{t("reports.scopeOwn", { participant: data.own })}</p> : null}
      {/* Keyed by what is shown: after a tab or a new query the fields say what the table is for. */}
      <Form method="get" className="filters" key={[data.report, data.participantId, data.role, data.at, data.from, data.to].join("|")}>
        <input type="hidden" name="report" value={data.report} />
        {data.report === "access" ? (
          <div className="field compact">
            <label htmlFor="r-at">{t("reports.at")}</label>
            <input id="r-at" name="at" type="datetime-local" step="1" defaultValue={data.at} />
          </div>
        ) : null}
        {data.report === "diff" ? (
          <>
            <div className="field compact">
              <label htmlFor="r-from">{t("reports.from")}</label>
              <input id="r-from" name="from" type="datetime-local" step="1" defaultValue={data.from} />
            </div>
            <div className="field compact">
              <label htmlFor="r-to">{t("reports.to")}</label>
              <input id="r-to" name="to" type="datetime-local" step="1" defaultValue={data.to} />
            </div>
          </>
        ) : null}
        {data.own ? null : (
          <div className="field compact">
            <label htmlFor="r-participant">{t(data.report === "access" ? "reports.participantId" : "reports.participant")}</label>
            <input
              id="r-participant"
              name="participantId"
              defaultValue={data.participantId}
              maxLength={6}
              autoComplete="off"
              aria-invalid={participantProblem ? true : undefined}
              aria-describedby={participantProblem ? "r-participant-error" : undefined}
            />
            {participantProblem ? (
              <p className="field-error" id="r-participant-error">
                {participantProblem}
              </p>
            ) : null}
          </div>
        )}
        {data.report === "access" ? (
          <div className="field compact">
            <label htmlFor="r-role">{t("reports.role")}</label>
            <select id="r-role" name="role" defaultValue={roleProblem ? "" : data.role} aria-invalid={roleProblem ? true : undefined} aria-describedby={roleProblem ? "r-role-error" : undefined}>
              <option value="">{t("reports.anyRole")}</option>
              {data.roles.map((r) => (
                <option key={r.code} value={r.code}>
                  {r.name}
                </option>
              ))}
            </select>
            {roleProblem ? (
              <p className="field-error" id="r-role-error">
                {roleProblem}
              </p>
            ) : null}
          </div>
        ) : null}
        <button type="submit" className="button secondary">
          {t("reports.show")}
        </button>
      </Form>
      {data.report === "expiring" ? <p className="muted">{t("reports.expiringNote")}</p> : null}
      {data.needsFilter ? (
        <>
          <p>{t("reports.chooseFilter")}</p>
          <p className="actions">
            <a href={data.marketExportHref} download>
              {t("reports.marketCsv")}
            </a>
          </p>
        </>
      ) : invalid ? null : (
        <>
          <p className="actions">
            <span aria-live="polite">{count}</span>{" "}
            {table.rows.length > 0 ? (
              <a href={data.exportHref} download>
                {t("export.csv")}
              </a>
            ) : null}
          </p>
          {table.rows.length === 0 ? (
            <p>{t("reports.none")}</p>
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">
                  {t(TITLES[data.report])}: {count}
                </caption>
                <thead>
                  <tr>
                    {table.headers.map((h) => (
                      <th scope="col" key={h}>
                        {h}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {table.rows.map((row) => (
                    <tr key={row.key}>
                      {row.cells.map((cell, i) => (
                        <td key={i}>{i === table.linkColumn && row.link ? <Link to={row.link}>{cell}</Link> : cell}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {data.info.total > data.info.size ? <Pager info={data.info} label={t("reports.title")} /> : null}
        </>
      )}
    </section>
  );
}
