/** Helpers for the topology tests: fixture paths and capturing the ConfigError a load throws. */
import { resolve } from "node:path";
import { ConfigError } from "../../shared/errors/index.ts";

export const FIXTURES = resolve(import.meta.dir, "fixtures");
export const BAD = resolve(FIXTURES, "bad");
export const GOOD = resolve(FIXTURES, "good");
export const TOPOLOGIES = resolve(import.meta.dir, "../../topologies");

/** Awaits `p` and returns the ConfigError it rejects with; fails the test if it resolves or throws anything else. */
export async function configError(p: Promise<unknown> | (() => unknown)): Promise<ConfigError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw new Error(`expected a ConfigError, got ${String(err)}`, { cause: err });
  }
  throw new Error("expected a ConfigError, but loading succeeded");
}
