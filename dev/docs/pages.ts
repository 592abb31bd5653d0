/** Every generated reference page, by its path in the repository: what the generator writes and the drift test compares. */
import { cliPage } from "./cli-page.ts";
import { environmentPage } from "./environment-page.ts";
import { errorsPage } from "./errors-page.ts";
import { metricsPage } from "./metrics-page.ts";
import { topologyPage } from "./topology-page.ts";

/** The reference pages (path relative to the repository root → text). */
export function referencePages(): Map<string, string> {
  return new Map([
    ["docs/reference/topology.md", topologyPage()],
    ["docs/reference/cli.md", cliPage()],
    ["docs/reference/environment.md", environmentPage()],
    ["docs/reference/metrics.md", metricsPage()],
    ["docs/reference/errors.md", errorsPage()],
  ]);
}
