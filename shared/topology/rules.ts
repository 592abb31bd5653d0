/**
 * Cross-field rules: what a single key's descriptor cannot say (exactly one source, stage order, the DLQ
 * differs from the sources, replicas bounds...). They run on the possibly partial result of the walk, so
 * every read tolerates a missing or invalid part (those were already reported).
 */
import { Diagnostics, joinIndex, joinKey } from "../config/diagnostics.ts";
import { stageSpec } from "../stages/registry.ts";
import type { PipelineRulesView, StageItemView } from "../stages/spec.ts";
import type { TopologyFile } from "./schema/topology.ts";

type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
/** The validated file as the rules see it: any part may be missing when it was invalid. */
export type PartialTopologyFile = DeepPartial<TopologyFile>;

type Stage = NonNullable<PartialTopologyFile["stages"]>[number];

/** Runs every cross-field rule, adding issues (and a few warnings) to `diag`. */
export function checkRules(t: PartialTopologyFile, diag: Diagnostics): void {
  checkGenerator(t, diag);
  checkStages(t, diag);
  checkDeadLetter(t, diag);
  checkMembership(t, diag);
  checkReplicas(t, diag);
  checkRetry(t, diag);
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

function checkStages(t: PartialTopologyFile, diag: Diagnostics): void {
  const items = (t.stages ?? []) as Stage[];
  const views: StageItemView[] = items.flatMap((s, index) => (s?.kind ? [{ kind: s.kind, index, path: `${joinIndex("stages", index)}.${s.kind}`, value: s.value }] : []));
  const pipeline: PipelineRulesView = { stages: views, maxReplicas: maxReplicas(t) };
  checkKindsAndNames(views, diag);
  for (const v of views) stageSpec(v.kind)?.rules?.check?.(v, pipeline, diag);
  // With an unrecognised stage the order rules would only add noise (it may be the misspelt enrich).
  if (views.length === items.length) for (const v of views) checkOrder(v, views, diag);
}

/** At most one stage of the kinds that say so; unique stage names. */
function checkKindsAndNames(views: readonly StageItemView[], diag: Diagnostics): void {
  const first = new Map<string, number>();
  const names = new Map<string, number>();
  for (const v of views) {
    const spec = stageSpec(v.kind);
    if (spec?.rules?.atMostOne) {
      const prev = first.get(v.kind);
      if (prev !== undefined) {
        diag.add(v.path, `a pipeline has at most one ${v.kind} stage (the first is stages[${prev}])`);
        continue; // its default name would clash too; one message is enough
      }
      first.set(v.kind, v.index);
    }
    const name = spec?.nameOf ? spec.nameOf(v.value) : (v.value as { name?: string } | undefined)?.name;
    if (name !== undefined) {
      const prev = names.get(name);
      if (prev !== undefined) diag.add(`${v.path}.name`, `stage name \`${name}\` is already used by stages[${prev}]; names must be unique`);
      else names.set(name, v.index);
    }
  }
}

/** The order rules of one stage's spec against the first stage of each kind they name. */
function checkOrder(self: StageItemView, views: readonly StageItemView[], diag: Diagnostics): void {
  if (views.find((v) => v.kind === self.kind) !== self) return; // rules hold for the first of a kind (the others were reported)
  for (const rule of stageSpec(self.kind)?.rules?.order ?? []) {
    if (rule.when && !rule.when(self.value)) continue;
    const other = views.find((v) => v.kind === rule.kind)?.index;
    const misplaced = other !== undefined && (rule.position === "before" ? other > self.index : other < self.index);
    if ((other === undefined && rule.required) || misplaced) diag.add(rule.key ? `${self.path}.${rule.key}` : self.path, rule.message);
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

function checkRetry(t: PartialTopologyFile, diag: Diagnostics): void {
  const r = t.retry;
  if (r?.initial !== undefined && r.max !== undefined && r.max < r.initial) {
    diag.add("retry.max", `max (${r.max} ms) must be >= initial (${r.initial} ms)`);
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
}
