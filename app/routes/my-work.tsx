import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { useI18n } from "~/i18n/use-i18n";
import { nameIn, type MessageKey } from "~/i18n/messages";
import { myWork } from "~/modules/onboarding/service.server";
import { titled } from "~/lib/meta";
import { Pager } from "~/components/data-table";
import { pagingFrom } from "~/lib/paging";


export const meta = titled("myWork.title");
export const loader = /* @__PURE__ */ protectedLoader("case:complete", async ({ ctx, request }) => {
  const all = await myWork(ctx);
  // An officer's work spans the market: the page shows it a page at a time, the most urgent first (issue 16).
  const paging = pagingFrom(new URL(request.url).searchParams, ["urgency"], { sort: "urgency", dir: "asc" });
  const page = Math.min(paging.page, Math.max(1, Math.ceil(all.length / paging.size)));
  return json({ items: all.slice((page - 1) * paging.size, page * paging.size), info: { total: all.length, page, size: paging.size } });
});

export default function MyWork() {
  const { t, locale } = useI18n();
  const { items, info } = useLoaderData<typeof loader>();
  return (
    <section aria-labelledby="my-work-title">
      <h1 id="my-work-title">{t("myWork.title")}</h1>
      <p>{t("myWork.intro")}</p>
      {items.length === 0 ? (
        <p>{t("myWork.empty")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("myWork.why")}</th>
                <th scope="col">{t("myWork.participant")}</th>
                <th scope="col">{t("case.step")}</th>
                <th scope="col">{t("case.state")}</th>
                <th scope="col">{t("case.dueDate")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={`${item.participantId}/${item.stepKey}`} className={item.overdue ? "overdue" : undefined}>
                  <td>{t(`myWork.reason.${item.reason}` as MessageKey)}</td>
                  <td>
                    {item.participantId} · {nameIn(locale, { nameEn: item.participantName, nameZh: item.participantNameZh })}
                  </td>
                  <td>
                    <Link to={`/participants/${item.participantId}/steps/${item.stepKey}`}>{t(item.titleKey)}</Link>
                  </td>
                  <td>
                    <span className={`badge state-${item.state}`}>{t(`stepState.${item.state}` as MessageKey)}</span>
                  </td>
                  <td>
                    {item.dueDate ?? "—"}
                    {item.overdue ? <span className="badge overdue-badge"> {t("case.overdue")}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {info.total > info.size ? <Pager info={info} label={t("myWork.title")} /> : null}
    </section>
  );
}
