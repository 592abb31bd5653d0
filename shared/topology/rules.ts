/**
 * Cross-field rules: what a single key's descriptor cannot say (exactly one source, stage order, the DLQ
 * differs from the sources, replicas bounds...). They run on the possibly partial result of the walk, so
 * every read tolerates a missing or invalid part (those were already reported).
 */
import { Diagnostics, joinIndex, joinKey } from "../config/diagnostics.ts";
import { RESERVED_TARGETS } from "../stages/enrich/plan.ts";
import type { TopologyFile } from "./schema/topology.ts";

type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
/** The validated file as the rules see it: any part may be missing when it was invalid. */
export type PartialTopologyFile = DeepPartial<TopologyFile>;

type Stage = NonNullable<PartialTopologyFile["stages"]>[number];

/** Runs every cross-field rule, adding issues (and a few warnings) to `diag`. */
export function checkRules(t: PartialTopologyFile, diag: Diagnostics): void {
  checkGenerator(t, diag);
  checkStages(t.stages ?? [], diag);
  checkDeadLetter(t, diag);
  checkMembership(t, diag);
  checkReplicas(t, diag);
  warnIdleOrUnshared(t, diag);
}

/** The source's topics, whichever kind it is. */
export function sourceTopics(t: PartialTopologyFile): string[] {
  return (t.source?.kafka?.topics ?? t.source?.mock?.topics ?? []).filter((x): x is string => typeof x === "string");
}

/** The dead-letter topic: the explicit one, else `<first source topic>.dlq` (undefined when it cannot be derived). */
export function deadLetterTopic(t: PartialTopologyFile): string | undefined {
  if (t.deadLetter?.topic) return t.deadLetter.topic;
  const first = sourceTopics(t)[0];
  return first && !first.startsWith("^") ? `${first}.dlq` : undefined;
}

// "Exactly one source kind" is the descriptor's `exactlyOne`, checked by the walk.
function checkGenerator(t: PartialTopologyFile, diag: Diagnostics): void {
  const gen = t.source?.mock?.generator;
  if (gen && (gen.duplicateRatio ?? 0) + (gen.invalidRatio ?? 0) > 1) {
    diag.add("source.mock.generator.invalidRatio", "duplicateRatio + invalidRatio must not exceed 1");
  }
}

function checkStages(stages: Stage[], diag: Diagnostics): void {
  checkKindsAndNames(stages, diag);
  stages.forEach((s, i) => {
    if (s?.kind === "enrich") checkLookups(s.value?.lookups ?? [], `stages[${i}].enrich.lookups`, diag);
    if (s?.kind === "persist") checkColumns(s.value?.columns ?? [], `stages[${i}].persist.columns`, diag);
  });
  // With an unrecognised stage the order rules would only add noise (it may be the misspelt enrich).
  if (stages.every((s) => s?.kind)) checkOrder(stages, diag);
}

/** At most one enrich/dedupe/limit/persist; unique stage names. */
function checkKindsAndNames(stages: Stage[], diag: Diagnostics): void {
  const first = new Map<string, number>();
  const names = new Map<string, number>();
  stages.forEach((s, i) => {
    if (!s?.kind) return;
    const at = `${joinIndex("stages", i)}.${s.kind}`;
    if (s.kind !== "custom") {
      const prev = first.get(s.kind);
      if (prev !== undefined) {
        diag.add(at, `a pipeline has at most one ${s.kind} stage (the first is stages[${prev}])`);
        return; // its default name would clash too; one message is enough
      }
      first.set(s.kind, i);
    }
    const name = stageNameOf(s);
    if (name !== undefined) {
      const prev = names.get(name);
      if (prev !== undefined) diag.add(`${at}.name`, `stage name \`${name}\` is already used by stages[${prev}]; names must be unique`);
      else names.set(name, i);
    }
  });
}

