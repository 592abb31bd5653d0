/**
 * A fixed single-thread workload that stands for one event's kind of work (UTF-8 decode, JSON.parse and
 * stringify of a CloudEvent, string building, byte copies, integer hashing), timed in µs per iteration.
 *
 *   bun dev/bench/machine-probe.ts [--json]
 *
 * Why: the 2-core machines this project is measured on are virtual machines on hosts that differ from one
 * session to the next (the same commit measured 15 and 41 CPU-s per million events on two of them, with
 * every per-part bench slower by the same factor). The benches print `machine_probe_us` beside their
 * costs, so `compare.ts` can put a cost measured on one host next to a baseline recorded on another.
 */
import { JSON_OUTPUT as json, progress as log } from "./flags.ts";

const EVENT = {
  specversion: "1.0",
  id: "probe-0123456789",
  source: "/tenants/acme/orders",
  type: "com.example.order.created",
  subject: "order/12345",
  time: "2026-12-07T05:00:00.123Z",
  tenantid: "acme",
  datacontenttype: "application/json",
  data: { orderId: 12345, amount: 99.95, currency: "EUR", items: [{ sku: "A-1", qty: 2 }, { sku: "B-7", qty: 1 }], note: "x".repeat(80) },
};

const ITERATIONS = 20_000;
const REPEATS = 9;

/** One pass of the workload; returns a value so the JIT cannot drop the work. */
function pass(bytes: Uint8Array, out: Uint8Array): number {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let acc = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const ev = JSON.parse(decoder.decode(bytes)) as typeof EVENT;
    const line = `${ev.id}\t${ev.source}\t${ev.type}\t${ev.time}\t${JSON.stringify(ev.data)}\n`;
    const written = encoder.encodeInto(line, out).written;
    out.copyWithin(written, 0, written);
    let h = 0x811c9dc5;
    for (let j = 0; j < written; j++) h = Math.imul(h ^ out[j], 0x01000193);
    acc = (acc + h + written) | 0;
  }
  return acc;
}

/**
 * The fastest repeat's µs per iteration (the first pass, JIT warm-up, is not timed). The minimum, not the
 * median: other load on the machine only ever adds time, so the fastest repeat is the closest to the host.
 */
export function machineProbeUs(): number {
  const bytes = new TextEncoder().encode(JSON.stringify(EVENT));
  const out = new Uint8Array(4096);
  let sink = pass(bytes, out);
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = Bun.nanoseconds();
    sink ^= pass(bytes, out);
    times.push((Bun.nanoseconds() - t0) / 1000 / ITERATIONS);
  }
  if (sink === 0x7fffffff) log("(probe checksum)"); // keeps `sink` alive
  return Math.round(Math.min(...times) * 1000) / 1000;
}

if (import.meta.main) {
  const us = machineProbeUs();
  log(`machine probe: ${us} µs per iteration (lower is a faster host; compare.ts scales costs by it)`);
  log("command: bun dev/bench/machine-probe.ts" + (json ? " --json" : ""));
  if (json) console.log(JSON.stringify({ machine_probe_us: us }));
}
