import { parseInstant } from "~/lib/hong-kong-time";
import { json } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { tenantOf } from "~/modules/tenancy.server";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import {
  accessAt,
  accessDiff,
  dormantReport,
  expiringReport,
  noMfaReport,
  pendingTooLongReport,
  sodReport,
  type AccessRow,
} from "~/modules/reports/service.server";
import { titled } from "~/lib/meta";

const REPORTS = ["access", "diff", "sod", "dormant", "mfa", "expiring", "pending"] as const;
type ReportName = (typeof REPORTS)[number];

/** An instant from the query string, or the fallback when it is absent, unreadable or outside 1900–9999. */
function instant(value: string | null, fallback: Date): Date {
  return parseInstant(value) ?? fallback;
}

/** A datetime-local value in Hong Kong time, to the second: cut to the minute, "now" sent back would miss this minute. */
function hkLocal(d: Date): string {
  return new Date(d.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19);
}

const accessView = (r: AccessRow) => ({
  grantId: r.grantId,
  participantId: r.participantId,
  userId: r.userId,
  userName: r.userName,
  userEmail: r.userEmail,
  roleCode: r.roleCode,
  roleName: r.roleName,
  validFrom: r.validFrom.toISOString(),
  validTo: r.validTo?.toISOString() ?? null,
  source: r.source,
  requestedByName: r.requestedByName,
  approvedByName: r.approvedByName,
});


export const meta = titled("reports.title");
export const loader = /* @__PURE__ */ protectedLoader("report:read", async ({ ctx, request }) => {
  const params = new URL(request.url).searchParams;
  const report = (REPORTS as readonly string[]).includes(params.get("report") ?? "") ? (params.get("report") as ReportName) : "access";
  const own = tenantOf(ctx.actor, "report:read") !== null;
  const requested = params.get("participantId")?.trim().toUpperCase() ?? "";
  const participantId = /^[A-Z][0-9]{5}$/.test(requested) ? requested : undefined;
  const now = new Date();
  const at = instant(params.get("at"), now);
  const from = instant(params.get("from"), new Date(now.getTime() - 30 * 24 * 3600 * 1000));
  const to = instant(params.get("to"), now);
  const base = { report, own, participantId: participantId ?? "", at: hkLocal(at), from: hkLocal(from), to: hkLocal(to) };
  switch (report) {
    case "access":
      return json({ ...base, access: (await accessAt(ctx, at, participantId)).map(accessView), diff: null, rows: null });
    case "diff": {
      const diff = await accessDiff(ctx, from, to, participantId);
      return json({ ...base, access: null, diff: { added: diff.added.map(accessView), removed: diff.removed.map(accessView) }, rows: null });
    }
    default: {
      const rows =
        report === "sod"
          ? (await sodReport(ctx, participantId)).map((f) => ({ key: `${f.userId}-${f.ruleId}`, link: `/users/${f.userId}`, cells: [f.participantId ?? "HKEX", f.userName, `${f.roleA} + ${f.roleB}`, f.ruleId, f.waived ? "waived" : f.kind, f.justification ?? ""] }))
          : report === "dormant" || report === "mfa"
            ? (await (report === "dormant" ? dormantReport : noMfaReport)(ctx, participantId)).map((u) => ({ key: u.userId, link: `/users/${u.userId}`, cells: [u.participantId ?? "HKEX", u.userName, u.email, u.lastSignInAt?.toISOString() ?? ""] }))
            : report === "expiring"
              ? (await expiringReport(ctx, participantId)).map((e) => ({ key: e.id, link: null, cells: [e.participantId ?? "HKEX", e.userName, e.what, e.expiresAt.toISOString()] }))
              : (await pendingTooLongReport(ctx, participantId)).map((p) => ({ key: `${p.kind}-${p.id}`, link: p.link, cells: [p.participantId, `reports.kind.${p.kind}`, p.what, p.since.toISOString()] }));
      return json({ ...base, access: null, diff: null, rows });
    }
  }
});

