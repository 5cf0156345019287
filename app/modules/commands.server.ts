/**
 * Every module that defines commands, imported once: after this, `COMMANDS` (command.server.ts) holds all of them.
 * The registry tests (atomicity, tenancy, fuzzing) walk it; a new module with commands is added here.
 */
import "~/auth/second-factor.server";
import "~/auth/session.server";
import "~/auth/sign-in.server";
import "./audit/checkpoint.server";
import "./audit/walks.server";
import "./audit/explorer.server";
import "./certification/service.server";
import "./certification/simulator.server";
import "./credentials/service.server";
import "./onboarding/service.server";
import "./participants/clearing.server";
import "./participants/service.server";
import "./reviews/service.server";
import "./roles/catalogue.server";
import "./roles/service.server";
import "./rollouts/service.server";
import "./users/import.server";
import "./users/links.server";
import "./users/service.server";
import "./users/support.server";

export { COMMANDS } from "./command.server";
