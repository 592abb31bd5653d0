// The dedupe conformance suite against the in-process filter (verification on real PostgreSQL).
import { describeWith } from "../../../dev/support/services.ts";
import { dedupeConformance } from "./conformance.ts";

describeWith("postgres", "dedupe conformance: memory", () => {
  dedupeConformance({ kind: "memory", config: { backend: "memory" } });
});
