import { Form } from "@remix-run/react";
import { useI18n } from "~/i18n/use-i18n";
import type { MessageKey } from "~/i18n/messages";
import { PARTICIPANT_STATUSES, PARTICIPANT_TYPES } from "~/modules/participants/constants";

/** Filters by participant type and status; a plain GET form, so the filtered view has a URL to share. */
export function ParticipantFilters({ type, status, q, hidden = {} }: { type?: string; status?: string; q?: string; hidden?: Record<string, string> }) {
  const { t } = useI18n();
  return (
    <Form method="get" className="filters" role="search">
      {q !== undefined ? (
        <div className="field compact">
          <label htmlFor="filter-q">{t("participants.searchLabel")}</label>
          <input id="filter-q" name="q" type="search" defaultValue={q} />
        </div>
      ) : null}
      {Object.entries(hidden).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      <div className="field compact">
        <label htmlFor="filter-type">{t("participants.filterType")}</label>
        <select id="filter-type" name="type" defaultValue={type ?? ""}>
          <option value="">{t("participants.filterAll")}</option>
          {PARTICIPANT_TYPES.map((v) => (
            <option key={v} value={v}>
              {t(`participantType.${v}` as MessageKey)}
            </option>
          ))}
        </select>
      </div>
      <div className="field compact">
        <label htmlFor="filter-status">{t("participants.filterStatus")}</label>
        <select id="filter-status" name="status" defaultValue={status ?? ""}>
          <option value="">{t("participants.filterAll")}</option>
          {PARTICIPANT_STATUSES.map((v) => (
            <option key={v} value={v}>
              {t(`participantStatus.${v}` as MessageKey)}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className="button secondary">
        {t("participants.filter")}
      </button>
    </Form>
  );
}
