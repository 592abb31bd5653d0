// The dedupe conformance suite against RedisBloom (BF.*), when a server that has it is given in REDIS_BLOOM_URL
// (Redis 8 or Redis Stack). Stock Redis 7 has no BF.*, so without it these tests are skipped with a reason.
import { describe } from "bun:test";
import { describeWith } from "../../support/services.ts";
import { dedupeConformance } from "./conformance.ts";

const url = process.env.REDIS_BLOOM_URL;
if (url) {
  describeWith("postgres", "dedupe conformance: redis BF.*", () => {
    dedupeConformance({ kind: "bloom", config: { backend: "redis", redisMode: "bloom", redisUrl: url } });
  });
} else {
  console.warn("[skip] dedupe conformance: redis BF.*: REDIS_BLOOM_URL is not set (needs Redis 8 or Redis Stack; the local Redis 7 has no BF.*)");
  describe.skip("dedupe conformance: redis BF.* (REDIS_BLOOM_URL not set)", () => {
    dedupeConformance({ kind: "bloom", config: { backend: "redis", redisMode: "bloom" } });
  });
}
