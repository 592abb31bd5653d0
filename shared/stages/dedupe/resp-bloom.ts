/**
 * The BF.* filter's script call (`EVALSHA sha numkeys key… arg… item…`) encoded straight into RESP bytes.
 *
 * Why: through ioredis every item of a chunk was a separate JS argument, measured and concatenated by
 * Command.toWritable and writeBuffered (~0.8 µs per key on the worker's main thread). Here the items are
 * written into one preallocated Buffer: ASCII keys (the usual "source\0id") byte by byte, others with
 * Buffer.write. The bytes go out on the BF.* backend's RespPipe, whose RespReader reads the replies.
 */
import { digitCount, writeDigits } from "./resp-bitfield.ts";

/** `$<bytes>\r\n<s>\r\n` of one argument. */
function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

/** How a script is called: by its SHA1 (the usual case) or with its body (after a NOSCRIPT reply). */
export interface ScriptRef {
  command: "EVALSHA" | "EVAL";
  /** The SHA1 (EVALSHA) or the Lua source (EVAL). */
  script: string;
}

/**
 * Encodes `<command> <script> <keys.length> keys… args… items[positions[from..to)]…`. Byte-identical to what
 * ioredis writes for the same arguments (tested).
 */
export function encodeScriptCall(
  ref: ScriptRef,
  keys: readonly string[],
  args: readonly string[],
  items: readonly string[],
  positions: readonly number[],
  from: number,
  to: number,
): Buffer {
  let head = `*${3 + keys.length + args.length + (to - from)}\r\n${bulk(ref.command)}${bulk(ref.script)}${bulk(String(keys.length))}`;
  for (const k of keys) head += bulk(k);
  for (const a of args) head += bulk(a);
  // Upper bound: "$", up to 10 length digits, CRLF, 3 UTF-8 bytes per UTF-16 unit, CRLF.
  let bound = Buffer.byteLength(head);
  for (let i = from; i < to; i++) bound += 15 + 3 * items[positions[i]].length;
  // A fresh buffer per command: the socket may hold it until it is flushed, so it is never reused.
  const buf = Buffer.allocUnsafe(bound);
  let p = buf.write(head, 0, "utf8");
  for (let i = from; i < to; i++) p = writeItem(buf, p, items[positions[i]]);
  return buf.subarray(0, p);
}

/** Writes one item as a bulk string at `p`; returns the position after it. */
function writeItem(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  buf[p] = 0x24; // "$"
  const digits = digitCount(n);
  const body = writeDigits(buf, p + 1, n, digits) + 2;
  let q = body;
  let i = 0;
  // ASCII, byte by byte: no native call per key.
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    buf[q++] = c;
  }
  if (i < n) {
    // Not ASCII: the byte length is larger than the length written above; write the key as UTF-8 and redo the header.
    const bytes = Buffer.byteLength(s, "utf8");
    const bodyAt = p + 1 + digitCount(bytes) + 2;
    buf.write(s, bodyAt, "utf8");
    writeDigits(buf, p + 1, bytes, digitCount(bytes));
    buf[bodyAt - 2] = 0x0d;
    buf[bodyAt - 1] = 0x0a;
    q = bodyAt + bytes;
  } else {
    buf[body - 2] = 0x0d;
    buf[body - 1] = 0x0a;
  }
  buf[q] = 0x0d;
  buf[q + 1] = 0x0a;
  return q + 2;
}
