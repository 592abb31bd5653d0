/**
 * The stage compliance harness: what every registered StageSpec must satisfy, checked the same way for each
 * (test/stages/compliance/compliance.test.ts runs it over the registry, so a new stage is checked by adding
 * its registry line and a runtime fixture).
 *
 * Static: every schema key is described; every static default passes its own descriptor; a minimal topology
 * built from the spec's `example` (plus the stages its required order rules ask for) loads and resolves;
 * `explain` returns lines; error and rejection codes are well-formed and carry a retriable flag.
 * Runtime: the stage, created from that resolved config and started among its pipeline's stages on real
 * services, obeys the Stage contract on a real batch: it touches only Live events, each ends terminal, Held or
 * still Live, the rejection codes it uses are the ones it declares, and `process` is safe to repeat.
 */
import { expect } from "bun:test";
import { stringify } from "yaml";
import { Diagnostics } from "../../../shared/config/diagnostics.ts";
import { type Desc, obj } from "../../../shared/config/dsl.ts";
import { Batch, EventStatus } from "../../../shared/stages/batch.ts";
import { packRecords, type RecordInput } from "../../../shared/stages/records.ts";
import { stageSpec } from "../../../shared/stages/registry.ts";
import type { AnyStageSpec, StageConfigBase } from "../../../shared/stages/spec.ts";
import type { Stage } from "../../../shared/stages/stage.ts";
import { parseTopology, type ResolvedTopology, type StageConfig } from "../../../shared/topology/index.ts";
import { validateDocument } from "../../../shared/topology/validate.ts";
import { parseYaml } from "../../../shared/topology/yaml-source.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";

/** Key paths of `d` (and everything under it) whose description is missing or empty. */
export function undescribedKeys(d: Desc, path: string): string[] {
  const own = d.description?.trim() ? [] : [path];
  switch (d.kind) {
    case "object":
      return [...own, ...Object.entries(d.fields).flatMap(([k, f]) => undescribedKeys(f, `${path}.${k}`))];
    case "array":
      return [...own, ...undescribedKeys(d.items, `${path}[]`)];
    case "map":
      return [...own, ...undescribedKeys(d.values, `${path}.*`)];
    case "tagged":
      return [...own, ...Object.entries(d.variants).flatMap(([k, v]) => undescribedKeys(v, `${path}.${k}`))];
    case "either":
      return [...own, ...undescribedKeys(d.scalar, path), ...undescribedKeys(d.object, path)];
    default:
      return own;
  }
}

/** Problems of static defaults that their own descriptor refuses (each validated as a one-key document). */
export function defaultProblems(d: Desc, path: string): string[] {
  const own: string[] = [];
  // An object's `{}` default means "every child's default": the children are checked one by one below.
  if (d.default !== undefined && !(d.kind === "object" && Object.keys(d.default as object).length === 0)) {
    const doc = stringify({ value: d.default });
    const diag = new Diagnostics(`${path} default`);
    validateDocument(parseYaml(doc, `${path}.yaml`), obj({ description: "default", fields: { value: d } }), {}, diag);
    own.push(...diag.issues.map((i) => `${path}: default ${JSON.stringify(d.default)}: ${i.message}`));
  }
  switch (d.kind) {
    case "object":
      return [...own, ...Object.entries(d.fields).flatMap(([k, f]) => defaultProblems(f, `${path}.${k}`))];
    case "array":
      return [...own, ...defaultProblems(d.items, `${path}[]`)];
    case "map":
      return [...own, ...defaultProblems(d.values, `${path}.*`)];
    default:
      return own;
  }
}

/** Malformed error or rejection declarations of a spec. */
export function codeProblems(spec: AnyStageSpec): string[] {
  const out: string[] = [];
  for (const [code, info] of Object.entries(spec.errors)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(code)) out.push(`error code ${code} is not UPPER_SNAKE_CASE`);
    if (!(info.retriable === true || info.retriable === false || info.retriable === "depends")) out.push(`error code ${code} has no retriable flag`);
    if (!info.description.trim()) out.push(`error code ${code} has no description`);
  }
  for (const [code, meaning] of Object.entries(spec.rejections)) {
    if (!/^[A-Z][A-Z0-9_]*(<[A-Z]+>)?$/.test(code)) out.push(`rejection code ${code} is not UPPER_SNAKE_CASE (or PREFIX_<PART>)`);
    if (!meaning.trim()) out.push(`rejection code ${code} has no description`);
  }
  return out;
}

/** A pipeline item: kind and its YAML value. */
export interface PipelineItem {
  kind: string;
  value: Record<string, unknown>;
}

/**
 * The smallest pipeline around `spec`'s example that its required order rules (and theirs) accept: a stage
 * asked for `before` goes first, one asked for `after` goes last, each with its own spec's example.
 */
