// Enqueue a jetjobs job from Node.js and wait for its result, with the nats
// package alone, per wire protocol v1 (docs/protocol.md, "Job states"):
// the job carries Jetjobs-Keep-Result, and the worker that runs it writes
// the job's state to the key-value bucket JOBS_STATE under the key of its
// ID. A KV watch of that key delivers the current record, then every
// change, pushed by the server: nothing is polled.
//
//   node await.mjs [--queue Q] [--id ID] [--keep-result 1h] KIND [JSON]
//
// It prints the result as JSON and exits 0 when the job succeeded; when it
// ended dead, canceled or expired it prints the reason and error on stderr
// and exits 1. Progress goes to stderr. NATS_URL names the server (default
// nats://127.0.0.1:4222).
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { connect } from "nats";
import { enqueue } from "./enqueue.mjs";

const FINAL = new Set(["succeeded", "dead", "canceled", "expired"]);

/**
 * The key of a job's state record: its ID when that is a valid subject
 * token of at most 256 characters, else "h-" and the first 16 bytes of its
 * SHA-256 in hex (docs/protocol.md, "Dead letters").
 * @param {string} id
 */
export function stateKey(id) {
  if (id.length > 0 && id.length <= 256 && /^[A-Za-z0-9_-]+$/.test(id)) return id;
  return "h-" + createHash("sha256").update(id).digest("hex").slice(0, 32);
}

/**
 * Wait until the job with the given ID reaches a final status and return
 * its state record; onProgress sees the records before it.
 * @param {import("nats").JetStreamClient} js
 * @param {string} id
 * @param {{bucket?: string, onProgress?: (state: any) => void}} [opts]
 */
export async function awaitJob(js, id, opts = {}) {
  const kv = await js.views.kv(opts.bucket ?? "JOBS_STATE", { bindOnly: true });
  const watch = await kv.watch({ key: stateKey(id) });
  try {
    for await (const e of watch) {
      if (e.operation !== "PUT") {
        throw new Error(`job ${id}: its state expired or was deleted before it finished`);
      }
      const state = e.json();
      if (FINAL.has(state.status)) return state;
      opts.onProgress?.(state);
    }
  } finally {
    watch.stop();
  }
  throw new Error(`job ${id}: the watch ended`);
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      queue: { type: "string", default: "default" },
      id: { type: "string" },
      "keep-result": { type: "string", default: "1h" },
    },
  });
  if (positionals.length < 1 || positionals.length > 2) {
    throw new Error("usage: node await.mjs [--queue Q] [--id ID] [--keep-result 1h] KIND [JSON]");
  }
  const [kind, json] = positionals;
  const args = json === undefined ? undefined : JSON.parse(json);
  const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
  try {
    const js = nc.jetstream();
    const { id } = await enqueue(js, kind, args, {
      queue: values.queue,
      id: values.id,
      keepResult: values["keep-result"],
    });
    const state = await awaitJob(js, id, {
      onProgress: (s) => {
        const p = s.progress ? ` ${Math.round(s.progress.fraction * 100)}% ${s.progress.message ?? ""}` : "";
        console.error(`${id}: ${s.status}${p}`);
      },
    });
    if (state.status !== "succeeded") {
      console.error(`job ${id} ${state.status} (reason ${state.reason}): ${state.error ?? ""}`);
      process.exitCode = 1;
      return;
    }
    console.log(JSON.stringify(state.result ?? null));
  } finally {
    await nc.drain();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`await: ${err.message}`);
    process.exit(1);
  });
}
