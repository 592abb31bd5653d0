/**
 * Stable rejection codes of the enrich stage. They become the `topofleet-error-code` header of dead-lettered
 * copies, so dashboards and replay tools match on them: add new codes, never rename one.
 */
export const EnrichRejectCode = {
  NullValue: "CE_NULL_VALUE",
  TooLarge: "CE_TOO_LARGE",
  BadJson: "CE_BAD_JSON",
  NotObject: "CE_NOT_OBJECT",
  MissingAttribute: "CE_MISSING_ATTRIBUTE",
  BadSpecversion: "CE_BAD_SPECVERSION",
  BadAttributeType: "CE_BAD_ATTRIBUTE_TYPE",
  BadAttributeValue: "CE_BAD_ATTRIBUTE_VALUE",
  BadTime: "CE_BAD_TIME",
  BadExtensionName: "CE_BAD_EXTENSION_NAME",
  BadData: "CE_BAD_DATA",
  TooManyAttributes: "CE_TOO_MANY_ATTRIBUTES",
  DataTooDeep: "CE_DATA_TOO_DEEP",
  KeyTooLarge: "CE_KEY_TOO_LARGE",
  TimeTooOld: "CE_TIME_TOO_OLD",
  TimeTooFarAhead: "CE_TIME_TOO_FAR_AHEAD",
  UnsupportedFormat: "CE_UNSUPPORTED_FORMAT",
  UserModuleThrew: "USER_MODULE_THREW",
  UserModuleRejected: "USER_MODULE_REJECTED",
  ThreadCrashed: "ENRICH_THREAD_CRASHED",
  Timeout: "ENRICH_TIMEOUT",
} as const;

/** What each code means, for whoever reads the dead letter; docs/reference/errors.md is generated from this. */
export const ENRICH_REJECT_MEANINGS: Readonly<Record<EnrichRejectCode, string>> = {
  CE_NULL_VALUE: "Structured mode with a null Kafka value (a tombstone): there is no event to read.",
  CE_TOO_LARGE: "The value is larger than `maxEventBytes`.",
  CE_BAD_JSON: "The value is not UTF-8 JSON text.",
  CE_NOT_OBJECT: "The value is JSON but not an object.",
  CE_MISSING_ATTRIBUTE: "A required attribute (`specversion`, `id`, `source`, `type`, checked in that order) is absent or null; the reason names it.",
  CE_BAD_SPECVERSION: "`specversion` is present but not `\"1.0\"`.",
  CE_BAD_ATTRIBUTE_TYPE: "An attribute has a JSON type outside the CloudEvents type system for it, e.g. a numeric `id` or an object extension.",
  CE_BAD_ATTRIBUTE_VALUE: "An attribute has the right type but an invalid value: empty string, `source` not a URI-reference, U+0000, a control character, noncharacter or lone surrogate.",
  CE_BAD_TIME: "`time` is not a valid RFC 3339 timestamp (at most 9 fraction digits), or lies outside years 0001-9999.",
  CE_BAD_EXTENSION_NAME: "An attribute name breaks the naming rule (lower-case a-z and 0-9 only).",
  CE_BAD_DATA: "The data is unusable: `data` with `data_base64`, bad base64, binary-mode JSON that does not parse, U+0000 or a lone surrogate in data, a number beyond a double.",
  CE_TOO_MANY_ATTRIBUTES: "The event has more attributes (context attributes and extensions) than the stage's `maxAttributes`.",
  CE_DATA_TOO_DEEP: "`data` nests arrays/objects deeper than 1,000 levels (PostgreSQL's jsonb parser would refuse it).",
  CE_KEY_TOO_LARGE: "`source` + `id` (over 2,670 UTF-8 bytes), or the tenant (over 2,677), exceed what the table's btree index can hold.",
  CE_TIME_TOO_OLD: "The event time is older than the persist stage's `retentionDays`: its day partition would be (or was) dropped.",
  CE_TIME_TOO_FAR_AHEAD: "The event time is further ahead than the persist stage makes day partitions (`partitionsAheadDays` + 1).",
  CE_UNSUPPORTED_FORMAT: "A structured-mode record in an event format other than JSON (`application/cloudevents+<format>`), or batch mode.",
  USER_MODULE_THREW: "The user enrich module threw for this event (or its batch call failed and the per-event retry threw); the reason carries the message.",
  USER_MODULE_REJECTED: "The user enrich module returned `null` or an `Error` for this event.",
  ENRICH_THREAD_CRASHED: "An enrich thread died (a native crash, an uncaught asynchronous error in a module) each time it processed this event, even alone.",
  ENRICH_TIMEOUT: "Processing this event alone took longer than the stage's `sliceTimeout` each time (a spinning user module).",
};
export type EnrichRejectCode = (typeof EnrichRejectCode)[keyof typeof EnrichRejectCode];

/** A per-event rejection found in a thread: the event goes to the dead-letter topic with this code and reason. */
export class EventReject {
  constructor(
    readonly code: EnrichRejectCode,
    readonly reason: string,
  ) {}
}
