/** The filter stage's spec: schema (the expression is parsed at load), resolver, rules and explain lines (see ../spec.ts). */
import { stageName } from "../../config/common.ts";
import { type Infer, obj, opt, str } from "../../config/dsl.ts";
import { defineStage } from "../spec.ts";
import { FILTERED_CODE, type FilterStageConfig } from "./config.ts";
import { ExpressionError, MAX_EXPRESSION, parseExpression } from "./expression.ts";

/** Static defaults of the filter stage. */
export const FILTER_DEFAULTS = { onFiltered: "drop" as const };

/** The parse problem of an expression, for the validator (reported at the key's file:line:column). */
function expressionProblem(text: string): string | undefined {
  try {
    parseExpression(text);
    return undefined;
  } catch (err) {
    if (err instanceof ExpressionError) return `invalid filter expression: ${err.message}`;
    throw err;
  }
}

const expression = (description: string) =>
  opt(
    str({
      description:
        `${description} Tests on attributes and extensions: \`==\`, \`!=\`, \`in [..]\`, \`not in [..]\`, \`startsWith\`, \`endsWith\`, \`matches\` (a regex run by a linear-time matcher), ` +
        "`exists(name)`, combined with `and`, `or`, `not` and parentheses, e.g. `type == \"com.example.heartbeat\" or source startsWith \"/test/\"`.",
      minLength: 1,
      maxLength: MAX_EXPRESSION,
      check: expressionProblem,
    }),
  );

const schema = obj({
  description: "Keeps or drops events by an expression over their CloudEvents attributes (parsed when the topology loads; never evaluated as code). Needs an `enrich` stage before it.",
  fields: {
    name: stageName("filter"),
    keep: expression("Events that match go on; the others are removed."),
    drop: expression("Events that match are removed; the others go on."),
    onFiltered: str({
      description: `\`drop\`: removed events are counted as filtered (in the summary and \`topofleet_events_out_total{outcome="filtered"}\`), neither stored nor dead-lettered; \`dead-letter\`: they go to the dead-letter topic with code ${FILTERED_CODE}.`,
      enum: ["drop", "dead-letter"],
      default: FILTER_DEFAULTS.onFiltered,
    }),
  },
});

/** The filter stage: any number per pipeline, each under its own name. */
export const filterSpec = defineStage<"filter", Infer<typeof schema>, FilterStageConfig>({
  kind: "filter",
  schema,
  example: { drop: 'type == "com.example.heartbeat"' },
  resolve(v) {
    const mode = v.keep !== undefined ? "keep" : "drop";
    return { kind: "filter", name: v.name, mode, expression: (v.keep ?? v.drop)!, onFiltered: v.onFiltered };
  },
  rules: {
    check(self, _pipeline, diag) {
      const v = self.value;
      if (!v) return;
      if (v.keep !== undefined && v.drop !== undefined) diag.add(`${self.path}.drop`, "give `keep` or `drop`, not both: `keep` lets matching events go on, `drop` removes them");
      else if (v.keep === undefined && v.drop === undefined && diag.issues.every((i) => !i.path.startsWith(`${self.path}.`)))
        diag.add(self.path, "needs `keep: <expression>` (events that match go on) or `drop: <expression>` (events that match are removed)");
    },
    order: [{ kind: "enrich", position: "before", required: true, message: "filter reads the attributes the enrich stage parses: put an `enrich` stage before it" }],
  },
  explain: (cfg) => [
    `Filter ${cfg.name}: ${cfg.mode} events matching ${JSON.stringify(cfg.expression)}; the others are ${cfg.mode === "keep" ? "removed" : "kept"}. ` +
      `Removed events are ${cfg.onFiltered === "drop" ? "counted as filtered" : `dead-lettered (${FILTERED_CODE})`}.`,
  ],
  async create(cfg) {
    return (await import("./stage.ts")).createFilterStage(cfg);
  },
  // A bad expression is a ConfigError at load; the stage itself throws nothing per batch.
  errors: {},
  rejections: { [FILTERED_CODE]: "Removed by a filter stage with `onFiltered: dead-letter`; the reason quotes the expression." },
});
