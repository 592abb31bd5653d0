/** Fixtures of the supervisor and CLI integration tests (the CLI process, polling and temp dirs are in dev/support). */
import { join } from "node:path";

/** The stage module that records what it processes (see fixtures/record-stage.ts). */
export const RECORD_STAGE = join(import.meta.dir, "fixtures/record-stage.ts");
