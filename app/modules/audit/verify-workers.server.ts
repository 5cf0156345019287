import { availableParallelism } from "node:os";
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { HASH_VERSION } from "./hash.server";

/**
 * Chain verification on PostgreSQL spread over worker threads (issue 16). The main thread only streams each range of
 * a chain with `COPY (select …) TO STDOUT` (the raw columns as text: the cheapest form for the server, about 2 µs a
 * row) and hands the bytes to a worker; the worker parses the COPY text, builds each event's canonical form
 * (storedEventPayload's, written out once more below in plain JavaScript), hashes it and checks the links inside the
 * range. The ranges of a chain are stitched back together in seq order by the caller (verifyAuditChains), so that the
 * first bad event is named exactly as a walk from the first event would name it.
 *
 * The worker is plain JavaScript evaluated from a string, so it loads the same way from tsx (tests, benches, the
 * CLI in development) and from the bundled server build (bin/console.mjs), where no separate worker file exists.
 */

/** The columns read, in COPY order; the worker's COLUMNS must match. */
const COLUMNS = [
  "id",
  "seq",
  "prev_hash",
  "hash",
  "action",
  "actor_name",
  "actor_persona",
  "actor_user_id",
  "chain_key",
  "changes",
  "entity_id",
  "entity_type",
  "ip",
  "metadata",
  "$time",
  "on_behalf_of_user_id",
  "participant_id",
  "reason",
  "request_id",
  "ticket_ref",
  "user_agent",
] as const;

/**
 * The worker. Per task (one range of one chain): COPY text arrives in chunks of whole rows; each row's canonical
 * text is built in RFC 8785 member order exactly as storedEventPayload builds it, and hashed. Inside the range the
 * checks run in the walk's order (seq, then link, then hash); the first row's seq and link are left to the stitching,
 * which knows the range before. Answers the first problem's position and kind, and the range's two ends.
 */
