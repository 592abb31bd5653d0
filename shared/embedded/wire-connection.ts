/**
 * One client connection of the embedded server: frames the PostgreSQL v3 wire protocol and feeds whole
 * messages to PGlite's single backend while holding the session lock.
 *
 * Why not @electric-sql/pglite-socket's handler: its multiplexer interleaves messages of different
 * connections one by one, so connection B's Parse/Bind can land between A's Bind and Execute and A fails
 * with `portal "" does not exist` (measured: 196 of 400 concurrent postgres.js queries). Here a connection
 * keeps the session from its first message until its exchange ends (Sync or simple Query) outside a
 * transaction, so a client sees exactly what a real one-connection server would show it.
 */
import type { Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import type { SessionLock } from "./session-lock.ts";
import { guardCopyIn } from "./copy-guard.ts";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_V3 = 196608;
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'
/** ROLLBACK as a simple Query message, sent when a client vanishes inside a transaction. */
const ROLLBACK = (() => {
  const text = new TextEncoder().encode("ROLLBACK\0");
  const msg = new Uint8Array(5 + text.length);
  msg[0] = QUERY;
  new DataView(msg.buffer).setInt32(1, 4 + text.length);
  msg.set(text, 5);
  return msg;
})();

/** What the next complete piece of input is. */
type Unit =
  | { kind: "none" }
  | { kind: "startup"; bytes: Uint8Array }
  | { kind: "messages"; bytes: Uint8Array; endsExchange: boolean }
  | { kind: "terminate" };

/** Serves one socket against the shared PGlite session. */
export class WireConnection {
  private buf: Uint8Array = new Uint8Array(0);
  private started = false;
  private holdsLock = false;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: Socket,
    private readonly db: PGlite,
    private readonly lock: SessionLock,
    private readonly onGone: (c: WireConnection) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.buf = concat(this.buf, chunk);
      this.chain = this.chain.then(() => this.drain()).catch((err) => this.close(err));
    });
    socket.on("error", () => this.close());
    socket.on("close", () => this.close());
  }

  /** Closes the socket; rolls back an open transaction and frees the session if this connection held it. */
  close(err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    // A client hanging up is normal; a failure inside PGlite is not and is reported, not swallowed.
    if (err !== undefined) this.onError(err);
    this.socket.destroy();
    // Wait for the message in progress (if any) before touching the session.
    this.chain = this.chain.then(
      () => this.releaseSession(),
      () => this.releaseSession(),
    ).catch((e: unknown) => this.onError(e));
    this.onGone(this);
  }

  /** Resolves once this connection no longer holds the session. */
  settled(): Promise<void> {
    return this.chain;
  }

  private async releaseSession(): Promise<void> {
    if (!this.holdsLock) return;
    try {
      if (this.db.isInTransaction()) await this.exec(ROLLBACK, false);
    } finally {
      this.holdsLock = false;
      this.lock.release();
    }
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const unit = this.nextUnit();
      if (unit.kind === "none") return;
      if (unit.kind === "terminate") return this.close();
      if (!this.holdsLock) {
        await this.lock.acquire();
        this.holdsLock = true;
        if (this.closed) return; // close() queued the release behind us
      }
      await this.exec(unit.bytes, true);
      const exchangeOver = unit.kind === "startup" || unit.endsExchange;
      if (exchangeOver && !this.db.isInTransaction()) {
        this.holdsLock = false;
        this.lock.release();
      }
    }
  }

  private async exec(bytes: Uint8Array, forward: boolean): Promise<void> {
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(bytes, {
        // PGlite reuses its output buffer: copy before handing it to the socket.
        onRawData: (out) => {
          if (forward && !this.closed && out.length) this.socket.write(Buffer.from(out));
        },
      }),
    );
  }

  /** Takes the next complete unit off the input buffer. */
  private nextUnit(): Unit {
    const b = this.buf;
    if (!this.started) {
      if (b.length < 8) return { kind: "none" };
      const dv = new DataView(b.buffer, b.byteOffset, b.length);
      const len = dv.getInt32(0);
      const code = dv.getInt32(4);
      if (b.length < len) return { kind: "none" };
      const packet = b.slice(0, len);
      this.buf = b.subarray(len);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.socket.write("N"); // no TLS on the loopback demo server; clients then continue in clear
        return this.nextUnit();
      }
      if (code === CANCEL_REQUEST || code !== PROTOCOL_V3) return { kind: "terminate" };
      this.started = true;
      return { kind: "startup", bytes: packet };
    }
    // Collect whole messages up to the end of one exchange, so the session is released at exchange
    // boundaries; a Terminate is handled here and never reaches PGlite (it would end the one backend).
    let end = 0;
    let last = 0;
    let guarded = false;
    const messages: Uint8Array[] = [];
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    while (end + 5 <= b.length) {
      const type = b[end];
      const len = dv.getInt32(end + 1);
      if (end + 1 + len > b.length) break;
      if (type === TERMINATE) {
        if (end === 0) return { kind: "terminate" };
        break;
      }
      const msg = b.subarray(end, end + 1 + len);
      const safe = guardCopyIn(msg);
      guarded ||= safe !== msg;
      messages.push(safe);
      last = type;
      end += 1 + len;
      if (type === SYNC || type === QUERY) break;
    }
    if (end === 0) return { kind: "none" };
    const bytes = guarded ? concatAll(messages) : b.slice(0, end);
    this.buf = b.subarray(end);
    return { kind: "messages", bytes, endsExchange: last === SYNC || last === QUERY };
  }
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
