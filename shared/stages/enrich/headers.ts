/**
 * Kafka headers in the enrich thread: each record's headers arrive as its raw wire block (PackedHeaders, a
 * view of the batch's shared buffer, see packRecords), and are decoded here, so the main thread neither
 * decodes nor re-packs them. One latin1 decode of the slice's whole buffer plus a substring per name and value
 * replaces a TextDecoder call per header (~0.01 µs against ~0.07 µs) for ASCII text, the normal case for
 * CloudEvents headers; other text is decoded as UTF-8.
 */
import { walkWireHeaders } from "../../kafka/wire-headers.ts";
import type { PackedHeaders } from "./protocol.ts";

/** One record's headers as text: the value is null for a null header, undefined when it is not valid UTF-8. */
export type TextHeaders = Array<[name: string, value: string | null | undefined]>;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/** True when b[from, to) holds only ASCII bytes. */
function asciiRange(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] >= 0x80) return false;
  return true;
}

/**
 * Decodes the headers of a slice into text headers per record (null for a record without headers). Names
 * that are not valid UTF-8 are decoded with replacement characters; such values become undefined.
 */
export function unpackTextHeaders(p: PackedHeaders, size: number): Array<TextHeaders | null> {
  const bytes = p.bytes;
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const out: Array<TextHeaders | null> = new Array(size);
  let list: TextHeaders = [];
  const entry = (nf: number, nt: number, vf: number, vt: number): void => {
    const name = asciiRange(bytes, nf, nt) ? latin1.substring(nf, nt) : lenient.decode(bytes.subarray(nf, nt));
    let value: string | null | undefined = null;
    if (vf >= 0) {
      if (asciiRange(bytes, vf, vt)) value = latin1.substring(vf, vt);
      else {
        try {
          value = utf8.decode(bytes.subarray(vf, vt));
        } catch {
          value = undefined; // not UTF-8: decodeBinary rejects the event if this header is an attribute
        }
      }
    }
    list.push([name, value]);
  };
  for (let k = 0; k < size; k++) {
    const from = p.starts[k];
    const to = p.starts[k + 1];
    if (from === to) {
      out[k] = null;
      continue;
    }
    list = [];
    // A block that does not decode is what librdkafka's own parser refuses too: no headers.
    out[k] = walkWireHeaders(bytes, from, to, entry) > 0 ? list : null;
  }
  return out;
}
