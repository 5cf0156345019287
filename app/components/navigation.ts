import { allows, type Permission, type RoutePermission } from "~/auth/permissions";
import type { MessageKey } from "~/i18n/messages";

export interface NavItem {
  to: string;
  labelKey: MessageKey;
}

/** Every page in the main navigation, with what it needs; each persona sees the ones it may open. */
const PAGES: { to: string; labelKey: MessageKey; permission: RoutePermission }[] = [
  { to: "/", labelKey: "nav.home", permission: "authenticated" },
  { to: "/my-work", labelKey: "nav.myWork", permission: "case:complete" },
  { to: "/pipeline", labelKey: "nav.pipeline", permission: "case:read" },
  { to: "/participants", labelKey: "nav.participants", permission: "participant:read" },
  { to: "/users", labelKey: "nav.users", permission: "user:read" },
  { to: "/requests", labelKey: "nav.requests", permission: "role:approve" },
  { to: "/requests", labelKey: "nav.requests", permission: "role:request" },
  { to: "/requests", labelKey: "nav.requests", permission: "waiver:approve" },
  { to: "/imports", labelKey: "nav.imports", permission: "user:import" },
  { to: "/credentials", labelKey: "nav.credentials", permission: "credential:read" },
  { to: "/certification", labelKey: "nav.certification", permission: "certification:read" },
  { to: "/catalogue", labelKey: "nav.catalogue", permission: "catalogue:manage" },
  { to: "/activity", labelKey: "nav.activity", permission: "audit:read" },
  { to: "/reports", labelKey: "nav.reports", permission: "report:read" },
  { to: "/reviews", labelKey: "nav.reviews", permission: "review:read" },
  { to: "/rollouts", labelKey: "nav.rollouts", permission: "rollout:read" },
  { to: "/integrity", labelKey: "nav.integrity", permission: "audit:manage" },
];

export function navigationFor(permissions: ReadonlySet<Permission>): NavItem[] {
  const visible = PAGES.filter((p) => allows(permissions, p.permission));
  // A page reachable through several permissions is listed once.
  return visible.filter((p, i) => visible.findIndex((q) => q.to === p.to) === i).map(({ to, labelKey }) => ({ to, labelKey }));
}
