/**
 * BITFIELD commands encoded straight into RESP bytes.
 *
 * Why: a BITFIELD that sets k=10 bits per key has 40 arguments per key. Through ioredis's ordinary path each
 * argument becomes a JS string, is measured with Buffer.byteLength and concatenated: the client, not Redis,
 * was the bottleneck (~177k keys/s in NOTES.md). Writing the ASCII digits of each offset into one preallocated
 * Buffer costs a few nanoseconds per argument, which leaves Redis's own argument parsing as the limit.
 * The bytes are handed to ioredis as a Command whose `toWritable` returns them, so replies, timeouts and
 * connection handling stay ioredis's.
 */
import { Command } from "ioredis";

/** SET sets a bit and returns its old value; GET reads it. */
export type BitfieldOp = "SET" | "GET";

const SET_PREFIX = Buffer.from("\r\n$3\r\nSET\r\n$2\r\nu1\r\n$", "latin1");
const GET_PREFIX = Buffer.from("\r\n$3\r\nGET\r\n$2\r\nu1\r\n$", "latin1");
const SET_VALUE = Buffer.from("\r\n$1\r\n1", "latin1"); // the "1" written by SET
const CRLF = 0x0d0a;

/** Upper bound of the encoded size of one probe: prefix, 2-digit length, CRLF, 10 digits, SET value. */
const MAX_PROBE_BYTES = SET_PREFIX.length + 2 + 2 + 10 + SET_VALUE.length;

/**
 * Encodes `BITFIELD <key> (SET u1 <off> 1 | GET u1 <off>)…` for the k offsets of the keys at
 * `positions[from..to)` of a probes array (`stride` slots per key: shard, then k offsets). Byte-identical to
 * what ioredis would write for the same arguments (tested). Offsets are < 2^32 by construction.
 */
export function encodeBitfield(
  op: BitfieldOp,
  key: string,
  probes: Uint32Array,
  stride: number,
  positions: readonly number[],
  from: number,
  to: number,
): Buffer {
  const k = stride - 1;
  const ops = (to - from) * k;
  const keyLen = Buffer.byteLength(key);
  const head = `*${2 + ops * (op === "SET" ? 4 : 3)}\r\n$8\r\nBITFIELD\r\n$${keyLen}\r\n`;
  // A fresh buffer per command: the socket may hold it until it is flushed, so it is never reused.
  const buf = Buffer.allocUnsafe(head.length + keyLen + ops * MAX_PROBE_BYTES + 2);
  let p = buf.write(head, 0, "latin1");
  p += buf.write(key, p, "utf8");
  const prefix = op === "SET" ? SET_PREFIX : GET_PREFIX;
  const setOp = op === "SET";
  for (let i = from; i < to; i++) {
    const at = positions[i] * stride + 1;
    for (let j = 0; j < k; j++) {
      let v = probes[at + j];
      p += prefix.copy(buf, p);
      // Count digits first so the length header can be written before the digits, right to left.
      let digits = 1;
      for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
      if (digits === 10) {
        buf[p++] = 0x31; // "1"
        buf[p++] = 0x30; // "0"
      } else buf[p++] = 0x30 + digits;
      buf.writeUInt16BE(CRLF, p);
      p += 2;
      for (let d = p + digits - 1; d >= p; d--) {
        const q = Math.floor(v / 10);
        buf[d] = 0x30 + (v - q * 10);
        v = q;
      }
      p += digits;
      if (setOp) p += SET_VALUE.copy(buf, p);
    }
  }
  buf.writeUInt16BE(CRLF, p);
  p += 2;
  return buf.subarray(0, p);
}

/** An ioredis Command whose wire bytes were encoded in advance (see encodeBitfield). */
export class EncodedCommand extends Command {
  constructor(
    name: string,
    key: string,
    private readonly bytes: Buffer,
  ) {
    // `key` as the only argument keeps ioredis's key/slot bookkeeping meaningful; it is never re-encoded.
    super(name, [key]);
  }

  override toWritable(_socket: object): Buffer {
    return this.bytes;
  }
}
