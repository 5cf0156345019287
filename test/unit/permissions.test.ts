import { describe, expect, it } from "vitest";
import {
  PERMISSIONS_BY_PERSONA,
  PERSONAS,
  allows,
  permissionsFor,
  primaryPersona,
  scopeOf,
  type Action,
  type Capability,
  type Resource,
} from "~/auth/permissions";
import { navigationFor } from "~/components/navigation";

const RESOURCES: Resource[] = ["participant", "audit", "user", "case", "role", "catalogue", "waiver", "report", "review"];
// The actions known when this was written, and any granted to some persona since.
const ACTIONS: Action[] = [
  ...new Set<Action>([
    "read",
    "create",
    "update",
    "approve",
    "request",
    "support",
    "manage",
    "export",
    ...Object.values(PERMISSIONS_BY_PERSONA).flatMap((list) => list.map((p) => p.split(":")[1] as Action)),
  ]),
];
const ALL_CAPABILITIES: Capability[] = RESOURCES.flatMap((r) => ACTIONS.map((a) => `${r}:${a}` as Capability));

describe("permissions: deny by default", () => {
  it("refuses everything but public pages to someone with no console role", () => {
    const none = permissionsFor([]);
    for (const capability of ALL_CAPABILITIES) expect(allows(none, capability), capability).toBe(false);
    expect(allows(none, "public")).toBe(true);
  });

  it.each(PERSONAS)("gives %s exactly the capabilities listed for it, and refuses the rest", (persona) => {
    const held = permissionsFor([persona]);
    const listed = new Set(PERMISSIONS_BY_PERSONA[persona].map((p) => p.split(":").slice(0, 2).join(":")));
    for (const capability of ALL_CAPABILITIES) {
      expect(allows(held, capability), `${persona} ${capability}`).toBe(listed.has(capability));
    }
  });

  it("refuses the audit history to helpdesk and the platform administrator", () => {
    expect(allows(permissionsFor(["helpdesk"]), "audit:read")).toBe(false);
    expect(allows(permissionsFor(["platform_admin"]), "audit:read")).toBe(false);
  });

  it("never lets compliance change business data", () => {
    const compliance = permissionsFor(["compliance"]);
    // Compliance's own work is not business data: signing audit checkpoints and running access-review campaigns
    // (whose revocations are made by the participants' administrators, or by the deadline policy).
    const ownWork = new Set(["audit:manage", "review:manage"]);
    for (const action of ACTIONS.filter((a) => a !== "read" && a !== "export")) {
      for (const resource of RESOURCES) {
        const capability = `${resource}:${action}` as const;
        expect(allows(compliance, capability), capability).toBe(ownWork.has(capability));
      }
    }
  });

  it("keeps maker and checker duties apart", () => {
    expect(allows(permissionsFor(["da_maker"]), "role:request")).toBe(true);
    expect(allows(permissionsFor(["da_maker"]), "role:approve")).toBe(false);
    expect(allows(permissionsFor(["da_checker"]), "role:approve")).toBe(true);
    expect(allows(permissionsFor(["da_checker"]), "role:request")).toBe(false);
  });

  it("does not let a participant administrator register participants", () => {
    expect(allows(permissionsFor(["da_maker", "da_checker"]), "participant:create")).toBe(false);
    expect(allows(permissionsFor(["officer"]), "participant:create")).toBe(true);
  });
});

describe("permission scopes", () => {
  it("limits a delegated administrator to their own participant", () => {
    for (const persona of ["da_maker", "da_checker"] as const) {
      const held = permissionsFor([persona]);
      expect(scopeOf(held, "participant:read")).toBe("own-participant");
      expect(scopeOf(held, "audit:read")).toBe("own-participant");
      expect(scopeOf(held, "user:read")).toBe("own-participant");
    }
  });

  it("lets the officer and compliance read any participant", () => {
    expect(scopeOf(permissionsFor(["officer"]), "participant:read")).toBe("any");
    expect(scopeOf(permissionsFor(["compliance"]), "participant:read")).toBe("any");
    expect(scopeOf(permissionsFor(["compliance"]), "audit:read")).toBe("any");
  });

  it("answers no scope for a capability not held", () => {
    expect(scopeOf(permissionsFor(["officer"]), "audit:read")).toBeNull();
  });

  it("uses the widest scope when roles overlap", () => {
    expect(scopeOf(permissionsFor(["da_maker", "compliance"]), "audit:read")).toBe("any");
  });

  it("shows and records an HKEX role before a participant one", () => {
    expect(primaryPersona(["da_checker", "officer"])).toBe("officer");
    expect(primaryPersona(["da_checker", "da_maker"])).toBe("da_maker");
    expect(primaryPersona([])).toBeNull();
  });
});

describe("navigation per persona", () => {
  const pagesOf = (...personas: Parameters<typeof permissionsFor>[0]) =>
    navigationFor(permissionsFor(personas)).map((item) => item.to);

  it.each(PERSONAS)("shows %s the home page and the participants", (persona) => {
    expect(pagesOf(persona)).toEqual(expect.arrayContaining(["/", "/participants"]));
    expect(pagesOf(persona)[0]).toBe("/");
  });

  it.each([
    ["compliance", true],
    ["da_maker", true],
    ["da_checker", true],
    ["officer", false],
    ["helpdesk", false],
    ["platform_admin", false],
  ] as const)("shows %s the activity page: %s", (persona, shown) => {
    expect(pagesOf(persona).includes("/activity")).toBe(shown);
  });

  it("shows only the home page to someone without a console role", () => {
    expect(pagesOf()).toEqual(["/"]);
  });

  it("labels every page from the message catalogue", () => {
    for (const item of navigationFor(permissionsFor([...PERSONAS]))) expect(item.labelKey).toMatch(/^nav\./);
  });
});
