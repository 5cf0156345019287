import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type TypedResponse,
} from "@remix-run/node";
import type { MessageKey } from "~/i18n/messages";
import { AppError } from "~/lib/errors";
import { redactedPath } from "~/lib/redact";
import { readSubmission, type Submission } from "~/lib/forms";
import type { ServiceContext } from "~/modules/context.server";
import { allows, type RoutePermission } from "./permissions";
import { withComeBack } from "./rules";
import { authenticateRequest, type Authenticated, type AuthResult } from "./session.server";

type Args = LoaderFunctionArgs | ActionFunctionArgs;

/**
 * A loader or action that says which permission it needs; the route-permission test reads this. An action with
 * several intents also lists each intent's own permission.
 */
export type Guarded<F> = F & { permission: RoutePermission; intents?: Readonly<Record<string, RoutePermission>> };

const authCache = new WeakMap<Request, Promise<AuthResult>>();

/** Authenticates a request once, however many loaders of the same request ask. */
export function authenticate(args: Args): Promise<AuthResult> {
  let pending = authCache.get(args.request);
  if (!pending) {
    const { context, request } = args;
    pending = authenticateRequest(
      context.db,
      request.headers.get("Cookie"),
      context.config.cookieSecure,
      { requestId: context.requestId, ip: context.clientIp, userAgent: context.userAgent },
      context.config.demoMode,
    );
    authCache.set(args.request, pending);
  }
  return pending;
}

export function serviceContext(args: Args, auth: Authenticated): ServiceContext {
  return {
    db: args.context.db,
    actor: auth.actor,
    requestId: args.context.requestId,
    ip: args.context.clientIp,
    userAgent: args.context.userAgent,
    baseUrl: args.context.config.appOrigin ?? new URL(args.request.url).origin,
  };
}

/** The answer a route gives for an expected failure (one shape for every route; see AppError). */
export interface FailureData {
  ok: false;
  messageKey: AppError["messageKey"];
  fieldErrors: AppError["fieldErrors"];
  params: AppError["params"];
  /** What was typed (never secrets), so that a form refused without JavaScript shows it again. */
  values: Record<string, string>;
}

function toResponse(error: AppError, values: Record<string, string> = {}): TypedResponse<FailureData> {
  const body: FailureData = {
    ok: false,
    messageKey: error.messageKey,
    fieldErrors: error.fieldErrors,
    params: error.params,
    values,
  };
  return json(body, { status: error.status });
}

/** The page asked for, to come back to it once signed in. */
function askedFor(request: Request): string {
  const url = new URL(request.url);
  return url.pathname + url.search;
}

function signInRedirect(request: Request, setCookie: string | null): Response {
  const headers = new Headers();
  if (setCookie) headers.append("Set-Cookie", setCookie);
  return redirect(withComeBack("/login", askedFor(request)), { headers });
}

function secondFactorRedirect(request: Request, auth: Authenticated): Response {
  return redirect(withComeBack(`/mfa/${auth.secondFactor}`, askedFor(request)));
}

/** Loaders answer their data or throw; actions may also answer a failure for the form that was sent. */
type Answer<T, IsAction extends boolean> = IsAction extends true ? T | TypedResponse<FailureData> : T;

/** What an action's handler receives besides the request: its form, read once and safely (see readSubmission). */
type WithForm<A extends Args, IsAction extends boolean> = IsAction extends true ? A & { form: Submission } : A;

async function run<A extends Args, T, IsAction extends boolean>(
  args: A,
  fn: (args: WithForm<A, IsAction>) => Promise<T>,
  isAction: IsAction,
): Promise<Answer<T, IsAction>> {
  let values: Record<string, string> = {};
  try {
    if (!isAction) return await fn(args as WithForm<A, IsAction>);
    const form = await readSubmission(args.request);
    values = form.echo();
    return await fn({ ...args, form } as WithForm<A, IsAction>);
  } catch (error) {
    if (error instanceof AppError) {
      // Bad input, refusals and conflicts come back to the form that sent them, to be shown beside it; a missing
      // object (404) goes to the error boundary.
      if (isAction && (error.status === 400 || error.status === 403 || error.status === 409 || error.status === 429)) {
        return toResponse(error, values) as Answer<T, IsAction>;
      }
      throw toResponse(error);
    }
    if (error instanceof Response) throw error;
    throw unexpected(args, error);
  }
}

