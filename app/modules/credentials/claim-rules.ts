import type { ApiEnvironment } from "../../../db/schema/credentials";

/**
 * What the OCP API gateway requires of a participant's JWT, per environment. Configuration, not code: the real OCP
 * API specification's values go here (the circular names the JWT set-up but not its claims).
 */
export interface ClaimRules {
  /** The `aud` the gateway expects. */
  audience: string;
  /** `iss` and `sub` must both be the client ID the console issued. */
  issuerIsClientId: true;
  subjectIsClientId: true;
  /** Longest allowed `exp - iat`. */
  maxLifetimeSeconds: number;
  /** Allowed clock difference between the participant's server and the gateway. */
  clockSkewSeconds: number;
  /** A `jti` (token id) is required, so the gateway can refuse a replayed token. */
  requireTokenId: boolean;
  /** Signature algorithms accepted (asymmetric only: RFC 8725 §3.1–3.2). */
  algorithms: readonly ("RS256" | "PS256" | "ES256")[];
}

const base = { issuerIsClientId: true, subjectIsClientId: true, clockSkewSeconds: 60, requireTokenId: true, algorithms: ["RS256", "PS256", "ES256"] } as const;

export const CLAIM_RULES: Record<ApiEnvironment, ClaimRules> = {
  simulator: { ...base, audience: "https://simulator.ocp-api.example/hkex", maxLifetimeSeconds: 3600 },
  test: { ...base, audience: "https://test.ocp-api.example/hkex", maxLifetimeSeconds: 900 },
  production: { ...base, audience: "https://ocp-api.example/hkex", maxLifetimeSeconds: 300 },
};

/** Key lifetimes (SPEC §5): at most 13 months; during a rotation the old key may stay valid for up to 30 days. */
export const MAX_KEY_LIFETIME_MONTHS = 13;
export const MAX_ROTATION_OVERLAP_DAYS = 30;
export const EXPIRY_NOTICE_DAYS = [30, 7, 1] as const;
/** What a proof-of-possession JWT is addressed to, and how long its challenge lives. */
export const POP_AUDIENCE = "ocp-onboarding-console:key-registration";
export const CHALLENGE_MINUTES = 15;