/** enrich before dedupe and persist; a verifying dedupe needs persist after it. */
function checkOrder(stages: Stage[], diag: Diagnostics): void {
  const first = (kind: string) => {
    const i = stages.findIndex((s) => s?.kind === kind);
    return i < 0 ? undefined : i;
  };
  const enrich = first("enrich");
  const dedupe = first("dedupe");
  const persist = first("persist");
  if (dedupe !== undefined && (enrich === undefined || enrich > dedupe)) {
    diag.add(`stages[${dedupe}].dedupe`, "dedupe needs the keys the enrich stage computes: put an `enrich` stage before it");
  }
  const limit = first("limit");
  if (limit !== undefined && (enrich === undefined || enrich > limit)) {
    diag.add(`stages[${limit}].limit`, "limit reads the tenant the enrich stage extracts: put an `enrich` stage before it");
  }
  if (limit !== undefined && persist !== undefined && persist < limit) {
    diag.add(`stages[${limit}].limit`, "limit must come before persist: events are stored by persist, so a limit after it limits nothing");
  }
  if (persist !== undefined && (enrich === undefined || enrich > persist)) {
    diag.add(`stages[${persist}].persist`, "persist writes the rows the enrich stage builds: put an `enrich` stage before it");
  }
  if (dedupe !== undefined) {
    const d = stages[dedupe];
    if (d?.kind === "dedupe" && (d.value?.onMaybeSeen ?? "verify") === "verify" && (persist === undefined || persist < dedupe)) {
      diag.add(
        `stages[${dedupe}].dedupe.onMaybeSeen`,
        "`onMaybeSeen: verify` (the default) checks maybe-seen events in PostgreSQL: add a `persist` stage after dedupe, or set `onMaybeSeen: drop`",
      );
    }
  }
}

function stageNameOf(s: Stage): string | undefined {
  if (s.kind === "custom") return s.value?.name ?? moduleBaseName(s.value?.module);
  return s.value?.name;
}

/** A custom stage's default name: its module's file name without extension. */
export function moduleBaseName(module: string | undefined): string | undefined {
  if (!module) return undefined;
  const base = module.split(/[\\/]/).pop() ?? module;
  return base.replace(/\.[^.]+$/, "") || base;
}

type Lookup = { kind?: string; value?: { name?: string; into?: string } } | undefined;

function checkLookups(lookups: Lookup[], path: string, diag: Diagnostics): void {
  const names = new Map<string, number>();
  lookups.forEach((l, i) => {
    const name = l?.value?.name ?? l?.value?.into;
    if (!name) return;
    const into = l?.value?.into;
    if (into && RESERVED_TARGETS.has(into)) diag.add(`${path}[${i}].${l!.kind}.into`, `\`${into}\` is a CloudEvents context attribute; a lookup writes an extension attribute (e.g. \`${into}info\`)`);
    const prev = names.get(name);
    if (prev !== undefined) diag.add(`${path}[${i}].${l!.kind}.name`, `lookup name \`${name}\` is already used by ${path}[${prev}]`);
    else names.set(name, i);
  });
}

type Column = { column?: string; from?: string } | undefined;

function checkColumns(columns: Column[], path: string, diag: Diagnostics): void {
  const seen = new Map<string, number>();
  columns.forEach((c, i) => {
    if (!c?.column) return;
    const prev = seen.get(c.column);
    if (prev !== undefined) diag.add(`${path}[${i}].column`, `column \`${c.column}\` is already mapped by ${path}[${prev}]`);
    else seen.set(c.column, i);
  });
  // The identity (source, id) is what insert-or-ignore and dedupe verification rely on.
  for (const needed of ["id", "source"]) {
    if (columns.length > 0 && !columns.some((c) => c?.from === needed)) {
      diag.add(path, `the mapping must write \`${needed}\` into some column: (source, id) is the event identity that keeps writes exact`);
    }
  }
}

function checkDeadLetter(t: PartialTopologyFile, diag: Diagnostics): void {
  const topics = sourceTopics(t);
  if (topics.length === 0) return;
  const dlq = deadLetterTopic(t);
  const path = t.deadLetter?.topic ? "deadLetter.topic" : "deadLetter";
  if (dlq === undefined) {
    diag.add("deadLetter", "the first source topic is a regex subscription: set `deadLetter.topic` explicitly");
    return;
  }
  topics.forEach((topic, i) => {
    if (topic === dlq) {
      diag.add(path, `the dead-letter topic \`${dlq}\` is also a source topic (source topics[${i}]): rejected events would loop`);
    } else if (topic.startsWith("^") && safeTest(topic, dlq)) {
      diag.add(path, `the dead-letter topic \`${dlq}\` matches the source subscription \`${topic}\`: rejected events would loop`);
    }
  });
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false; // an invalid regex was already reported by the walk
  }
}