/**
 * An unexpected failure: logged with the request's id (the logger carries it), and answered as a 500 that names the
 * same id, as the X-Request-Id header does, so that the error page can show it and support can find the log line.
 * Nothing of the error itself goes to the browser.
 */
function unexpected(args: Args, error: unknown): Response {
  if (!args.request.signal.aborted) args.context.logger.error({ err: error, path: redactedPath(new URL(args.request.url).pathname) }, "unhandled error");
  const body: FailureData = { ok: false, messageKey: "error.generic", fieldErrors: {}, params: { requestId: args.context.requestId }, values: {} };
  return json(body, { status: 500 });
}

type ProtectedArgs<A extends Args> = A & { ctx: ServiceContext; auth: Authenticated };
type PublicArgs<A extends Args> = A & { auth: Authenticated | null };

/** Authenticates and authorizes a request for `permission`, or throws the redirect or refusal it gets instead. */
async function admit<A extends Args>(args: A, permission: Exclude<RoutePermission, "public">): Promise<Authenticated> {
  const { auth, setCookie } = await authenticate(args);
  if (!auth) throw signInRedirect(args.request, setCookie);
  // Before the second factor a session reaches nothing but the second-factor pages and signing out.
  if (auth.secondFactor !== "verified" && permission !== "session") throw secondFactorRedirect(args.request, auth);
  if (!allows(auth.actor.permissions, permission)) throw toResponse(new AppError(403, "error.forbidden"));
  return auth;
}

function protect<A extends Args, T, IsAction extends boolean>(
  permission: Exclude<RoutePermission, "public">,
  handler: (args: WithForm<ProtectedArgs<A>, IsAction>) => Promise<T>,
  isAction: IsAction,
): Guarded<(args: A) => Promise<Answer<T, IsAction>>> {
  const guarded = async (args: A) => {
    const auth = await admit(args, permission);
    return run({ ...args, ctx: serviceContext(args, auth), auth }, handler, isAction);
  };
  return Object.assign(guarded, { permission });
}

function open<A extends Args, T, IsAction extends boolean>(
  handler: (args: WithForm<PublicArgs<A>, IsAction>) => Promise<T>,
  isAction: IsAction,
): Guarded<(args: A) => Promise<Answer<T, IsAction>>> {
  const guarded = async (args: A) => {
    const { auth } = await authenticate(args);
    // A public page sees a session only once it has passed the second factor.
    return run({ ...args, auth: auth?.secondFactor === "verified" ? auth : null }, handler, isAction);
  };
  return Object.assign(guarded, { permission: "public" as const });
}

/** A loader that requires `permission` (deny by default: a route without one fails the route test). */
export function protectedLoader<T>(
  permission: Exclude<RoutePermission, "public">,
  handler: (args: ProtectedArgs<LoaderFunctionArgs>) => Promise<T>,
) {
  return protect(permission, handler, false as const);
}

export function protectedAction<T>(
  permission: Exclude<RoutePermission, "public">,
  handler: (args: ProtectedArgs<ActionFunctionArgs> & { form: Submission }) => Promise<T>,
) {
  return protect(permission, handler, true as const);
}

type IntentArgs = ProtectedArgs<ActionFunctionArgs> & { form: Submission };
/**
 * What a destructive intent asks before it acts: the object named, the consequence spelled out, what it removes.
 * The page shows it with the submitted values and a second submit (`confirmed=yes`), so it works without JavaScript.
 */
export interface Confirmation {
  titleKey: MessageKey;
  messageKey: MessageKey;
  params: Record<string, string | number>;
  /** The button that confirms, named after the action ("Revoke key", not "OK"). */
  confirmKey: MessageKey;
  /** What the action removes or keeps, listed (a reset to baseline's preview). */
  lists?: { headingKey: MessageKey; items: string[]; emptyKey?: MessageKey }[];
}

