import { json } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { protectedLoader } from "~/auth/guard.server";
import { ResultsMatrix, RunFacts, runData } from "~/components/certification";
import { useI18n } from "~/i18n/use-i18n";
import { titled } from "~/lib/meta";
import { getRun } from "~/modules/certification/service.server";

export const meta = titled("cert.summary");

export const loader = /* @__PURE__ */ protectedLoader("certification:read", async ({ ctx, params }) => {
  return json(runData(await getRun(ctx, params.runId ?? "")));
});

/** The printable summary for the officer's file: the run's facts, its declaration and every attempt with its evidence. */
export default function CertificationSummary() {
  const { t } = useI18n();
  const data = useLoaderData<typeof loader>();
  return (
    <article aria-labelledby="summary-title">
      <p className="no-print">
        <Link to={`/certification/${data.run.id}`}>{t("cert.run")}</Link>
      </p>
      <h1 id="summary-title">
        {t("cert.summary")} · {data.participant.id}
      </h1>
      <RunFacts data={data} />
      <ResultsMatrix data={data} details />
    </article>
  );
}
