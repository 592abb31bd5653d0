// The dedupe conformance suite against RedisBloom (BF.*), when a server that has it is given in REDIS_BLOOM_URL
// (Redis 8 or Redis Stack). Stock Redis 7 has no BF.*, so without it this suite is skipped with a printed reason.
import { test } from "bun:test";
import { describeWith } from "../../support/services.ts";
import { dedupeConformance } from "./conformance.ts";

const url = process.env.REDIS_BLOOM_URL;
if (url) {
  describeWith("postgres", "dedupe conformance: redis BF.*", () => {
    dedupeConformance({
      kind: "bloom",
      config: { backend: "redis", redisMode: "bloom", redisUrl: url },
      saturating: { expectedPerWindow: 10, falsePositiveRate: 0.5 },
    });
  });
} else {
  const reason = "REDIS_BLOOM_URL is not set (needs Redis 8 or Redis Stack; the local Redis 7 has no BF.*)";
  console.warn(`[skip] dedupe conformance: redis BF.*: ${reason}`);
  test.skip(`dedupe conformance: redis BF.* — ${reason}`, () => {});
}
