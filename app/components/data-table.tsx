import { Link, useLocation } from "@remix-run/react";
import type { ReactNode } from "react";
import { useI18n } from "~/i18n/use-i18n";
import { PAGE_SIZES, type PageInfo, type Paging } from "~/lib/paging";

/** The current URL's query with some parameters replaced (null removes one): links that keep the filters. */
export function useQueryWith() {
  const location = useLocation();
  return (changes: Record<string, string | null>) => {
    const params = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) params.delete(k);
      else params.set(k, v);
    }
    const query = params.toString();
    return `${location.pathname}${query ? `?${query}` : ""}`;
  };
}

/** "Showing 51–100 of 612" with previous and next pages: plain links, so it works without JavaScript. */
export function Pager({ info, label, param = "page" }: { info: PageInfo; label: string; /** The query parameter of the page number, for a second list on one page. */ param?: string }) {
  const { t, number } = useI18n();
  const withQuery = useQueryWith();
  const first = info.total === 0 ? 0 : (info.page - 1) * info.size + 1;
  const last = Math.min(info.page * info.size, info.total);
  const pages = Math.max(1, Math.ceil(info.total / info.size));
  return (
    <nav className="pager" aria-label={label}>
      <p aria-live="polite">{t("table.showing", { first: number(first), last: number(last), total: number(info.total) })}</p>
      {info.page > 1 ? (
        <Link to={withQuery({ [param]: String(info.page - 1) })} rel="prev">
          {t("table.previous")}
        </Link>
      ) : null}
      <span className="muted">{t("table.pageOf", { page: number(info.page), pages: number(pages) })}</span>
      {info.page < pages ? (
        <Link to={withQuery({ [param]: String(info.page + 1) })} rel="next">
          {t("table.next")}
        </Link>
      ) : null}
    </nav>
  );
}

/** A column header that sorts by its column (a link), saying which way it sorts now. */
export function SortHeader({ column, current, dir, children }: { column: string; current: string; dir: "asc" | "desc"; children: ReactNode }) {
  const { t } = useI18n();
  const withQuery = useQueryWith();
  const active = column === current;
  const next = active && dir === "asc" ? "desc" : "asc";
  return (
    <th scope="col" aria-sort={active ? (dir === "asc" ? "ascending" : "descending") : "none"}>
      <Link to={withQuery({ sort: column, dir: next, page: null })} title={t(next === "asc" ? "table.sortAscending" : "table.sortDescending")}>
        {children}
        {active ? <span aria-hidden="true">{dir === "asc" ? " ▲" : " ▼"}</span> : null}
      </Link>
    </th>
  );
}

/**
 * The page-size choice of a list's GET filter form, and its current sort carried along as hidden fields, so that
 * filtering keeps the order the reader chose.
 */
export function PagingFields({ id, paging }: { id: string; paging: Paging<string> }) {
  const { t, number } = useI18n();
  return (
    <>
      <div className="field compact">
        <label htmlFor={id}>{t("table.pageSize")}</label>
        <select id={id} name="size" defaultValue={String(paging.size)}>
          {PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {number(n)}
            </option>
          ))}
        </select>
      </div>
      <input type="hidden" name="sort" value={paging.sort} />
      <input type="hidden" name="dir" value={paging.dir} />
    </>
  );
}
