/** The reports of /reports, in tab order (shared by the page, which runs in the browser too, and the server). */
export const REPORTS = ["access", "diff", "sod", "dormant", "mfa", "expiring", "pending"] as const;
export type ReportName = (typeof REPORTS)[number];