/** librdkafka properties the membership keys derive; setting them by hand would defeat or contradict those keys. */
const MEMBERSHIP_PROPERTIES: Record<string, string> = {
  "group.instance.id": "staticMembership (each worker slot gets its own id; one fixed id would fence the other workers)",
  "session.timeout.ms": "sessionTimeout",
  "heartbeat.interval.ms": "heartbeatInterval",
};
/** Kafka brokers refuse session timeouts outside these bounds by default (group.min/max.session.timeout.ms). */
const MIN_SESSION_TIMEOUT_MS = 6_000;
const MAX_SESSION_TIMEOUT_MS = 30 * 60_000;

/** Session timeout within the broker's default bounds, heartbeat at most a third of it, no hand-set membership properties. */
function checkMembership(t: PartialTopologyFile, diag: Diagnostics): void {
  const kind = t.source?.kafka ? "kafka" : t.source?.mock ? "mock" : null;
  if (!kind) return;
  const s = t.source![kind]!;
  const at = `source.${kind}`;
  const session = s.sessionTimeout;
  if (session !== undefined && session > MAX_SESSION_TIMEOUT_MS) {
    diag.add(`${at}.sessionTimeout`, `must be at most 30m (the broker's default group.max.session.timeout.ms), got ${session} ms`);
  }
  if (kind === "kafka" && session !== undefined && session < MIN_SESSION_TIMEOUT_MS) {
    diag.warn(diag.at(`${at}.sessionTimeout`), `${at}.sessionTimeout`, `${session} ms is below 6s, the brokers' default group.min.session.timeout.ms: the group refuses it unless the cluster allows it`);
  }
  if (session !== undefined && s.heartbeatInterval !== undefined && s.heartbeatInterval * 3 > session) {
    diag.add(`${at}.heartbeatInterval`, `must be at most a third of sessionTimeout (${session} ms), got ${s.heartbeatInterval} ms`);
  }
  for (const key of Object.keys(s.properties ?? {})) {
    const use = MEMBERSHIP_PROPERTIES[key];
    if (use) diag.add(joinKey(`${at}.properties`, key), `set \`${use.split(" ")[0]}\` instead: topofleet derives ${key} from ${use}`);
  }
}

function checkReplicas(t: PartialTopologyFile, diag: Diagnostics): void {
  const r = t.concurrency?.replicas;
  if (typeof r !== "object" || r === null) return;
  const { min, max, lagPerReplica } = r;
  if (min !== undefined && max !== undefined && max < min) {
    diag.add("concurrency.replicas.max", `max (${max}) must be >= min (${min})`);
  }
  if (min !== undefined && max !== undefined && max > min && lagPerReplica === 0) {
    diag.add("concurrency.replicas.lagPerReplica", "must be > 0 when max > min: it is the lag that adds a replica");
  }
}

/** The most replicas the topology may run. */
function maxReplicas(t: PartialTopologyFile): number {
  const r = t.concurrency?.replicas;
  return typeof r === "number" ? r : (r?.max ?? 1);
}

// Not errors: both run correctly, but rarely as the user intended.
function warnIdleOrUnshared(t: PartialTopologyFile, diag: Diagnostics): void {
  const replicas = maxReplicas(t);
  const partitions = t.source?.mock?.partitions;
  if (partitions !== undefined && replicas > partitions) {
    diag.warn(diag.at("concurrency.replicas"), "concurrency.replicas", `${replicas} replicas for ${partitions} mock partitions: ${replicas - partitions} would sit idle`);
  }
  (t.stages ?? []).forEach((s, i) => {
    if (s?.kind === "dedupe" && s.value?.backend === "memory" && replicas > 1) {
      const path = `stages[${i}].dedupe.backend`;
      diag.warn(diag.at(path), path, "the memory filter is per process: with several replicas only PostgreSQL's unique key catches cross-replica duplicates; use `backend: redis`");
    }
  });
}
