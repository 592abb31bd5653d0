/** One resource per test file (a Kafka, a set of fault services), started in beforeAll and stopped in afterAll. */
import { afterAll, beforeAll } from "bun:test";

/** Registers beforeAll/afterAll for the resource; returns an accessor that fails clearly if beforeAll did not run. */
export function suiteResource<T>(what: string, start: () => Promise<T>, stop: (r: T) => Promise<void>, timeoutMs: number): () => T {
  let resource: T | null = null;
  beforeAll(async () => {
    resource = await start();
  }, timeoutMs);
  afterAll(async () => {
    if (resource) await stop(resource);
  }, timeoutMs);
  return () => {
    if (!resource) throw new Error(`${what} is not started (beforeAll failed?)`);
    return resource;
  };
}
