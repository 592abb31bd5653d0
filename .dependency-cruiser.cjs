/**
 * Import rules of topofleet, checked by dependency-cruiser (`bun run lint:imports`, a part of .ci/run).
 *
 * The layers, lowest first. A module may import its own layer and the layers below it, never one above:
 *
 *   0 errors      TopofleetError and the error class of each failure domain: everything throws them.
 *   1 config      the generic config machinery (schema DSL, diagnostics, units, secrets, shared patterns)
 *     timing      backoff and sleep helpers
 *   2 telemetry   logger, metrics and their names
 *   3 kafka       the librdkafka binding
 *     embedded    PGlite behind a PostgreSQL socket
 *   4 stages      the Stage contract, the stage specs and registry, one folder per stage
 *   5 topology    topology file -> validated, resolved topology (iterates the stage registry)
 *   6 runtime, cli, deploy, loadgen, audit, replay, topic-reader, tracing
 *                 what runs a topology and the tools around it; they may use each other without cycles,
 *                 except that audit and replay stay independent (both read topics through topic-reader)
 *   7 workers     process and thread entry points only
 *   dev/ and test/ may import the layers above; test/ may import dev/ (the test support kit is dev/support/),
 *   dev/ never imports test/ (benches and tools must not depend on test files), and nothing shipped imports either.
 *
 * Why: a stage must not depend on the whole topology (the topology depends on the stage registry), the config
 * machinery must not depend on what it configures, and so on; one wrong import and the layers become a knot.
 * Cycles are forbidden too, type-only and dynamic imports included (tsPreCompilationDeps): a stage spec imports
 * its implementation lazily in `create`, so an implementation must never import the registry back (enrich gets
 * the later stages' needs through its StageContext instead).
 */
const LAYERS = [
  ["shared/errors/"],
  ["shared/config/", "shared/timing/"],
  ["shared/telemetry/"],
  ["shared/kafka/", "shared/embedded/"],
  ["shared/stages/"],
  ["shared/topology/"],
  ["shared/runtime/", "shared/cli/", "shared/deploy/", "shared/loadgen/", "shared/audit/", "shared/replay/", "shared/topic-reader/", "shared/tracing/"],
  ["workers/"],
];

const anyOf = (paths) => `^(${paths.join("|")})`;

/** One rule per layer: nothing in it imports a higher layer. */
const layerRules = LAYERS.slice(0, -1).map((paths, i) => ({
  name: `layer-${i}-imports-up`,
  comment: `${paths.join(", ")} (layer ${i}) may not import a higher layer: ${LAYERS.slice(i + 1).flat().join(", ")}`,
  severity: "error",
  from: { path: anyOf(paths) },
  to: { path: anyOf(LAYERS.slice(i + 1).flat()) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle of imports (type-only and dynamic ones included) ties modules into one knot.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "audit-and-replay-independent",
      comment: "The audit and replay are separate tools; what both need (reading topic ranges) is in shared/topic-reader.",
      severity: "error",
      from: { path: "^shared/(audit|replay)/" },
      to: { path: "^shared/(audit|replay)/", pathNot: "^shared/$1/" },
    },
    {
      name: "every-folder-in-a-layer",
      comment: "A folder under shared/ that is in no layer escapes the rules above: add it to LAYERS.",
      severity: "error",
      from: { path: "^shared/", pathNot: anyOf(LAYERS.flat()) },
      to: {},
    },
    {
      name: "no-shipped-to-dev-or-test",
      comment: "shared/ and workers/ ship in the image; dev/ and test/ do not.",
      severity: "error",
      from: { path: "^(shared|workers)/" },
      to: { path: "^(dev|test)/" },
    },
    {
      name: "no-dev-to-test",
      comment: "Benches and dev tools share helpers with the tests through dev/support/, never by importing test files.",
      severity: "error",
      from: { path: "^dev/" },
      to: { path: "^test/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // The fixture tree breaks every rule on purpose (test/lint/imports.test.ts runs the rules on it alone).
    exclude: { path: "^(node_modules|test/lint/fixtures)/" },
    tsPreCompilationDeps: true,
    // Absolute, so the rules can be run from another directory (test/lint runs them on a fixture tree).
    tsConfig: { fileName: require("node:path").join(__dirname, "tsconfig.json") },
    moduleSystems: ["es6", "cjs"],
    // Bun resolves these at run time; they are not files in the repository.
    builtInModules: { add: ["bun", "bun:ffi", "bun:test", "bun:sqlite", "bun:jsc"] },
  },
};
