/**
 * Main-thread side of the thread protocol: cutting a batch into per-thread slices (views, see protocol.ts)
 * and merging the threads' columns back into one EnrichedEvents in record order.
 */
import { EventStatus, type EnrichedEvents, type RecordBatch } from "../batch.ts";
import { concatCopyBytes, copyFieldColumn, decodeCopyLines, type CopyBytes } from "./copy-bytes.ts";
import { STRING_COLUMNS, unpackStrings, type EnrichSliceOk, type EnrichTask, type LookupShare, type PackedHeaders, type StringColumn } from "./protocol.ts";

/** A half-open range of record indexes. */
export interface SliceRange {
  start: number;
  end: number;
}

/**
 * Below this many events per slice, the cost of a task round trip (~50-100 µs) outweighs the parallelism:
 * a batch is split only into slices at least this large.
 */
export const MIN_SLICE_EVENTS = 256;

/** Splits [0, size) into at most `threads` contiguous, near-equal slices of at least `minSlice` events. */
export function planSlices(size: number, threads: number, minSlice = MIN_SLICE_EVENTS): SliceRange[] {
  const count = Math.max(1, Math.min(threads, Math.floor(size / minSlice)));
  const ranges: SliceRange[] = [];
  for (let k = 0; k < count; k++) {
    ranges.push({ start: Math.floor((size * k) / count), end: Math.floor((size * (k + 1)) / count) });
  }
  return ranges;
}

/**
 * Builds the task for one slice, with the list of buffers to transfer (fresh copies owned by the task). The
 * record columns, values and header blocks of a packed batch are in shared memory (packRecords): the task
 * holds views of them, which reach the thread without a copy; only a batch built some other way is copied.
 */
export function sliceTask(
  records: RecordBatch,
  status: Uint8Array,
  range: SliceRange,
  ingestedAt: number,
  lookups: LookupShare | null,
  probes = true,
): { task: EnrichTask; transfer: ArrayBuffer[] } {
  const { start, end } = range;
  const size = end - start;
  const base = records.valueStarts[start];
  const valueStarts = new Uint32Array(size + 1);
  for (let i = 0; i <= size; i++) valueStarts[i] = records.valueStarts[start + i] - base;

  const hBase = records.headerStarts[start];
  const hEnd = records.headerStarts[end];
  let skip: Uint8Array | null = null;
  for (let i = start; i < end; i++) {
    if (status[i] !== EventStatus.Live) {
      skip = new Uint8Array(size);
      for (let j = 0; j < size; j++) skip[j] = status[start + j] === EventStatus.Live ? 0 : 1;
      break;
    }
  }
  const transfer: ArrayBuffer[] = [valueStarts.buffer as ArrayBuffer];
  const part = <T extends Uint8Array | Uint16Array | Int32Array | Float64Array>(column: T, from: number, to: number): T => {
    if (column.buffer instanceof SharedArrayBuffer) return column.subarray(from, to) as T;
    const copy = column.slice(from, to) as T;
    transfer.push(copy.buffer as ArrayBuffer);
    return copy;
  };
  let headers: PackedHeaders | null = null;
  if (hEnd > hBase) {
    const starts = new Uint32Array(size + 1);
    for (let i = 0; i <= size; i++) starts[i] = records.headerStarts[start + i] - hBase;
    transfer.push(starts.buffer as ArrayBuffer);
    headers = { bytes: part(records.headerBytes, hBase, hEnd), starts };
  }
  const task: EnrichTask = {
    start,
    size,
    topics: records.topics,
    topicIndex: part(records.topicIndex, start, end),
    partitions: part(records.partitions, start, end),
    offsets: part(records.offsets, start, end),
    timestamps: part(records.timestamps, start, end),
    values: part(records.values, base, records.valueStarts[end]),
    valueStarts,
    valueNull: part(records.valueNull, start, end),
    headers,
    skip,
    ingestedAt,
    lookups,
    probes,
  };
  if (skip) transfer.push(skip.buffer as ArrayBuffer);
  return { task, transfer };
}

/**
 * Defines `name` on `obj` as computed on first read (then a plain property); assigning it first replaces
 * the computation. Lets the main thread skip work for columns no later stage reads.
 */
function lazyProperty<T>(obj: object, name: string, compute: () => T): void {
  const settle = (target: object, value: T) => Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(obj, name, {
    enumerable: true,
    configurable: true,
    get() {
      const value = compute();
      settle(this, value);
      return value;
    },
    set(value: T) {
      settle(this, value);
    },
  });
}

