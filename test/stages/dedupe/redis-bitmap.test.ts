// The dedupe conformance suite against the portable BITFIELD filter on the local Redis 7, with the previous
// window read from a local copy (default) and remotely (copy disabled).
import { describeWith } from "../../../dev/support/services.ts";
import { dedupeConformance } from "./conformance.ts";
// A throw-away redis-server (dev/faults/redis-instance.ts) needs the binary on PATH.
const redisServerAvailable = Bun.which("redis-server") !== null;

describeWith("postgres", "dedupe conformance: redis bitmap", () => {
  describeWith("redis", "previous window from a local copy", () => {
    dedupeConformance({ kind: "bitmap", config: { backend: "redis", redisMode: "bitmap" }, restartable: redisServerAvailable });
  });
  describeWith("redis", "previous window read remotely", () => {
    dedupeConformance({ kind: "bitmap", config: { backend: "redis", redisMode: "bitmap" }, options: { previousWindowMaxBytes: 0 } });
  });
});