export interface ConfirmationData {
  confirm: Confirmation & { intent: string; values: Record<string, string> };
}

interface Intent<T> {
  permission: Exclude<RoutePermission, "public" | "session">;
  handler: (args: IntentArgs) => Promise<T>;
  /**
   * Asked before a destructive intent runs, unless the submission says `confirmed=yes`: answers what to confirm, or
   * null when this submission needs no confirmation (reinstating, say). May refuse (404, 400) like the command.
   */
  confirm?: (args: IntentArgs) => Promise<Confirmation | null>;
  /** The message of a refusal for lack of the permission, else "error.forbidden". */
  refusal?: MessageKey;
  /**
   * Who enforces the permission: the guard before the handler runs, or the command the intent runs — which first
   * decides the tenant, so that another participant's object answers 404 rather than 403.
   */
  enforcedBy: "guard" | "command";
}

export function intentAction<M extends Record<string, Intent<unknown>>>(intents: M) {
  type Result = Awaited<ReturnType<M[keyof M]["handler"]>> | TypedResponse<ConfirmationData>;
  const guarded = async (args: ActionFunctionArgs): Promise<Result | TypedResponse<FailureData>> => {
    const auth = await admit(args, "authenticated");
    const protectedArgs: ProtectedArgs<ActionFunctionArgs> = { ...args, ctx: serviceContext(args, auth), auth };
    return run(
      protectedArgs,
      async (withForm: IntentArgs): Promise<Result> => {
        const name = withForm.form.value("intent") ?? "";
        const intent = Object.hasOwn(intents, name) ? intents[name] : undefined;
        if (!intent) throw new AppError(400, "error.badRequest", { intent: "validation.invalid" });
        if (intent.enforcedBy === "guard" && !allows(auth.actor.permissions, intent.permission)) throw new AppError(403, intent.refusal ?? "error.forbidden");
        // Asked only of someone who may do it at all: anyone else gets the command's own refusal, as without the step.
        if (intent.confirm && withForm.form.value("confirmed") !== "yes" && allows(auth.actor.permissions, intent.permission)) {
          const asked = await intent.confirm(withForm);
          if (asked) return json<ConfirmationData>({ confirm: { ...asked, intent: name, values: withForm.form.echo() } }) as Awaited<Result>;
        }
        return (await intent.handler(withForm)) as Awaited<Result>;
      },
      true as const,
    );
  };
  const listed = Object.fromEntries(Object.entries(intents).map(([name, intent]) => [name, intent.permission]));
  return Object.assign(guarded, { permission: "authenticated" as const, intents: listed });
}

/**
 * One intent: the permission it needs (checked here), or the command it runs, whose permission it declares and
 * which enforces it with the tenancy rule. `permission` names the command's permission when it depends on the input.
 */
export function intent<T>(
  needs: Intent<T>["permission"] | { spec: { permission: unknown; refusal?: MessageKey } },
  handler: Intent<T>["handler"],
  options: { permission?: Intent<T>["permission"]; refusal?: MessageKey; confirm?: Intent<T>["confirm"] } = {},
): Intent<T> {
  if (typeof needs === "string") return { permission: needs, handler, refusal: options.refusal, confirm: options.confirm, enforcedBy: "guard" };
  const permission = options.permission ?? needs.spec.permission;
  if (typeof permission !== "string" || permission === "public") throw new Error("an intent that runs a command must name its permission");
  return {
    permission: permission as Intent<T>["permission"],
    handler,
    refusal: options.refusal ?? needs.spec.refusal,
    confirm: options.confirm,
    enforcedBy: "command",
  };
}

/** A loader open to everyone, signed in or not (sign-in page, health checks). */
export function publicLoader<T>(handler: (args: PublicArgs<LoaderFunctionArgs>) => Promise<T>) {
  return open(handler, false as const);
}

export function publicAction<T>(handler: (args: PublicArgs<ActionFunctionArgs> & { form: Submission }) => Promise<T>) {
  return open(handler, true as const);
}
