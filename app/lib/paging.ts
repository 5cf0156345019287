import { z } from "zod";

/**
 * Paging and sorting of a list from its URL (issue 13): page-number paging with a total, a sort column from a fixed
 * list and a direction. Anything unreadable in the query string falls back to the default, never to an error, and
 * no list is ever silently capped: the page says "showing 51–100 of 612".
 */
export const PAGE_SIZES = [25, 50, 100, 200] as const;
export const DEFAULT_PAGE_SIZE = 50;

export interface Paging<S extends string> {
  page: number;
  size: number;
  sort: S;
  dir: "asc" | "desc";
}

export interface PageInfo {
  total: number;
  page: number;
  size: number;
}

export function pagingFrom<S extends string>(params: URLSearchParams, sorts: readonly [S, ...S[]], defaults: { sort: S; dir: "asc" | "desc" }): Paging<S> {
  const schema = z.object({
    page: z.coerce.number().int().min(1).max(100_000).catch(1),
    size: z.coerce
      .number()
      .int()
      .refine((n) => (PAGE_SIZES as readonly number[]).includes(n))
      .catch(DEFAULT_PAGE_SIZE),
    sort: z.enum(sorts).catch(defaults.sort),
    dir: z.enum(["asc", "desc"]).catch(defaults.dir),
  });
  return schema.parse({
    page: params.get("page") ?? undefined,
    size: params.get("size") ?? undefined,
    sort: params.get("sort") ?? undefined,
    dir: params.get("dir") ?? undefined,
  }) as Paging<S>;
}

/** The rows to skip for a page; a page past the end is clamped to the last one by the caller with the total. */
export function offsetOf(paging: Pick<Paging<string>, "page" | "size">): number {
  return (paging.page - 1) * paging.size;
}