export function minimalPipeline(spec: AnyStageSpec): PipelineItem[] {
  const items: PipelineItem[] = [{ kind: spec.kind, value: spec.example }];
  for (let changed = true, rounds = 0; changed && rounds < 8; rounds++) {
    changed = false;
    for (const item of [...items]) {
      for (const rule of stageSpec(item.kind)?.rules?.order ?? []) {
        if (!rule.required || items.some((x) => x.kind === rule.kind) || (rule.when && !rule.when(item.value as never))) continue;
        const other = stageSpec(rule.kind);
        if (!other) throw new Error(`${item.kind}: an order rule names the unregistered kind ${rule.kind}`);
        const add = { kind: other.kind, value: other.example };
        if (rule.position === "before") items.unshift(add);
        else items.push(add);
        changed = true;
      }
    }
  }
  return items;
}

/** A topology file holding `pipeline` on the mock source. */
export function topologyText(pipeline: readonly PipelineItem[]): string {
  return stringify({ name: "compliance", source: { mock: { topics: ["events"] } }, stages: pipeline.map((p) => ({ [p.kind]: p.value })) });
}

/** Loads the minimal topology of `spec`; `anchor` is the file path relative paths in examples resolve against. */
export function loadMinimal(spec: AnyStageSpec, anchor: string): ResolvedTopology {
  return parseTopology(topologyText(minimalPipeline(spec)), anchor, {}, { cores: 2 });
}

/** Records of the runtime check: valid events of several shapes (one a heartbeat, one with extensions) and an invalid one. */
export function complianceRecords(): RecordInput[] {
  const time = new Date().toISOString();
  const run = `${process.pid}-${Date.now()}`;
  const ev = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ specversion: "1.0", id: `${run}-${id}`, source: "/tenants/acme/orders", type: "com.example.order.created", time, subject: `order/${id}`, data: { n: 1 }, ...extra });
  const values = [ev("c1"), ev("c2", { type: "com.example.heartbeat" }), ev("c3", { tenantid: "acme", priority: 3 }), ev("c4", { source: "/tenants/globex/x" }), "{not json"];
  return values.map((value, offset) => ({ topic: "events", partition: 0, offset, timestamp: Date.now(), key: null, value }));
}

const SETTLED: ReadonlySet<number> = new Set([EventStatus.Persisted, EventStatus.Duplicate, EventStatus.DeadLettered, EventStatus.Filtered, EventStatus.Held]);

/** Whether `code` is declared by `spec` (a declared `PREFIX_<PART>` covers every `PREFIX_...`). */
function declares(spec: AnyStageSpec, code: string): boolean {
  return Object.keys(spec.rejections).some((d) => d === code || (d.includes("<") && code.startsWith(d.slice(0, d.indexOf("<")))));
}

/**
 * Starts every stage of `configs` (in order, as the engine does), runs the ones before `under` on a fresh
 * batch, then checks the Stage contract on `under`: twice, since a retried `process` sees the same batch.
 */
export async function checkStageContract(spec: AnyStageSpec, topology: ResolvedTopology, configs: StageConfig[]): Promise<void> {
  const stages: Stage[] = [];
  try {
    for (const cfg of configs) stages.push(await stageSpec(cfg.kind)!.create(cfg));
    const ctxTopology = { ...topology, stages: configs };
    for (const s of stages) await s.start(stageContext({ topology: ctxTopology, stages }));
    const at = configs.findIndex((c) => c.kind === spec.kind);
    const batch = new Batch(packRecords(complianceRecords()));
    for (const s of stages.slice(0, at)) await s.process(batch);
    const before = Uint8Array.from(batch.status);
    const under = stages[at]!;
    expect((await under.health()).ok).toBe(true);
    await under.process(batch);
    const after = Uint8Array.from(batch.status);
    for (let i = 0; i < batch.size; i++) {
      if (before[i] !== EventStatus.Live) expect({ i, status: after[i] }).toEqual({ i, status: before[i]! });
      else expect(after[i] === EventStatus.Live || SETTLED.has(after[i]!), `event ${i} ended in status ${after[i]}`).toBe(true);
    }
    if (Object.keys(spec.rejections).length > 0) {
      for (const [i, r] of batch.rejections) if (before[i] === EventStatus.Live) expect({ code: r.code, declared: declares(spec, r.code) }).toEqual({ code: r.code, declared: true });
    }
    await under.process(batch);
    expect([...batch.status]).toEqual([...after]);
  } finally {
    for (const s of stages.reverse()) await s.close().catch(() => undefined);
  }
}

/** The config patched by a fixture, with the kind's type kept. */
export type ConfigPatch = (cfg: StageConfigBase) => StageConfigBase;
