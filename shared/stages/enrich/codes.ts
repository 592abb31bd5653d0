/**
 * Stable rejection codes of the enrich stage. They become the `topofleet-code` header of dead-lettered
 * copies, so dashboards and replay tools match on them: add new codes, never rename one.
 */
export const EnrichRejectCode = {
  /** Structured mode with a null Kafka value (a tombstone): there is no event to read. */
  NullValue: "CE_NULL_VALUE",
  /** The value is larger than `maxEventBytes`. */
  TooLarge: "CE_TOO_LARGE",
  /** The value is not UTF-8 JSON text. */
  BadJson: "CE_BAD_JSON",
  /** The value is JSON but not an object. */
  NotObject: "CE_NOT_OBJECT",
  /** A required attribute (specversion, id, source, type) is absent or null; the reason names it. */
  MissingAttribute: "CE_MISSING_ATTRIBUTE",
  /** specversion is present but not "1.0". */
  BadSpecversion: "CE_BAD_SPECVERSION",
  /** An attribute has a JSON type outside the CloudEvents type system for it (e.g. a numeric id, an object extension). */
  BadAttributeType: "CE_BAD_ATTRIBUTE_TYPE",
  /** An attribute has the right type but an invalid value (empty string, source not a URI-reference, U+0000 inside). */
  BadAttributeValue: "CE_BAD_ATTRIBUTE_VALUE",
  /** `time` is not a valid RFC 3339 timestamp (or is outside 0001..9999 UTC). */
  BadTime: "CE_BAD_TIME",
  /** An attribute name breaks the naming rule (lower-case a-z and 0-9 only). */
  BadExtensionName: "CE_BAD_EXTENSION_NAME",
  /** The data is unusable: `data` and `data_base64` together, bad base64, binary-mode JSON that does not parse, U+0000 in jsonb. */
  BadData: "CE_BAD_DATA",
  /** The event has more attributes than the stage's `maxAttributes`. */
  TooManyAttributes: "CE_TOO_MANY_ATTRIBUTES",
  /** `data` nests arrays/objects deeper than PostgreSQL's jsonb parser can take (sink-limits.ts MAX_JSON_DEPTH). */
  DataTooDeep: "CE_DATA_TOO_DEEP",
  /** `source` + `id` (or the tenant) exceed what the table's btree index can hold (sink-limits.ts). */
  KeyTooLarge: "CE_KEY_TOO_LARGE",
  /** The event time is older than the persist stage's retention: its day partition would be (or was) dropped. */
  TimeTooOld: "CE_TIME_TOO_OLD",
  /** The event time is further ahead than the persist stage makes day partitions (partitionsAheadDays + 1). */
  TimeTooFarAhead: "CE_TIME_TOO_FAR_AHEAD",
  /** A structured-mode record in an event format other than JSON (content-type application/cloudevents+<format>). */
  UnsupportedFormat: "CE_UNSUPPORTED_FORMAT",
  /** The user enrich module threw (or its batch call failed and the per-event retry threw) for this event. */
  UserModuleThrew: "USER_MODULE_THREW",
  /** The user enrich module returned null or an Error for this event. */
  UserModuleRejected: "USER_MODULE_REJECTED",
  /** An enrich thread died (e.g. process.exit or a native crash in a user module) each time it processed this event alone. */
  ThreadCrashed: "ENRICH_THREAD_CRASHED",
  /** Processing this event alone took longer than the stage's `sliceTimeout` each time (a spinning user module). */
  Timeout: "ENRICH_TIMEOUT",
} as const;
export type EnrichRejectCode = (typeof EnrichRejectCode)[keyof typeof EnrichRejectCode];

/** A per-event rejection found in a thread: the event goes to the dead-letter topic with this code and reason. */
export class EventReject {
  constructor(
    readonly code: EnrichRejectCode,
    readonly reason: string,
  ) {}
}
