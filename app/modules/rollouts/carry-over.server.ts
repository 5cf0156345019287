import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { and, eq, gt, inArray, isNull, lte, ne, or } from "drizzle-orm";
import type { DbOrTx } from "../../../db/client.server";
import { apiClients, apiKeys, roleGrants, users } from "../../../db/schema";
import { normalizeCarryOver, type CarryOver, type SnapshotContent } from "./rules";

/**
 * What carries over for a participant at an instant: its users (not deactivated), the grants counting then, its API
 * clients in use then and their keys valid then. Sealed in the snapshot when the cutoff has passed, and read again
 * at `now` for the diff against today.
 */
export async function carryOverAt(db: DbOrTx, participantId: string, at: Date): Promise<CarryOver> {
  const userRows = await db
    .select({ id: users.id, email: users.email, displayName: users.displayName, status: users.status })
    .from(users)
    .where(
      and(
        eq(users.participantId, participantId),
        lte(users.createdAt, at),
        or(ne(users.status, "deactivated"), gt(users.statusChangedAt, at)),
      ),
    );
  const grantRows = await db
    .select({ userId: roleGrants.userId, roleCode: roleGrants.roleCode })
    .from(roleGrants)
    .where(
      and(
        eq(roleGrants.participantId, participantId),
        lte(roleGrants.validFrom, at),
        or(isNull(roleGrants.validTo), gt(roleGrants.validTo, at)),
        or(eq(roleGrants.status, "active"), gt(roleGrants.revokedAt, at)),
      ),
    );
  const userIds = new Set(userRows.map((u) => u.id));
  const clientRows = await db
    .select({ id: apiClients.id, clientId: apiClients.clientId, name: apiClients.name, environment: apiClients.environment, ownerUserId: apiClients.ownerUserId })
    .from(apiClients)
    .where(
      and(
        eq(apiClients.participantId, participantId),
        lte(apiClients.createdAt, at),
        or(
          and(eq(apiClients.status, "active"), or(isNull(apiClients.approvedAt), lte(apiClients.approvedAt, at))),
          and(eq(apiClients.status, "revoked"), gt(apiClients.revokedAt, at)),
        ),
      ),
    );
  const keyRows = clientRows.length
    ? await db
        .select({ id: apiKeys.id, apiClientId: apiKeys.apiClientId, kid: apiKeys.kid, replacesKeyId: apiKeys.replacesKeyId, expiresAt: apiKeys.expiresAt })
        .from(apiKeys)
        .where(
          and(
            inArray(apiKeys.apiClientId, clientRows.map((c) => c.id)),
            lte(apiKeys.createdAt, at),
            gt(apiKeys.expiresAt, at),
            or(isNull(apiKeys.revokedAt), gt(apiKeys.revokedAt, at)),
          ),
        )
    : [];
  return normalizeCarryOver({
    users: userRows,
    grants: grantRows.filter((g) => userIds.has(g.userId)),
    apiClients: clientRows,
    keys: keyRows.map((k) => ({ ...k, expiresAt: k.expiresAt.toISOString() })),
  });
}

/** The canonical JSON (RFC 8785) of a snapshot's content: the exact text that is sealed. */
export function canonicalJson(content: SnapshotContent): string {
  const text = canonicalize(content);
  if (text === undefined) throw new Error("snapshot content cannot be canonicalized");
  return text;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

export function parseSnapshot(text: string): SnapshotContent {
  return JSON.parse(text) as SnapshotContent;
}
