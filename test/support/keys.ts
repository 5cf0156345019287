import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/test-only-rsa-keys.json");

let pool: Record<string, string[]> | null = null;
const handedOut = new Map<number, number>();

/**
 * An RSA key pair of this size for a test, without the wait of making one: the published test-only pairs of
 * test/fixtures/test-only-rsa-keys.json, handed out in turn, so that calls in a row get different keys (a file takes no
 * more of a size than the fixture holds). A size the fixture lacks is generated.
 */
export function rsaKeyPair(modulusLength: number): { publicKey: KeyObject; privateKey: KeyObject } {
  pool ??= (JSON.parse(readFileSync(FIXTURE, "utf8")) as { keys: Record<string, string[]> }).keys;
  const pems = pool[String(modulusLength)] ?? [];
  if (pems.length === 0) return generateKeyPairSync("rsa", { modulusLength });
  const n = handedOut.get(modulusLength) ?? 0;
  handedOut.set(modulusLength, n + 1);
  const privateKey = createPrivateKey(pems[n % pems.length]!);
  return { publicKey: createPublicKey(privateKey), privateKey };
}
