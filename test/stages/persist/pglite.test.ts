/**
 * The persist conformance suite against embedded PostgreSQL (PGlite behind shared/embedded's TCP server).
 * The stage is configured with method "copy" on purpose: it must detect PGlite and fall back to unnest.
 */
import { afterAll, beforeAll, describe } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../../shared/embedded/index.ts";
import { persistConformance } from "./conformance.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

describe("persist stage on embedded PostgreSQL (PGlite)", () => {
  let dir: string;
  let pg: EmbeddedPostgres;
  beforeAll(async () => {
    dir = tempDir("pglite").dir;
    pg = await startEmbeddedPostgres({ dataDir: dir });
  });
  afterAll(async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  describe("configured with method copy", () => persistConformance({ url: () => pg.url, method: "copy", canTerminateBackends: false }));
});