const WORKER_SOURCE = String.raw`"use strict";
const { parentPort } = require("node:worker_threads");
const crypto = require("node:crypto");
const sha256Hex = typeof crypto.hash === "function"
  ? (text) => crypto.hash("sha256", text, "hex")
  : (text) => crypto.createHash("sha256").update(text, "utf8").digest("hex");
const COLUMN_COUNT = ${COLUMNS.length};
// JSON.stringify of a text (or null), without it when nothing needs escaping (no quote, backslash, control character
// or surrogate): about half the time for the text members.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const q = (text) => (typeof text !== "string" ? JSON.stringify(text) : NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : '"' + text + '"');
function canonicalJson(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i ? "," : "") + canonicalJson(value[i]);
    return out + "]";
  }
  const keys = Object.keys(value).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) out += (i ? "," : "") + JSON.stringify(keys[i]) + ":" + canonicalJson(value[keys[i]]);
  return out + "}";
}
// The same value with every object's members inserted in sorted order, for one native JSON.stringify; undefined when
// a key would not keep its place (V8 puts index-like keys first; "__proto__" would set the prototype).
function sortedCopy(value) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = sortedCopy(value[i]);
      if (v === undefined) return undefined;
      out[i] = v;
    }
    return out;
  }
  const keys = Object.keys(value);
  let sorted = true;
  for (let i = 0; i < keys.length; i++) {
    const c = keys[i].charCodeAt(0);
    if ((c >= 48 && c <= 57) || keys[i] === "__proto__") return undefined;
    if (i && !(keys[i - 1] < keys[i])) sorted = false;
  }
  if (!sorted) keys.sort();
  const out = {};
  for (let i = 0; i < keys.length; i++) {
    const v = sortedCopy(value[keys[i]]);
    if (v === undefined) return undefined;
    out[keys[i]] = v;
  }
  return out;
}
function jsonText(text) {
  if (text === null) return "null";
  const value = JSON.parse(text);
  const sorted = sortedCopy(value);
  return sorted === undefined ? canonicalJson(value) : JSON.stringify(sorted);
}
const ESCAPES = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v" };
// COPY's text format: \N is null; a backslash escapes itself, the field and row separators and a few control
// characters (COPY TO never writes octal or hex escapes).
function field(text) {
  if (text === "\\N") return null;
  if (text.indexOf("\\") < 0) return text;
  return text.replace(/\\(.)/gs, (_, c) => ESCAPES[c] ?? c);
}
// toISOString's form of the time: as to_char wrote it, or "YYYY-MM-DD HH:MI:SS[.ffffff]" (DateStyle ISO, UTC).
function isoTime(text) {
  if (text.endsWith("Z")) return text;
  if (text.length < 19 || text[10] !== " " || text[4] !== "-" || text[13] !== ":" || (text.length > 19 && text[19] !== ".")) {
    throw new Error("unexpected time text from the database: " + text.slice(0, 40));
  }
  return text.slice(0, 10) + "T" + text.slice(11, 19) + "." + (text.slice(20) + "000").slice(0, 3) + "Z";
}
function check(state, line) {
  const f = line.split("\t");
  if (f.length !== COLUMN_COUNT) throw new Error("unexpected row from the database (" + f.length + " columns)");
  const id = Number(f[0]);
  const seq = Number(f[1]);
  const prevHash = field(f[2]);
  const hash = field(f[3]);
  state.count++;
  if (state.count === 1) {
    state.first = { seq, id, prevHash };
  } else if (seq !== state.lastSeq + 1) {
    state.problem = { index: state.count, kind: "gap", seq: state.lastSeq + 1, found: seq, eventId: null };
    return;
  } else if (prevHash !== state.lastHash) {
    state.problem = { index: state.count, kind: "link", seq, eventId: id };
    return;
  }
  const text =
    '{"action":' + q(field(f[4])) + ',"actorName":' + q(field(f[5])) + ',"actorPersona":' + q(field(f[6])) +
    ',"actorUserId":' + q(field(f[7])) + ',"chainKey":' + q(field(f[8])) + ',"changes":' + jsonText(field(f[9])) +
    ',"entityId":' + q(field(f[10])) + ',"entityType":' + q(field(f[11])) + ',"ip":' + q(field(f[12])) +
    ',"metadata":' + jsonText(field(f[13])) + ',"occurredAt":' + q(isoTime(field(f[14]))) +
    ',"onBehalfOfUserId":' + q(field(f[15])) + ',"participantId":' + q(field(f[16])) + ',"prevHash":' + q(prevHash) +
    ',"reason":' + q(field(f[17])) + ',"requestId":' + q(field(f[18])) + ',"seq":' + q(seq) +
    ',"ticketRef":' + q(field(f[19])) + ',"userAgent":' + q(field(f[20])) + ',"v":${HASH_VERSION}}';
  if (sha256Hex(text) !== hash) {
    state.problem = { index: state.count, kind: "altered", seq, eventId: id };
    return;
  }
  state.lastSeq = seq;
  state.lastHash = hash;
}
const tasks = new Map();
parentPort.on("message", (m) => {
  let state = tasks.get(m.task);
  if (!state) {
    state = { count: 0, first: null, lastSeq: 0, lastHash: null, problem: null, error: null, rest: null };
    tasks.set(m.task, state);
  }
  if (m.chunk) {
    const bytes = m.chunk.byteLength;
    if (!state.problem && !state.error) {
      try {
        let chunk = Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
        if (state.rest) chunk = Buffer.concat([state.rest, chunk]);
        const end = chunk.lastIndexOf(10);
        state.rest = end + 1 < chunk.length ? chunk.subarray(end + 1) : null;
        if (end >= 0) {
          const lines = chunk.toString("utf8", 0, end).split("\n");
          for (let i = 0; i < lines.length && !state.problem; i++) check(state, lines[i]);
        }
      } catch (error) {
        state.error = error instanceof Error ? error.message : String(error);
      }
    }
    parentPort.postMessage({ task: m.task, ack: bytes });
  }
  if (m.end) {
    tasks.delete(m.task);
    if (!state.error && !state.problem && state.rest) state.error = "the database's answer ended inside a row";
    parentPort.postMessage({
      task: m.task,
      result: state.error ? { error: state.error } : {
        count: state.problem ? state.problem.index : state.count,
        first: state.first,
        last: state.count ? { seq: state.lastSeq, hash: state.lastHash } : null,
        problem: state.problem,
      },
    });
  }
});
`;

/** What a worker found in one range of a chain. */
export interface RangeResult {
  /** Rows looked at: all of the range's, or up to and including the first problem. */
  count: number;
  first: { seq: number; id: number; prevHash: string } | null;
  last: { seq: number; hash: string } | null;
  problem: { index: number; kind: "gap" | "link" | "altered"; seq: number; found?: number; eventId: number | null } | null;
}

interface PendingTask {
  resolve(result: RangeResult): void;
  reject(error: Error): void;
  onAck(bytes: number): void;
}

