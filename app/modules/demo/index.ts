import type { Persona } from "~/auth/permissions";

/**
 * Demo sign-ins. Demo-only: these accounts are created only by the demo seed, flagged is_demo, and refused at
 * sign-in whenever the server is not in demo mode.
 */
export const DEMO_PASSWORD = "demo-password-2026";

export interface DemoAccount {
  email: string;
  displayName: string;
  persona: Persona;
  participantId: string | null;
  roleCode: string;
}

export const DEMO_ACCOUNTS: DemoAccount[] = [
  { email: "officer@hkex.demo", displayName: "Olivia Officer", persona: "officer", participantId: null, roleCode: "onboarding_officer" },
  { email: "officer2@hkex.demo", displayName: "Owen Officer (second approver)", persona: "officer", participantId: null, roleCode: "onboarding_officer" },
  { email: "compliance@hkex.demo", displayName: "Connie Compliance", persona: "compliance", participantId: null, roleCode: "compliance_reviewer" },
  { email: "helpdesk@hkex.demo", displayName: "Henry Helpdesk", persona: "helpdesk", participantId: null, roleCode: "helpdesk" },
  { email: "platform@hkex.demo", displayName: "Patrick Platform", persona: "platform_admin", participantId: null, roleCode: "platform_admin" },
  { email: "maker@b01234.demo", displayName: "Mandy Maker (B01234)", persona: "da_maker", participantId: "B01234", roleCode: "da_maker" },
  { email: "checker@b01234.demo", displayName: "Chris Checker (B01234)", persona: "da_checker", participantId: "B01234", roleCode: "da_checker" },
  // A participant user with the Certification tester role, at the participant mid-certification: records results.
  { email: "tester@b01234.demo", displayName: "Tess Tester (B01234)", persona: "tester", participantId: "B01234", roleCode: "certification_tester" },
  { email: "maker@c00123.demo", displayName: "Mei Maker (C00123)", persona: "da_maker", participantId: "C00123", roleCode: "da_maker" },
  { email: "checker@c00123.demo", displayName: "Calvin Checker (C00123)", persona: "da_checker", participantId: "C00123", roleCode: "da_checker" },
  { email: "maker@e00789.demo", displayName: "Emily Maker (E00789)", persona: "da_maker", participantId: "E00789", roleCode: "da_maker" },
  { email: "checker@e00789.demo", displayName: "Eric Checker (E00789)", persona: "da_checker", participantId: "E00789", roleCode: "da_checker" },
];
