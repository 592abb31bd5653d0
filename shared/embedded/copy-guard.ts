/**
 * Keeps COPY ... FROM STDIN away from PGlite. Over the wire protocol PGlite's backend cannot read COPY
 * data and exits (`Program terminated with exit(1)`, measured with PGlite 0.5.16), which kills the
 * database for every client. The statement is swapped for one that fails inside PGlite with
 * SQLSTATE 0A000, so the client gets an ordinary error and the session's transaction state stays right
 * (an open transaction becomes aborted, as it would on a real server).
 */
const QUERY = 0x51; // 'Q'
const PARSE = 0x50; // 'P'
const COPY_FROM_STDIN = /\bcopy\b[\s\S]*?\bfrom\s+stdin\b/i;
const REFUSAL =
  "DO $topofleet$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', " +
  "MESSAGE = 'COPY FROM STDIN is not supported by embedded PostgreSQL (PGlite); use INSERT'; END $topofleet$";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Returns `msg` unchanged, or a replacement when it is a Query/Parse message carrying COPY FROM STDIN. */
export function guardCopyIn(msg: Uint8Array): Uint8Array {
  const type = msg[0];
  if (type !== QUERY && type !== PARSE) return msg;
  if (type === QUERY) {
    const text = decoder.decode(msg.subarray(5, msg.length - 1));
    return COPY_FROM_STDIN.test(text) ? buildMessage(QUERY, [encoder.encode(REFUSAL + "\0")]) : msg;
  }
  // Parse: name\0 query\0 int16 nParams int32[nParams]
  const nameEnd = msg.indexOf(0, 5);
  const queryEnd = msg.indexOf(0, nameEnd + 1);
  if (nameEnd < 0 || queryEnd < 0) return msg;
  const text = decoder.decode(msg.subarray(nameEnd + 1, queryEnd));
  if (!COPY_FROM_STDIN.test(text)) return msg;
  // Keep the statement name so the client's later Bind/Describe find it; the DO block takes no parameters.
  return buildMessage(PARSE, [msg.subarray(5, nameEnd + 1), encoder.encode(REFUSAL + "\0"), new Uint8Array(2)]);
}

function buildMessage(type: number, parts: Uint8Array[]): Uint8Array {
  const bodyLen = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(5 + bodyLen);
  out[0] = type;
  new DataView(out.buffer).setInt32(1, 4 + bodyLen);
  let at = 5;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
