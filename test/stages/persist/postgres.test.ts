/** The persist conformance suite against the real PostgreSQL server, with both write methods. */
import { describe } from "bun:test";
import { describeWith, PG_URL } from "../../../dev/support/services.ts";
import { persistConformance } from "./conformance.ts";

describeWith("postgres", "persist stage on PostgreSQL", () => {
  describe("method copy", () => persistConformance({ url: () => PG_URL, method: "copy", canTerminateBackends: true }));
  describe("method unnest", () => persistConformance({ url: () => PG_URL, method: "unnest", canTerminateBackends: true }));
});
