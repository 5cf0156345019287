/**
 * Typed permissions (SPEC §1). A permission is `resource:action:scope`; a route asks for `resource:action` and
 * is satisfied by either scope. Services then narrow their queries to the scope the actor holds.
 * Deny by default: a persona holds only what is listed here.
 */
export type Resource = "participant" | "audit" | "user" | "case" | "role" | "catalogue" | "waiver" | "report" | "review" | "credential" | "rollout" | "certification";
export type Action =
  | "read"
  | "create"
  | "update"
  | "approve"
  | "request"
  | "support"
  | "manage"
  | "export"
  | "complete"
  | "comment"
  | "plan"
  | "revoke"
  | "import"
  | "decide"
  // Capabilities only the console itself holds (SYSTEM_PERMISSIONS): never given to a persona.
  | "provision"
  | "automate"
  | "notify";
export type Scope = "any" | "own-participant";
export type Permission = `${Resource}:${Action}:${Scope}`;
export type Capability = `${Resource}:${Action}`;

/**
 * What a route requires: a capability, any signed-in console user ("authenticated": password and second factor),
 * any session at all ("session": also one that has passed only the password, for the second-factor pages and
 * signing out), or nobody (public pages).
 */
export type RoutePermission = Capability | "authenticated" | "session" | "public";

export const PERSONAS = [
  "officer",
  "compliance",
  "helpdesk",
  "platform_admin",
  "da_maker",
  "da_checker",
  "tester",
] as const;
export type Persona = (typeof PERSONAS)[number];

/** Console roles in the role catalogue, and the persona each one makes its holder act as. */
export const PERSONA_BY_ROLE: Record<string, Persona> = {
  onboarding_officer: "officer",
  compliance_reviewer: "compliance",
  helpdesk: "helpdesk",
  platform_admin: "platform_admin",
  da_maker: "da_maker",
  da_checker: "da_checker",
  certification_tester: "tester",
};

export const PERMISSIONS_BY_PERSONA: Record<Persona, readonly Permission[]> = {
  officer: [
    "participant:read:any",
    "participant:create:any",
    "participant:update:any",
    "case:read:any",
    "case:complete:any",
    "case:approve:any",
    "case:comment:any",
    "case:plan:any",
    "user:read:any",
    // Officers create a participant's first administrators and handle suspensions; they never approve grants.
    "user:create:any",
    "user:update:any",
    "user:import:any",
    "role:revoke:any",
    "waiver:approve:any",
    "credential:read:any",
    // Rollouts (SPEC §7): officers plan them, confirm verification results and decide the fallback, four eyes.
    "rollout:read:any",
    "rollout:manage:any",
    "rollout:approve:any",
    "rollout:decide:any",
    // Officers sign off or return a participant's certification run (SPEC §6).
    "certification:read:any",
    "certification:decide:any",
  ],
  compliance: [
    "participant:read:any",
    "case:read:any",
    "user:read:any",
    "audit:read:any",
    "audit:export:any",
    "audit:manage:any",
    "report:read:any",
    "review:read:any",
    "review:manage:any",
    "credential:read:any",
    "rollout:read:any",
    "certification:read:any",
  ],
  helpdesk: ["participant:read:any", "case:read:any", "user:read:any", "user:support:any", "credential:read:any", "certification:read:any"],
  platform_admin: ["participant:read:any", "case:read:any", "catalogue:manage:any", "role:manage:any", "certification:read:any", "certification:manage:any"],
  da_maker: [
    "participant:read:own-participant",
    "case:read:own-participant",
    "case:complete:own-participant",
    "case:comment:own-participant",
    "user:read:own-participant",
    "user:create:own-participant",
    "user:update:own-participant",
    "user:import:own-participant",
    "role:request:own-participant",
    "role:revoke:own-participant",
    "waiver:request:own-participant",
    "audit:read:own-participant",
    "audit:export:own-participant",
    "report:read:own-participant",
    "review:read:own-participant",
    "review:decide:own-participant",
    "credential:read:own-participant",
    "credential:create:own-participant",
    "credential:manage:own-participant",
    "rollout:read:own-participant",
    "rollout:complete:own-participant",
    // The Developer Corner comes with the DA role, no registration (seed circular): the maker starts and submits
    // a certification run, both DAs record results, the checker confirms.
    "certification:read:own-participant",
    "certification:create:own-participant",
    "certification:complete:own-participant",
  ],
  da_checker: [
    "participant:read:own-participant",
    "case:read:own-participant",
    "case:complete:own-participant",
    "case:comment:own-participant",
    "user:read:own-participant",
    "user:update:own-participant",
    "role:approve:own-participant",
    "role:revoke:own-participant",
    "audit:read:own-participant",
    "audit:export:own-participant",
    "report:read:own-participant",
    "review:read:own-participant",
    "review:decide:own-participant",
    "credential:read:own-participant",
    "credential:approve:own-participant",
    "credential:manage:own-participant",
    "rollout:read:own-participant",
    "rollout:complete:own-participant",
    "certification:read:own-participant",
    "certification:complete:own-participant",
    "certification:approve:own-participant",
  ],
  // A participant's tester (the role catalogue's certification_tester) records results in the Developer Corner.
  tester: ["participant:read:own-participant", "certification:read:own-participant", "certification:complete:own-participant"],
};

/**
 * What the console itself may do when it acts on its own (demo seed, scheduled jobs, automatic steps): an explicit
 * list, so that services never special-case the system actor. `provision` creates active users with roles (seed and
 * tests), `automate` completes automatic onboarding steps, `notify` sends expiry notices.
 */
export const SYSTEM_PERMISSIONS: readonly Permission[] = [
  "participant:read:any",
  "participant:create:any",
  "participant:update:any",
  "case:read:any",
  "case:complete:any",
  "case:approve:any",
  "case:comment:any",
  "case:plan:any",
  "case:automate:any",
  "user:read:any",
  "user:provision:any",
  "role:revoke:any",
  "review:read:any",
  "review:manage:any",
  "audit:read:any",
  "audit:manage:any",
  "credential:read:any",
  "credential:create:any",
  "credential:manage:any",
  "credential:notify:any",
  // A rollout's carry-over snapshot, sealed by the jobs runner at the end-of-day cutoff.
  "rollout:read:any",
  "rollout:manage:any",
  "certification:read:any",
];

export function permissionsFor(personas: readonly Persona[]): Set<Permission> {
  return new Set(personas.flatMap((p) => PERMISSIONS_BY_PERSONA[p]));
}

/** The scope at which a set of permissions allows a capability, the widest first; null when it does not. */
export function scopeOf(permissions: ReadonlySet<Permission>, capability: Capability): Scope | null {
  if (permissions.has(`${capability}:any`)) return "any";
  if (permissions.has(`${capability}:own-participant`)) return "own-participant";
  return null;
}

export function allows(permissions: ReadonlySet<Permission>, required: RoutePermission): boolean {
  if (required === "public" || required === "authenticated" || required === "session") return true;
  return scopeOf(permissions, required) !== null;
}

/** Of several console roles, the persona shown and recorded: HKEX roles before participant ones. */
export function primaryPersona(personas: readonly Persona[]): Persona | null {
  for (const p of PERSONAS) if (personas.includes(p)) return p;
  return null;
}