/** A merged slice's string columns: packed, or left in its COPY lines (EnrichSliceOk.copyFields). */
interface SliceColumns {
  start: number;
  size: number;
  strings: EnrichSliceOk["strings"];
  copyFields: EnrichSliceOk["copyFields"];
}

/** String columns of the slices merged so far, per batch (unpacked on first read of a column). */
const pendingColumns = new WeakMap<EnrichedEvents, SliceColumns[]>();

/**
 * Slice `p`'s column `c` into `out` at the slice's offset: unpacked, or decoded from the COPY lines `copy`
 * (the batch's, indexed by batch record, or the slice's own with `first` 0).
 */
function fillColumn(p: SliceColumns, c: StringColumn, out: Array<string | null>, copy: CopyBytes | null, first: number): void {
  const packed = p.strings[c];
  if (packed) return unpackStrings(packed, out, p.start);
  const field = p.copyFields?.[c];
  if (field === undefined || copy === null) throw new Error(`enrich slice at ${p.start} has neither column ${c} nor COPY lines to read it from`);
  copyFieldColumn(copy, field, first, p.size, out, p.start);
}

/**
 * Allocates the columns of a batch. The string columns and copyLines are lazy: unpacked from the slices
 * (mergeSlice), or decoded from the COPY bytes (attachCopyBytes) for copyLines and for the columns the threads
 * left in the lines (COPY_FIELD_COLUMNS), when first read. The standard pipeline reads
 * only dedupeKey and tenant on the main thread (plus source, id and timeText of the few events the dedupe
 * stage verifies), so type, subject, data, extensions and copyLines (the largest) are never unpacked there.
 */
export function allocateEvents(size: number, probesPerKey: number, ingestedAt: number): EnrichedEvents {
  const events = {
    time: new Float64Array(size),
    ingestedAt: new Float64Array(size).fill(ingestedAt),
    probes: new Uint32Array(size * probesPerKey),
    probesPerKey,
  } as Partial<EnrichedEvents> as EnrichedEvents;
  const parts: SliceColumns[] = [];
  pendingColumns.set(events, parts);
  for (const c of STRING_COLUMNS) {
    lazyProperty(events, c, () => {
      const column: Array<string | null> = new Array(size);
      // The batch's COPY bytes (attachCopyBytes) are set by the time a stage reads a column.
      const copy = events.copyBytes && events.copyStarts ? { bytes: events.copyBytes, starts: events.copyStarts } : null;
      for (const p of parts) fillColumn(p, c, column, copy, p.start);
      return column;
    });
  }
  lazyProperty(events, "copyLines", () =>
    events.copyBytes && events.copyStarts ? decodeCopyLines({ bytes: events.copyBytes, starts: events.copyStarts }) : (new Array(size).fill("") as string[]),
  );
  return events;
}

/** Sets the batch's COPY and JSON bytes from the slices' (which cover [0, size) in order); each only when built. */
export function attachCopyBytes(events: EnrichedEvents, slices: ReadonlyArray<{ range: SliceRange; slice: EnrichSliceOk }>, size: number): void {
  const copy = joinRows(slices, (s) => s.copy, size);
  if (copy) {
    events.copyBytes = copy.bytes;
    events.copyStarts = copy.starts;
  }
  const json = joinRows(slices, (s) => s.json ?? null, size);
  if (json) {
    events.jsonBytes = json.bytes;
    events.jsonStarts = json.starts;
  }
}

/** One kind of encoded rows of every slice as one buffer, or null when no slice built that kind. */
function joinRows(slices: ReadonlyArray<{ range: SliceRange; slice: EnrichSliceOk }>, rows: (s: EnrichSliceOk) => CopyBytes | null, size: number): CopyBytes | null {
  if (!slices.some((r) => rows(r.slice) !== null)) return null;
  const parts = slices.map(({ range, slice }) => ({
    start: range.start,
    // A slice without lines (none of its events got one) contributes no bytes.
    copy: rows(slice) ?? { bytes: new Uint8Array(0), starts: new Uint32Array(range.end - range.start + 1) },
  }));
  return concatCopyBytes(parts, size);
}

/** Merges one slice's columns into the batch's at the slice's offset (strings: on first read, see allocateEvents). */
export function mergeSlice(events: EnrichedEvents, start: number, slice: EnrichSliceOk): void {
  const parts = pendingColumns.get(events);
  const p: SliceColumns = { start, size: slice.time.length, strings: slice.strings, copyFields: slice.copyFields };
  if (parts) parts.push(p);
  else for (const c of STRING_COLUMNS) fillColumn(p, c, events[c] as Array<string | null>, slice.copy, 0);
  events.time.set(slice.time, start);
  if (events.probesPerKey > 0) events.probes.set(slice.probes, start * events.probesPerKey);
}
