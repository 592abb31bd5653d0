/**
 * An enrich module that never finishes loading and keeps its thread busy waiting (a timer keeps the event
 * loop alive, so only a deadline can tell): the start-up deadline must fail it with its path, exit 2.
 */
setInterval(() => {}, 1000);
await new Promise(() => {});

export function enrichEvent<T>(event: T): T {
  return event;
}
