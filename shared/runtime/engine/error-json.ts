/**
 * One JSON view of any thrown value, for pino logs and the worker's `fatal` IPC message: topofleet errors
 * keep their code, retriable flag and context; other errors their name and message.
 */
import { TopofleetError } from "../../errors/index.ts";

/** A JSON-safe view of `err`; `stack` adds the stack of non-topofleet errors (unexpected ones, worth a trace). */
export function errorJson(err: unknown, stack = false): Record<string, unknown> {
  if (err instanceof TopofleetError) return err.toJSON();
  if (err instanceof Error) return stack ? { name: err.name, message: err.message, stack: err.stack } : { name: err.name, message: err.message };
  return { message: String(err) };
}
