/**
 * Every registered stage spec through the compliance harness (./stage.ts). A spec without a runtime fixture
 * here fails: the fixture says which real services its stage needs and points its config at them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import postgres from "postgres";
import { IN_CI, PG_URL, postgresUp, REDIS_URL, redisUp, uniqueName } from "../../../dev/support/services.ts";
import { kafkaSuite } from "../../../dev/support/kafka.ts";
import { STAGE_SPECS } from "../../../shared/stages/registry.ts";
import type { AnyStageSpec, FleetFacts } from "../../../shared/stages/spec.ts";
import type { StageConfig } from "../../../shared/topology/index.ts";
import { checkStageContract, codeProblems, defaultProblems, loadMinimal, undescribedKeys } from "./stage.ts";

const REPO = resolve(import.meta.dir, "../../..");
const kafka = kafkaSuite();
const tables: string[] = [];

type Service = "postgres" | "redis" | "kafka";

/** Per kind: the services its stage needs at run time and how its config is pointed at them. */
const FIXTURES: Record<string, { services: Service[]; patch?: (cfg: StageConfig) => StageConfig; anchor?: string }> = {
  enrich: { services: [] },
  filter: { services: [] },
  custom: { services: [], anchor: "shared/stages/custom" },
  dedupe: { services: ["redis"], patch: (c) => ({ ...c, redisUrl: REDIS_URL, prefix: uniqueName("tf:compliance") }) as StageConfig },
  limit: { services: ["redis"], patch: (c) => ({ ...c, redisUrl: REDIS_URL, prefix: uniqueName("tf:compliance") }) as StageConfig },
  persist: {
    services: ["postgres"],
    patch: (c) => {
      const table = uniqueName("compliance");
      tables.push(table);
      return { ...c, url: PG_URL, table } as StageConfig;
    },
  },
  kafkaSink: { services: ["kafka"], patch: (c) => ({ ...c, brokers: kafka().bootstraps, topic: uniqueName("compliance") }) as StageConfig },
};

const up: Record<Service, boolean> = { postgres: postgresUp, redis: redisUp, kafka: true };

afterAll(async () => {
  if (!tables.length || !postgresUp) return;
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  for (const t of tables) await sql.unsafe(`DROP TABLE IF EXISTS "${t}" CASCADE`);
  await sql.end();
});

const FLEET: FleetFacts = { cores: 2, replicas: { min: 1, max: 1 }, activeReplicas: 1 };

test("every registered kind has a runtime fixture here, and kinds are unique", () => {
  const kinds = STAGE_SPECS.map((s) => s.kind);
  expect(new Set(kinds).size).toBe(kinds.length);
  expect(kinds.filter((k) => !FIXTURES[k])).toEqual([]);
});

test("error and rejection codes are unique across stages", () => {
  const seen = new Map<string, string>();
  const clashes: string[] = [];
  for (const s of STAGE_SPECS) {
    for (const code of [...Object.keys(s.errors), ...Object.keys(s.rejections)]) {
      const prev = seen.get(code);
      if (prev !== undefined && prev !== s.kind) clashes.push(`${code}: ${prev} and ${s.kind}`);
      seen.set(code, s.kind);
    }
  }
  expect(clashes).toEqual([]);
});

for (const spec of STAGE_SPECS as readonly AnyStageSpec[]) {
  const fixture = FIXTURES[spec.kind] ?? { services: [] };
  const anchor = resolve(REPO, fixture.anchor ?? ".", "compliance.yaml");

  describe(`stage ${spec.kind}`, () => {
    test("every schema key has a description", () => {
      expect(undescribedKeys(spec.schema, spec.kind)).toEqual([]);
    });

    test("every static default passes its own descriptor", () => {
      expect(defaultProblems(spec.schema, spec.kind)).toEqual([]);
    });

    test("error and rejection codes are well-formed, with retriable flags and meanings", () => {
      expect(codeProblems(spec)).toEqual([]);
    });

    test("a minimal topology with its example resolves, and explain / capacity describe the result", () => {
      const t = loadMinimal(spec, anchor);
      const cfg = t.stages.find((s) => s.kind === spec.kind)!;
      expect(cfg).toMatchObject({ kind: spec.kind });
      expect(typeof cfg.name).toBe("string");
      const lines = spec.explain(cfg, FLEET);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l.trim().length).toBeGreaterThan(0);
      const c = spec.capacity?.(cfg, FLEET);
      if (c) expect(c.eventsPerSec).toBeGreaterThan(0);
    });

    const missing = [...new Set(loadMinimalSafe(spec, anchor).flatMap((k) => FIXTURES[k]?.services ?? []))].filter((s) => !up[s]);
    const run = missing.length === 0 || IN_CI ? test : test.skip;
    if (missing.length && !IN_CI) console.warn(`[skip] stage ${spec.kind} contract: ${missing.join(", ")} not reachable; start it to run this check`);
    run(
      "a created stage obeys the Stage contract on a real batch (only Live events touched, ends terminal or Live, repeatable)",
      async () => {
        if (missing.length) throw new Error(`${missing.join(", ")} not reachable; CI must start it`);
        const t = loadMinimal(spec, anchor);
        const configs = t.stages.map((c) => FIXTURES[c.kind]?.patch?.(c) ?? c);
        await checkStageContract(spec, t, configs);
      },
      60_000,
    );
  });
}

/** The kinds of the minimal pipeline (empty when it does not load: the resolve test reports why). */
function loadMinimalSafe(spec: AnyStageSpec, anchor: string): string[] {
  try {
    return loadMinimal(spec, anchor).stages.map((s) => s.kind);
  } catch {
    return [];
  }
}
