// Enqueue a jetjobs job from Node.js with the nats package, per wire
// protocol v1 (docs/protocol.md): a job is one JetStream message on
// jobs.<queue>.<kind> whose payload is the job's arguments as JSON. Headers
// are optional; this script sets the ID (which also deduplicates) and,
// if asked, the attempt limit and the per-attempt timeout.
//
//   node enqueue.mjs [--queue Q] [--id ID] [--max-attempts N] [--timeout 30s] KIND [JSON]
//
// It prints the job's ID. NATS_URL names the server (default
// nats://127.0.0.1:4222).
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { connect, headers } from "nats";

const NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Enqueue one job and return its ID once the server stored it.
 * @param {import("nats").JetStreamClient} js
 * @param {string} kind  one or more [A-Za-z0-9_-] tokens joined by dots
 * @param {unknown} args  the job's arguments, sent as JSON
 * @param {{queue?: string, id?: string, maxAttempts?: number, timeout?: string, keepResult?: string}} [opts]
 *   keepResult (a Go duration such as "1h") asks workers to keep the job's
 *   state and result; see await.mjs
 */
export async function enqueue(js, kind, args, opts = {}) {
  const queue = opts.queue ?? "default";
  if (!NAME.test(queue) || queue.startsWith("_")) {
    throw new Error(`invalid queue ${JSON.stringify(queue)}: use A-Z a-z 0-9 _ -, not starting with _`);
  }
  if (!kind.split(".").every((t) => NAME.test(t))) {
    throw new Error(`invalid kind ${JSON.stringify(kind)}: use tokens of A-Z a-z 0-9 _ - joined by dots`);
  }
  const id = opts.id ?? randomUUID();
  const h = headers();
  h.set("Jetjobs-Id", id);
  h.set("Jetjobs-Enqueued-At", new Date().toISOString());
  if (opts.maxAttempts !== undefined) h.set("Jetjobs-Max-Attempts", String(opts.maxAttempts));
  if (opts.timeout !== undefined) h.set("Jetjobs-Timeout", opts.timeout);
  if (opts.keepResult !== undefined) h.set("Jetjobs-Keep-Result", opts.keepResult);
  const payload = args === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(args));
  // msgID sets Nats-Msg-Id: a second publish of the same ID within the
  // stream's duplicate window is stored once.
  const ack = await js.publish(`jobs.${queue}.${kind}`, payload, { headers: h, msgID: id });
  return { id, seq: ack.seq, duplicate: ack.duplicate };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      queue: { type: "string", default: "default" },
      id: { type: "string" },
      "max-attempts": { type: "string" },
      timeout: { type: "string" },
    },
  });
  if (positionals.length < 1 || positionals.length > 2) {
    throw new Error("usage: node enqueue.mjs [--queue Q] [--id ID] [--max-attempts N] [--timeout D] KIND [JSON]");
  }
  const [kind, json] = positionals;
  const args = json === undefined ? undefined : JSON.parse(json);
  let maxAttempts;
  if (values["max-attempts"] !== undefined) {
    maxAttempts = Number.parseInt(values["max-attempts"], 10);
    if (!(maxAttempts >= 1)) throw new Error("--max-attempts: use a whole number >= 1");
  }
  const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
  try {
    const r = await enqueue(nc.jetstream(), kind, args, {
      queue: values.queue,
      id: values.id,
      maxAttempts,
      timeout: values.timeout,
    });
    console.log(r.id);
    if (r.duplicate) console.error(`job ${r.id} was already enqueued; nothing new was stored`);
  } catch (err) {
    if (String(err?.code) === "503") {
      throw new Error("no stream takes jobs.>: start `jetjobs server` or a worker first");
    }
    throw err;
  } finally {
    await nc.drain();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`enqueue: ${err.message}`);
    process.exit(1);
  });
}