const HEADERS: Record<Exclude<ReportName, "access" | "diff">, MessageKey[]> = {
  sod: ["users.participant", "users.displayName", "users.role", "catalogue.code", "catalogue.kind", "users.justification"],
  dormant: ["users.participant", "users.displayName", "users.email", "users.lastSignIn"],
  mfa: ["users.participant", "users.displayName", "users.email", "users.lastSignIn"],
  expiring: ["users.participant", "users.displayName", "users.role", "reports.expires"],
  pending: ["users.participant", "catalogue.kind", "users.role", "reports.since"],
};

function AccessTable({ rows }: { rows: ReturnType<typeof accessView>[] }) {
  const { t, time } = useI18n();
  if (rows.length === 0) return <p>{t("reports.none")}</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">{t("reports.count", { count: rows.length })}</caption>
        <thead>
          <tr>
            <th scope="col">{t("users.participant")}</th>
            <th scope="col">{t("users.displayName")}</th>
            <th scope="col">{t("users.role")}</th>
            <th scope="col">{t("users.requestedBy")}</th>
            <th scope="col">{t("users.approvedBy")}</th>
            <th scope="col">{t("users.since")}</th>
            <th scope="col">{t("users.until")}</th>
            <th scope="col">{t("users.source")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.grantId}>
              <td>{r.participantId ?? "HKEX"}</td>
              <td>
                <Link to={`/users/${r.userId}`}>{r.userName}</Link>
              </td>
              <td>{r.roleName}</td>
              <td>{r.requestedByName ?? "—"}</td>
              <td>{r.approvedByName ?? "—"}</td>
              <td>{time(r.validFrom)}</td>
              <td>{r.validTo ? time(r.validTo) : t("users.noEnd")}</td>
              <td>{t(`source.${r.source}` as MessageKey)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function Reports() {
  const { t, time } = useI18n();
  const data = useLoaderData<typeof loader>();
  const titles: Record<ReportName, MessageKey> = {
    access: "reports.access",
    diff: "reports.diff",
    sod: "reports.sod",
    dormant: "reports.dormant",
    mfa: "reports.mfa",
    expiring: "reports.expiring",
    pending: "reports.pending",
  };
  const isoish = /^\d{4}-\d{2}-\d{2}T/;
  return (
    <section aria-labelledby="reports-title">
      <h1 id="reports-title">{t("reports.title")}</h1>
      <nav aria-label={t("reports.title")}>
        <ul className="tabs">
          {REPORTS.map((r) => (
            <li key={r}>
              <Link to={`/reports?report=${r}`} aria-current={r === data.report ? "page" : undefined}>
                {t(titles[r])}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <h2>{t(titles[data.report])}</h2>
      {/* Keyed by what is shown: after a tab or a new query the fields say what the table is for. */}
      <Form method="get" className="filters" key={[data.report, data.participantId, data.at, data.from, data.to].join("|")}>
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
            <label htmlFor="r-participant">{t("reports.participant")}</label>
            <input id="r-participant" name="participantId" defaultValue={data.participantId} />
          </div>
        )}
        <button type="submit" className="button secondary">
          {t("reports.show")}
        </button>
      </Form>
      {data.report === "expiring" ? <p className="muted">{t("reports.expiringNote")}</p> : null}
      {data.access ? <AccessTable rows={data.access} /> : null}
      {data.diff ? (
        <>
          <h3>{t("reports.added")}</h3>
          <AccessTable rows={data.diff.added} />
          <h3>{t("reports.removed")}</h3>
          <AccessTable rows={data.diff.removed} />
        </>
      ) : null}
      {data.rows ? (
        data.rows.length === 0 ? (
          <p>{t("reports.none")}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  {HEADERS[data.report as keyof typeof HEADERS].map((h) => (
                    <th scope="col" key={h}>
                      {t(h)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.rows.map((row) => (
                  <tr key={row.key}>
                    {row.cells.map((cell, i) => (
                      <td key={i}>
                        {i === 1 && row.link ? (
                          <Link to={row.link}>{cell.startsWith("reports.kind.") ? t(cell as MessageKey) : cell}</Link>
                        ) : cell.startsWith("reports.kind.") ? (
                          t(cell as MessageKey)
                        ) : isoish.test(cell) ? (
                          time(cell)
                        ) : (
                          cell
                        )}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
    </section>
  );
}
