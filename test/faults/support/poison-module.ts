/**
 * The user enrich module of the poison suite: an event of type `poison.spin` never returns (a busy loop no
 * await can interrupt: only the slice deadline ends it), `poison.exit` calls process.exit (which the enrich
 * threads turn into a throw); the rest pass as they are.
 */
import type { CloudEvent, EnrichResult } from "../../../shared/stages/enrich/module-api.ts";

export function enrichEvent(event: CloudEvent): EnrichResult {
  if (event.type === "poison.spin") for (;;);
  if (event.type === "poison.exit") process.exit(3);
  return event;
}
