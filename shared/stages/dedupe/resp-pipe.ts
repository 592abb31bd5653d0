/**
 * A dedicated, pipelined Redis connection for a Redis filter's hot path: pre-encoded commands (BITFIELD from
 * resp-bitfield.ts, the BF.* script call from resp-bloom.ts) go out as bytes, and the replies are read by
 * RespReader straight into bit arrays. Everything else (start-up checks, PING, BITCOUNT, GETRANGE, BF.INFO)
 * stays on the stage's ioredis client.
 *
 * It connects with the ioredis client's resolved options (host/port or path, TLS, username/password, db),
 * lazily on first use, and behaves like that client's fail-fast settings: a command issued while the
 * connection is down fails at once (the caller maps it to a retriable DEDUPE_REDIS_UNAVAILABLE and the engine
 * backs off), a command without a reply after `commandTimeoutMs` fails every pending command and drops the
 * connection (a late reply could not be matched any more), and the next command connects again. Nothing is
 * ever re-sent: the engine retries whole batches.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { ReplyError, type default as Redis } from "ioredis";
import { encodeCommand } from "./resp-bitfield.ts";
import { RespReader, type RespReply } from "./resp-reader.ts";

/** What the pipe takes from the ioredis client's options. */
export interface PipeTarget {
  host?: string;
  port?: number;
  path?: string | null;
  family?: number;
  tls?: ConnectionOptions | boolean;
  username?: string | null;
  password?: string | null;
  db?: number;
}

interface Pending {
  resolve(reply: RespReply): void;
  reject(err: Error): void;
  /** When the command was written (for the timeout). */
  at: number;
}

/** One RESP connection that sends pre-encoded commands in order and matches replies in order. */
export class RespPipe {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private readonly pending: Pending[] = [];
  private head = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  constructor(
    private readonly target: PipeTarget,
    private readonly timeouts: { connectTimeoutMs: number; commandTimeoutMs: number },
  ) {}

  /** A pipe to the server an ioredis client is configured for. */
  static like(redis: Redis, timeouts: { connectTimeoutMs: number; commandTimeoutMs: number }): RespPipe {
    return new RespPipe(redis.options as PipeTarget, timeouts);
  }

  /**
   * Writes one complete, encoded command and resolves with its reply (a Uint8Array of bits for an array of
   * 0s and 1s). An error reply resolves as ioredis's ReplyError (one refused command is not a broken connection);
   * a connection problem or timeout rejects with a plain Error.
   */
  async send(command: Uint8Array | string): Promise<RespReply> {
    const socket = this.socket ?? (await this.connect());
    // Dropped while this call waited for the connection: nothing would ever answer on that socket.
    if (socket !== this.socket) throw new Error("Connection is closed");
    return this.write(socket, command);
  }

  /** Sends an encoded command that must answer with an array of 0s and 1s, as bits. */
  async sendForBits(command: Uint8Array): Promise<Uint8Array> {
    const reply = await this.send(command);
    if (reply instanceof Error) throw reply;
    if (!(reply instanceof Uint8Array)) throw new Error(`redis replied ${Array.isArray(reply) ? "an array of other values" : typeof reply}, expected an array of 0s and 1s`);
    return reply;
  }

  /** Fails what is pending and closes the connection; the pipe cannot be used afterwards. */
  close(): void {
    this.closed = true;
    this.drop(new Error("Connection is closed"));
  }

  private connect(): Promise<Socket> {
    if (this.closed) return Promise.reject(new Error("Connection is closed"));
    this.connecting ??= this.open().finally(() => (this.connecting = null));
    return this.connecting;
  }

  /** Connects, authenticates and selects the database; the socket is published only once it is usable. */
  private async open(): Promise<Socket> {
    const t = this.target;
    const tls = t.tls === true ? {} : t.tls || null;
    const socket: Socket = t.path
      ? netConnect(t.path)
      : tls
        ? tlsConnect({ ...tls, host: t.host, port: t.port, servername: tls.servername ?? t.host })
        : netConnect({ host: t.host ?? "127.0.0.1", port: t.port ?? 6379, family: t.family || undefined });
    socket.setNoDelay(true);
    // Referenced only while replies are awaited (write/settle): an idle pipe never keeps a process alive.
    socket.unref();
    // Events of a socket that is no longer the current one (dropped, replaced) must not touch the new one.
    const current = () => this.socket === socket;
    const reader = new RespReader((reply) => {
      if (current()) this.settle(reply);
    });
    socket.on("data", (chunk: Uint8Array) => {
      if (!current()) return;
      try {
        reader.feed(chunk);
      } catch (err) {
        this.drop(err as Error);
      }
    });
    socket.on("error", (err) => {
      if (current()) this.drop(err);
    });
    socket.on("close", () => {
      if (current()) this.drop(new Error("Connection is closed"));
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect ETIMEDOUT (${this.timeouts.connectTimeoutMs} ms)`));
      }, this.timeouts.connectTimeoutMs);
      socket.once(tls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    if (this.closed) {
      socket.destroy();
      throw new Error("Connection is closed");
    }
    this.socket = socket;
    this.startTimer();
    // Handshake replies come through the same reader and queue as everything else.
    const handshake: Array<Promise<RespReply>> = [];
    const names: string[] = [];
    if (t.password) {
      handshake.push(this.write(socket, encodeCommand(t.username ? ["AUTH", t.username, t.password] : ["AUTH", t.password])));
      names.push("AUTH");
    }
    if (t.db) {
      handshake.push(this.write(socket, encodeCommand(["SELECT", String(t.db)])));
      names.push("SELECT");
    }
    try {
      const replies = await Promise.all(handshake);
      replies.forEach((reply, i) => {
        // Say which handshake step failed: a refused AUTH must read as a credentials problem (DEDUPE_REDIS_AUTH),
        // whatever wording the server uses ("WRONGPASS", "ERR AUTH … called without any password configured").
        if (reply instanceof Error) throw new ReplyError(`${names[i]} failed: ${reply.message}`);
      });
    } catch (err) {
      this.drop(err as Error);
      throw err;
    }
    return socket;
  }

  private write(socket: Socket, bytes: Uint8Array | string): Promise<RespReply> {
    return new Promise<RespReply>((resolve, reject) => {
      if (this.head === this.pending.length) socket.ref();
      this.pending.push({ resolve, reject, at: performance.now() });
      socket.write(bytes);
    });
  }

  private settle(reply: RespReply): void {
    if (this.head >= this.pending.length) return this.drop(new Error("redis protocol error: a reply nobody asked for"));
    const p = this.pending[this.head++];
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.head = 0;
      this.socket?.unref();
    } else if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    p.resolve(reply);
  }

  /** Fails every pending command with `err` and forgets the connection (the next send reconnects). */
  private drop(err: Error): void {
    const socket = this.socket;
    this.socket = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const waiting = this.pending.splice(this.head);
    this.pending.length = 0;
    this.head = 0;
    for (const p of waiting) p.reject(err);
    if (socket && !socket.destroyed) socket.destroy();
  }

  /** One timer for all pending commands: the oldest one decides. */
  private startTimer(): void {
    const limit = this.timeouts.commandTimeoutMs;
    // Checked at a quarter of the limit (10 ms to 1 s): a timed-out command is noticed within 25 % of it.
    this.timer = setInterval(() => {
      const oldest = this.pending[this.head];
      if (oldest && performance.now() - oldest.at > limit) this.drop(new Error(`Command timed out after ${limit} ms`));
    }, Math.max(10, Math.min(1_000, limit / 4)));
    this.timer.unref?.();
  }
}