interface PooledWorker {
  worker: Worker;
  tasks: Map<number, PendingTask>;
}

/** Workers stay for a while after a walk (the next call reuses them), then end; they never hold the process open. */
const IDLE_MS = 30_000;
let pool: PooledWorker[] = [];
let users = 0;
let idleTimer: NodeJS.Timeout | null = null;
let nextTask = 1;

export function verifyWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

function startWorker(): PooledWorker {
  const pooled: PooledWorker = { worker: new Worker(WORKER_SOURCE, { eval: true }), tasks: new Map() };
  pooled.worker.unref();
  pooled.worker.on("message", (m: { task: number; ack?: number; result?: RangeResult | { error: string } }) => {
    const task = pooled.tasks.get(m.task);
    if (!task) return;
    if (m.ack !== undefined) task.onAck(m.ack);
    if (m.result) {
      pooled.tasks.delete(m.task);
      if ("error" in m.result) task.reject(new Error(`audit verification: ${m.result.error}`));
      else task.resolve(m.result);
    }
  });
  const fail = (error: Error) => {
    pool = pool.filter((p) => p !== pooled);
    for (const task of pooled.tasks.values()) task.reject(error);
    pooled.tasks.clear();
  };
  pooled.worker.on("error", fail);
  pooled.worker.on("exit", (code) => fail(new Error(`audit verification worker stopped (exit code ${code})`)));
  return pooled;
}

/** The workers for one walk; release() when done. */
export function acquireVerifyWorkers(count: number): { workers: PooledWorker[]; release(): void } {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  while (pool.length < count) pool.push(startWorker());
  users++;
  let released = false;
  return {
    workers: pool.slice(0, count),
    release() {
      if (released) return;
      released = true;
      if (--users > 0) return;
      idleTimer = setTimeout(() => {
        const ending = pool;
        pool = [];
        for (const p of ending) void p.worker.terminate();
      }, IDLE_MS);
      idleTimer.unref();
    },
  };
}

/** Bytes handed to a worker and not yet parsed, per range, beyond which the read pauses. */
const MAX_IN_FLIGHT = 4 * 2 ** 20;
/** Rows are gathered into chunks about this big before they are posted (one COPY message is one row). */
const CHUNK = 256 * 2 ** 10;

/**
 * Streams one range of a chain (COPY text) to a worker and answers what the worker found. `copy` starts the COPY and
 * answers its stream (postgres.js `sql.unsafe(text).readable()`).
 */
export function verifyRangeInWorker(worker: PooledWorker, stream: Readable): Promise<RangeResult> {
  const task = nextTask++;
  return new Promise<RangeResult>((resolve, reject) => {
    let inFlight = 0;
    let parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: Error | null, result?: RangeResult) => {
      if (settled) return;
      settled = true;
      worker.tasks.delete(task);
      if (error) {
        stream.destroy();
        reject(error);
      } else resolve(result!);
    };
    worker.tasks.set(task, {
      resolve: (result) => finish(null, result),
      reject: (error) => finish(error),
      onAck(bytes) {
        inFlight -= bytes;
        if (inFlight < MAX_IN_FLIGHT / 2 && stream.isPaused()) stream.resume();
      },
    });
    const flush = () => {
      if (size === 0) return;
      const chunk = Buffer.concat(parts, size);
      parts = [];
      size = 0;
      inFlight += chunk.byteLength;
      const whole = chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.byteLength;
      if (whole) worker.worker.postMessage({ task, chunk }, [chunk.buffer]);
      else worker.worker.postMessage({ task, chunk: new Uint8Array(chunk) });
      if (inFlight > MAX_IN_FLIGHT) stream.pause();
    };
    stream.on("data", (row: Buffer) => {
      parts.push(row);
      size += row.byteLength;
      if (size >= CHUNK) flush();
    });
    stream.on("end", () => {
      // postgres.js pauses the connection's socket when the stream's buffer is full and resumes it only from the
      // stream's read(); if that happened on the last row, the rest of the answer (CommandComplete, ReadyForQuery)
      // would never be read and the connection's next query would wait forever. read() once more resumes it.
      (stream as Readable & { _read(size: number): void })._read(0);
      flush();
      worker.worker.postMessage({ task, end: true });
    });
    stream.on("error", (error: Error) => finish(error));
  });
}

export const VERIFY_COPY_COLUMNS = COLUMNS;
