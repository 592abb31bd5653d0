/**
 * The contract of a user enrich module (`enrich.module` in the topology file). The module runs inside the
 * enrich threads, after validation and the lookups, and before the row is built.
 *
 * It exports at least one of:
 *
 *   export default async function enrich(events: CloudEvent[], ctx: EnrichModuleContext): EnrichResult[] | Promise<EnrichResult[]>
 *   export async function enrichEvent(event: CloudEvent, ctx: EnrichModuleContext): EnrichResult | Promise<EnrichResult>
 *
 * Both may be sync or async. Each result says what happens to the event at the same position:
 *   - a CloudEvent (the same object, mutated, or a new one): the event continues; it is validated again, so an
 *     attribute the module broke dead-letters the event with the usual CE_* code;
 *   - `null`: the module rejects the event: dead-lettered with USER_MODULE_REJECTED;
 *   - an `Error` instance: the module rejects the event with a reason: USER_MODULE_REJECTED, reason = its message;
 *   - anything else: dead-lettered with USER_MODULE_THREW (a contract violation for that event only).
 *
 * Exceptions are attributed to events, never to the batch: when the batch function throws, rejects, or returns
 * something that is not an array of the same length, topofleet calls the module again once per event
 * (`enrichEvent(event)` when exported, else `enrich([event])`); an event whose own call throws is dead-lettered
 * with USER_MODULE_THREW and the thrown message, and the other events continue with their own results. The module
 * must therefore be safe to call twice for the same event (true for any module that only transforms its input).
 *
 * When only `enrichEvent` is exported it is called once per event, concurrently for async functions.
 * Module top-level code runs once per thread (use it to build caches); threads share no memory with each other.
 */

/** A value a lookup table can hold (CloudEvents attribute types that JSON carries). */
export type LookupValue = string | number | boolean;

/**
 * One CloudEvent in the JSON event format's shape (structured mode). Binary-mode events arrive in the same
 * shape: `ce_*` headers become attributes, `content-type` becomes `datacontenttype`, JSON data is parsed into
 * `data`, other data is base64 in `data_base64`.
 */
export interface CloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  data?: unknown;
  data_base64?: string;
  /** Extension attributes: names of lower-case a-z and 0-9, values string, boolean or 32-bit integer. */
  [extension: string]: unknown;
}

/** Kafka coordinates of one event, parallel to the events of a call. */
export interface EventRecordMeta {
  topic: string;
  partition: number;
  offset: number;
  /** Kafka timestamp in epoch ms, -1 when absent. */
  timestamp: number;
}

/** What the module gets with each call. */
export interface EnrichModuleContext {
  /** Name of the enrich stage. */
  stage: string;
  /** 0-based worker index in the fleet. */
  workerId: number;
  /** Thread id inside the worker process. */
  threadId: number;
  /** Kafka coordinates of the events of this call, same order. */
  records: readonly EventRecordMeta[];
  /** Reads a configured lookup table (`lookups[].name`); undefined when the table or key is absent. */
  lookup(table: string, key: string): LookupValue | undefined;
}

/** What the module returns for one event. */
export type EnrichResult = CloudEvent | null | Error;

/** The batch form (default export). */
export type EnrichBatchFunction = (events: CloudEvent[], ctx: EnrichModuleContext) => EnrichResult[] | Promise<EnrichResult[]>;

/** The per-event form (`enrichEvent` export). */
export type EnrichEventFunction = (event: CloudEvent, ctx: EnrichModuleContext) => EnrichResult | Promise<EnrichResult>;
