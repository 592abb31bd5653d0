/** Fixtures of the supervisor and CLI integration tests (the CLI process, polling and temp dirs are in dev/support). */
import { join } from "node:path";

/** The stage module that records what it processes (see fixtures/record-stage.ts). */
export const RECORD_STAGE = join(import.meta.dir, "fixtures/record-stage.ts");

/**
 * A topology YAML of one record stage reading `topic` on `brokers` as `group`, with the group timings a real
 * broker accepts (6 s session, 500 ms heartbeat) and a random HTTP port; `extra` is appended as is.
 */
export function recordStageTopology(o: { name: string; brokers: string; topic: string; group: string; stageOptions?: string; extra?: string }): string {
  return `name: ${o.name}
source:
  kafka:
    brokers: "${o.brokers}"
    topics: [${o.topic}]
    group: ${o.group}
    sessionTimeout: 6s
    heartbeatInterval: 500ms
stages:
  - custom:
      module: ${RECORD_STAGE}${o.stageOptions ? `\n      options: ${o.stageOptions}` : ""}
http:
  port: 0
${o.extra ?? ""}`;
}
