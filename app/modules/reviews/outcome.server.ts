import { formatHongKongTime, translator, type Locale, type MessageKey } from "~/i18n/messages";
import type { ServiceContext } from "../context.server";
import { getCampaign } from "./service.server";

/**
 * An access-review campaign's outcome as a table in the reader's language, one row per reviewed access, for the CSV
 * download: what the campaign page lists, with who decided, when, and their comment.
 */
export async function campaignOutcomeTable(ctx: ServiceContext, campaignId: string, locale: Locale): Promise<{ name: string; headers: string[]; rows: string[][] }> {
  const t = translator(locale);
  const { campaign, items } = await getCampaign(ctx, campaignId);
  const headers = (["users.participant", "requests.user", "users.email", "reviews.item", "export.col.outcome", "export.col.decidedBy", "export.col.decidedAt", "export.col.comment"] as MessageKey[]).map((k) => t(k));
  const rows = items.map((i) => [
    i.participantId,
    i.userName,
    i.userEmail,
    locale === "zh-HK" ? i.roleNameZh : i.roleName,
    i.outcome ? t(`reviews.outcome.${i.outcome}` as MessageKey) : i.decision ? t(i.decision === "keep" ? "reviews.keep" : "reviews.revoke") : t("reviews.undecided"),
    i.decidedByName ?? "",
    i.decidedAt ? formatHongKongTime(i.decidedAt, locale) : "",
    i.comment ?? "",
  ]);
  return { name: campaign.name, headers, rows };
}
