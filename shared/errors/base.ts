/**
 * The root of every error topofleet throws. One subclass per failure domain, each with a closed set of
 * `code`s. The engine decides retry / pause / dead-letter / exit from `retriable` alone, never by parsing
 * messages, so every throw site must set it deliberately.
 */
export abstract class TopofleetError extends Error {
  /** Failure domain: "kafka", "config", "enrich", "dedupe", "persist", "runtime". */
  abstract readonly domain: string;
  /** Stable, machine-readable code within the domain. */
  readonly code: string;
  /** True when the same operation may succeed if retried later (after backoff). */
  readonly retriable: boolean;
  /** Structured context for logs (never secrets). */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retriable = opts.retriable;
    this.context = opts.context ?? {};
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** A JSON-safe view for pino logs and IPC. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      domain: this.domain,
      code: this.code,
      retriable: this.retriable,
      message: this.message,
      context: this.context,
      cause: this.cause instanceof Error ? { name: this.cause.name, message: this.cause.message } : this.cause,
    };
  }
}

/** True when `err` is a topofleet error that a retry may fix; unknown errors are treated as fatal. */
export function isRetriable(err: unknown): boolean {
  return err instanceof TopofleetError && err.retriable;
}
