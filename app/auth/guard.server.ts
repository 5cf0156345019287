import {
  json,
  redirect,
  type ActionFunctionArgs,
  type LoaderFunctionArgs,
  type TypedResponse,
} from "@remix-run/node";
import { AppError } from "~/lib/errors";
import type { ServiceContext } from "~/modules/context.server";
import { allows, type RoutePermission } from "./permissions";
import { withComeBack } from "./rules";
import { authenticateRequest, type Authenticated, type AuthResult } from "./session.server";

type Args = LoaderFunctionArgs | ActionFunctionArgs;

/** A loader or action that says which permission it needs; the route-permission test reads this. */
export type Guarded<F> = F & { permission: RoutePermission };

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
}

function toResponse(error: AppError): TypedResponse<FailureData> {
  const body: FailureData = {
    ok: false,
    messageKey: error.messageKey,
    fieldErrors: error.fieldErrors,
    params: error.params,
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

async function run<T, IsAction extends boolean>(fn: () => Promise<T>, isAction: IsAction): Promise<Answer<T, IsAction>> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AppError) {
      // Bad input, refusals and conflicts come back to the form that sent them, to be shown beside it; a missing
      // object (404) goes to the error boundary.
      if (isAction && (error.status === 400 || error.status === 403 || error.status === 409 || error.status === 429)) {
        return toResponse(error) as Answer<T, IsAction>;
      }
      throw toResponse(error);
    }
    throw error;
  }
}

type ProtectedArgs<A extends Args> = A & { ctx: ServiceContext; auth: Authenticated };
type PublicArgs<A extends Args> = A & { auth: Authenticated | null };

function protect<A extends Args, T, IsAction extends boolean>(
  permission: Exclude<RoutePermission, "public">,
  handler: (args: ProtectedArgs<A>) => Promise<T>,
  isAction: IsAction,
): Guarded<(args: A) => Promise<Answer<T, IsAction>>> {
  const guarded = async (args: A) => {
    const { auth, setCookie } = await authenticate(args);
    if (!auth) throw signInRedirect(args.request, setCookie);
    // Before the second factor a session reaches nothing but the second-factor pages and signing out.
    if (auth.secondFactor !== "verified" && permission !== "session") throw secondFactorRedirect(args.request, auth);
    if (!allows(auth.actor.permissions, permission)) throw toResponse(new AppError(403, "error.forbidden"));
    return run(() => handler({ ...args, ctx: serviceContext(args, auth), auth }), isAction);
  };
  return Object.assign(guarded, { permission });
}

function open<A extends Args, T, IsAction extends boolean>(
  handler: (args: PublicArgs<A>) => Promise<T>,
  isAction: IsAction,
): Guarded<(args: A) => Promise<Answer<T, IsAction>>> {
  const guarded = async (args: A) => {
    const { auth } = await authenticate(args);
    // A public page sees a session only once it has passed the second factor.
    return run(() => handler({ ...args, auth: auth?.secondFactor === "verified" ? auth : null }), isAction);
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
  handler: (args: ProtectedArgs<ActionFunctionArgs>) => Promise<T>,
) {
  return protect(permission, handler, true as const);
}

/** A loader open to everyone, signed in or not (sign-in page, health checks). */
export function publicLoader<T>(handler: (args: PublicArgs<LoaderFunctionArgs>) => Promise<T>) {
  return open(handler, false as const);
}

export function publicAction<T>(handler: (args: PublicArgs<ActionFunctionArgs>) => Promise<T>) {
  return open(handler, true as const);
}
