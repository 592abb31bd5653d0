/**
 * A small schema DSL: descriptor objects (type, default, range, enum, description, children) that are the
 * single source of truth for the topology file. The validator (../validate.ts) walks YAML against them and
 * the JSON Schema (./json-schema.ts) is generated from them, so the two cannot drift apart.
 *
 * Each constructor also carries a phantom TypeScript type, so `Infer<typeof desc>` is the shape of the
 * validated (user-facing, not yet resolved) value.
 */

/** Phantom carrier of the validated value's TypeScript type; never set at runtime. */
export interface Typed<T> {
  readonly __type?: T;
}

/** The validated value type a descriptor produces. */
export type Infer<D> = D extends Typed<infer T> ? T : never;

interface Common {
  description: string;
  /** Absent (or null) is allowed and yields undefined. */
  optional?: boolean;
  /** Value used when the key is absent or null. For objects `{}` means "absent = every child's default". */
  default?: unknown;
  /** Where the default is computed at resolve time (e.g. from the name): shown in docs instead of a value. */
  dynamicDefault?: string;
  /** How docs show a static default too long to print (e.g. the default column mapping). */
  defaultSummary?: string;
}

/** A string, optionally an enum or a pattern. */
export interface StringDesc extends Common {
  kind: "string";
  enum?: readonly string[];
  pattern?: string;
  /** Human description of `pattern` for error messages. */
  patternHint?: string;
  minLength?: number;
  maxLength?: number;
  /** Accept YAML numbers/booleans and turn them into strings (librdkafka properties are all strings). */
  coerce?: boolean;
  /** Extra semantic check (e.g. a regex must compile); returns a problem or undefined. Not in JSON Schema. */
  check?: (value: string) => string | undefined;
}

/** An integer or a number with an optional range. */
export interface NumberDesc extends Common {
  kind: "integer" | "number";
  min?: number;
  max?: number;
  exclusiveMin?: number;
  exclusiveMax?: number;
  /** Extra meaning of special values for docs, e.g. "0 disables the HTTP server". */
  note?: string;
}

/** true / false. */
export interface BooleanDesc extends Common {
  kind: "boolean";
}

/** A duration (validated into ms) or a size (validated into bytes). */
export interface UnitDesc extends Common {
  kind: "duration" | "size";
  min?: number;
  exclusiveMin?: number;
}

/** A mapping with a closed set of keys. */
export interface ObjectDesc extends Common {
  kind: "object";
  fields: Record<string, Desc>;
  /** Keys that are known elsewhere but wrong here, with a tailored message (better than "unknown key"). */
  misplaced?: Record<string, string>;
  /** Exactly one of the keys must be given (JSON Schema: min/maxProperties 1); the text says what each means. */
  exactlyOne?: string;
}

/** A list of items of one type. */
export interface ArrayDesc extends Common {
  kind: "array";
  items: Desc;
  minItems?: number;
  uniqueItems?: boolean;
}

/** A mapping with free keys and uniformly typed values (e.g. librdkafka properties). */
export interface MapDesc extends Common {
  kind: "map";
  values: Desc;
}

/** A single-key mapping whose key picks the variant (e.g. `- enrich: {...}` in the stages list). */
export interface TaggedDesc extends Common {
  kind: "tagged";
  /** What one item is called in messages ("stage kind", "lookup kind"). */
  noun: string;
  variants: Record<string, Desc>;
}

/** A scalar or a mapping, chosen by the YAML node's type (e.g. `replicas: 3` or `replicas: {min, max}`). */
export interface EitherDesc extends Common {
  kind: "either";
  scalar: Desc;
  object: ObjectDesc;
}

/** Any YAML value (custom stage options), interpolated but not otherwise checked. */
export interface AnyDesc extends Common {
  kind: "any";
}

/** Any descriptor. */
export type Desc =
  | StringDesc
  | NumberDesc
  | BooleanDesc
  | UnitDesc
  | ObjectDesc
  | ArrayDesc
  | MapDesc
  | TaggedDesc
  | EitherDesc
  | AnyDesc;

type Opts<D> = Omit<D, "kind">;

/** A string, optionally restricted to an enum (whose members become the inferred type). */
export function str<const E extends string>(o: Opts<StringDesc> & { enum: readonly E[] }): StringDesc & Typed<E>;
export function str(o: Opts<StringDesc>): StringDesc & Typed<string>;
// The overload signatures above carry the types; this is the one implementation.
export function str(o: Opts<StringDesc>): StringDesc {
  return { kind: "string", ...o };
}

/** An integer with an optional range. */
export function int(o: Opts<NumberDesc>): NumberDesc & Typed<number> {
  return { kind: "integer", ...o };
}

/** A finite number with an optional (exclusive) range. */
export function num(o: Opts<NumberDesc>): NumberDesc & Typed<number> {
  return { kind: "number", ...o };
}

/** true / false. */
export function bool(o: Opts<BooleanDesc>): BooleanDesc & Typed<boolean> {
  return { kind: "boolean", ...o };
}

/** A duration: a number of ms or a string like `250ms`, `30s`; validated into ms. */
export function duration(o: Opts<UnitDesc>): UnitDesc & Typed<number> {
  return { kind: "duration", ...o };
}

/** A size: a number of bytes or a string like `512KiB`, `8MiB`; validated into bytes. */
export function size(o: Opts<UnitDesc>): UnitDesc & Typed<number> {
  return { kind: "size", ...o };
}

/** A mapping with a closed set of keys (`additionalProperties: false`). */
export function obj<const F extends Record<string, Desc>>(
  o: Opts<ObjectDesc> & { fields: F },
): ObjectDesc & Typed<{ [K in keyof F]: Infer<F[K]> }> {
  return { kind: "object", ...o };
}

/** A list of items of one type. */
export function arr<const I extends Desc>(o: Opts<ArrayDesc> & { items: I }): ArrayDesc & Typed<Infer<I>[]> {
  return { kind: "array", ...o };
}

/** A mapping with free keys and uniformly typed values. */
export function map<const V extends Desc>(o: Opts<MapDesc> & { values: V }): MapDesc & Typed<Record<string, Infer<V>>> {
  return { kind: "map", ...o };
}

/** A single-key mapping whose key selects the variant; validates into `{ kind, value }`. */
export function tagged<const V extends Record<string, Desc>>(
  o: Opts<TaggedDesc> & { variants: V },
): TaggedDesc & Typed<{ [K in keyof V & string]: { kind: K; value: Infer<V[K]> } }[keyof V & string]> {
  return { kind: "tagged", ...o };
}

/** A scalar or a mapping, picked by the node type. */
export function either<const S extends Desc, const O extends ObjectDesc>(
  o: Opts<EitherDesc> & { scalar: S; object: O },
): EitherDesc & Typed<Infer<S> | Infer<O>> {
  return { kind: "either", ...o };
}

/** Any YAML value. */
export function any(o: Opts<AnyDesc>): AnyDesc & Typed<unknown> {
  return { kind: "any", ...o };
}

/** Marks a descriptor optional: absent or null yields undefined. */
export function opt<D extends Desc & Typed<unknown>>(d: D): Omit<D, "__type"> & Typed<Infer<D> | undefined> {
  return { ...d, optional: true } as Omit<D, "__type"> & Typed<Infer<D> | undefined>;
}
