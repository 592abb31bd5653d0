/** docs/reference/environment.md: every environment variable, from the table in shared/cli/environment.ts. */
import { ENVIRONMENT_VARIABLES, type EnvVarSpec } from "../../shared/cli/environment.ts";
import { code, page, table } from "./markdown.ts";

const rows = (scope: EnvVarSpec["scope"]) =>
  table(
    ["variable", "default", "effect"],
    ENVIRONMENT_VARIABLES.filter((v) => v.scope === scope).map((v) => [code(v.name), v.default, v.effect]),
  );

/** The page text. */
export function environmentPage(): string {
  return page("Environment variables", ["shared/cli/environment.ts"], [
    "Secrets and endpoints of a pipeline come from the environment through `${VAR}` in the topology file " +
      "([guide](../guide.md#environment-variables-and-secrets)); those are the file's own. These are the variables " +
      "topofleet itself reads.",
    "## The fleet",
    "Read by `bun run topology` (the supervisor and its workers), `bun workers/worker.ts` and the Kafka binding.",
    rows("fleet"),
    "## Tests, benchmarks and dev tools",
    rows("development"),
  ]);
}
