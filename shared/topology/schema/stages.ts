/** Schema of the `stages:` list: each item is a single-key map naming a registered stage kind (shared/stages/registry.ts). */
import { arr, tagged } from "../../config/dsl.ts";
import { STAGE_SPECS, type RegisteredSpec } from "../../stages/registry.ts";

type Variants = { [S in RegisteredSpec as S["kind"]]: S["schema"] };

const variants = Object.fromEntries(STAGE_SPECS.map((s) => [s.kind, s.schema])) as Variants;

/** "`a:`, `b:` or `c:`". */
function keyList(kinds: readonly string[]): string {
  const keys = kinds.map((k) => `\`${k}:\``);
  return keys.length < 2 ? keys.join("") : `${keys.slice(0, -1).join(", ")} or ${keys.at(-1)}`;
}

/** `stages:`, in processing order. */
export const stagesSchema = arr({
  description: "Pipeline stages in processing order; each item is a single-key map.",
  minItems: 1,
  items: tagged({
    description: `One stage: ${keyList(STAGE_SPECS.map((s) => s.kind))}.`,
    noun: "stage kind",
    variants,
  }),
});
