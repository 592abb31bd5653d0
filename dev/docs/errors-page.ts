/**
 * docs/reference/errors.md: every error code (whole-batch failures, by domain) and every dead-letter code
 * (per-event rejections). The fleet's own domains come from shared/errors and shared/kafka, each stage's
 * from its spec in the registry, so a new stage's codes appear by themselves.
 */
import { CONFIG_ERROR_CODES, RUNTIME_ERROR_CODES, type ErrorCodeInfo } from "../../shared/errors/domains.ts";
import { KAFKA_OWN_ERROR_CODES, RETRIABLE_NAMES } from "../../shared/kafka/errors.ts";
import { JUMP_CODES, JUMP_DESCRIPTIONS, type JumpReason } from "../../shared/runtime/engine/offset-jumps.ts";
import { BY_CLASS, BY_SQLSTATE, KIND_CODE } from "../../shared/stages/persist/sqlstate.ts";
import { STAGE_SPECS } from "../../shared/stages/registry.ts";
import type { AnyStageSpec } from "../../shared/stages/spec.ts";
import { code, page, table } from "./markdown.ts";

const retriable = (r: ErrorCodeInfo["retriable"]) => (r === "depends" ? "depends" : r ? "yes" : "no");

const errorTable = (codes: Readonly<Record<string, ErrorCodeInfo>>) =>
  table(["code", "retriable", "meaning"], Object.entries(codes).map(([c, i]) => [code(c), retriable(i.retriable), i.description]));

const specs = STAGE_SPECS as readonly AnyStageSpec[];

/** `PG_<SQLSTATE>` rows: the states and classes persist settles as a row the database refused. */
function sqlstateTable(): string {
  const rows = [
    ...Object.entries(BY_SQLSTATE).map(([state, kind]) => [code(state), kind]),
    ...Object.entries(BY_CLASS).map(([cls, kind]) => [`class ${code(cls)} (${code(`${cls}xxx`)})`, kind]),
  ].map(([state, kind]) => [
    state,
    kind,
    kind === "row" ? "the row is isolated by bisection and dead-lettered as `PG_<SQLSTATE>`" : `the batch fails with ${code(KIND_CODE[kind as keyof typeof KIND_CODE])}`,
  ]);
  return table(["SQLSTATE", "kind", "what happens"], rows);
}

/** The page text. */
export function errorsPage(): string {
  const sections = [
    "Every error topofleet throws is a `TopofleetError` subclass with a stable `code` from a closed set, a `retriable` " +
      "flag and the cause attached; the engine decides retry / pause / dead-letter / exit from `retriable` alone " +
      "([internals.md](../internals.md#errors)). \"depends\": the throw site sets the flag per cause, as the meaning says. " +
      "A problem with one event is never an error: the event is dead-lettered with a code from [the second half](#dead-letter-codes).",
    "## Error codes",
    "### config (`ConfigError`)",
    "Always fatal: fix the file or the command line. The CLI prints the code (`error: CONFIG_…:`) and exits 2.",
    errorTable(CONFIG_ERROR_CODES),
    "### runtime (`RuntimeError`)",
    errorTable(RUNTIME_ERROR_CODES),
    "### kafka (`KafkaError`)",
    "The binding's own codes; every other code is librdkafka's error name (`rd_kafka_err2name`).",
    errorTable(KAFKA_OWN_ERROR_CODES),
    `librdkafka error names treated as retriable (where librdkafka hands over a bare error code; every other name is not): ${[...RETRIABLE_NAMES].map(code).join(", ")}.`,
    ...specs.flatMap((s) => (Object.keys(s.errors).length ? [`### ${s.kind} stage`, errorTable(s.errors)] : [])),
    "## Dead-letter codes",
    "The `topofleet-error-code` header of a dead letter, with the reason in `topofleet-error-reason` and the stage in " +
      "`topofleet-error-stage` ([operations.md](../operations.md#dead-letters)). Stable: codes are added, never renamed.",
    ...specs.flatMap((s) =>
      Object.keys(s.rejections).length
        ? [`### ${s.kind} stage`, table(["code", "meaning"], Object.entries(s.rejections).map(([c, m]) => [code(c), m]))]
        : [],
    ),
    "### How SQLSTATEs are classified (persist)",
    "A row the database refuses for itself alone is isolated by bisecting the batch and dead-lettered as `PG_<SQLSTATE>` with " +
      "the database's message, while the rest of the batch persists. Which SQLSTATEs are row errors and what the others do " +
      "(`shared/stages/persist/sqlstate.ts`; an exact state wins over its class, unknown states are `fatal` until classified):",
    sqlstateTable(),
    "## Warning codes",
    "Logged (and counted in `topofleet_skipped_offsets_total{reason}`) when a partition's position jumps without a delivery:",
    table(
      ["code", "reason label", "meaning"],
      (Object.keys(JUMP_CODES) as JumpReason[]).map((r) => [code(JUMP_CODES[r]), code(r), JUMP_DESCRIPTIONS[r]]),
    ),
  ];
  return page("Error and dead-letter codes", ["shared/errors/domains.ts", "shared/kafka/errors.ts", "shared/stages/*/spec.ts", "shared/stages/persist/sqlstate.ts", "shared/runtime/engine/offset-jumps.ts"], sections);
}
