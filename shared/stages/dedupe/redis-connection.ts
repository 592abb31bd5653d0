/**
 * The ioredis connection of the dedupe stage and the one table that maps Redis failures to DedupeError codes.
 *
 * Options are chosen so that a command never waits for a connection: with the offline queue disabled and one
 * retry per request, a command issued while Redis is down fails at once, the stage throws a retriable
 * DEDUPE_REDIS_UNAVAILABLE and the engine pauses and retries, while ioredis keeps reconnecting in the background.
 * The URL (which may carry a password, or rediss:// for TLS) goes to ioredis as is and is never logged.
 */
import Redis, { ReplyError } from "ioredis";
import { DedupeError, TopofleetError } from "../../errors/index.ts";
import { backoffDelay, type BackoffPolicy } from "../../timing/backoff.ts";

/**
 * Background reconnects: 50 ms doubling (ioredis counts from 1, so the first wait is 100 ms) up to the
 * configured maxReconnectDelayMs. No jitter: one connection per stage, and commands fail fast meanwhile.
 */
const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 50, maxMs: Infinity, multiplier: 2, jitter: "none" };

/** Timeouts and reconnect pacing of the dedupe connection. */
export interface RedisTimeouts {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Upper bound of the background reconnect delay. */
  maxReconnectDelayMs: number;
}

/**
 * The defaults of the dedupe and limit connections. Connect 2 s: a reachable Redis answers in milliseconds, and
 * a batch must not wait long on one that is not. Command 5 s: a pipelined chunk on a busy Redis stays far below
 * it, a stuck server does not. Reconnect at most every 2 s: a restarted Redis is picked up within that.
 */
export const REDIS_TIMEOUTS: RedisTimeouts = { connectTimeoutMs: 2_000, commandTimeoutMs: 5_000, maxReconnectDelayMs: 2_000 };

/** Minimum gap between two "Redis is down, passing events through" warnings of a stage: one per scrape, not per batch. */
export const PASSTHROUGH_WARN_INTERVAL_MS = 5_000;

/**
 * The last connection-level error of each client. ioredis reports a refused AUTH or a failed TLS handshake
 * only on its "error" event and then fails commands with a bland "Connection is closed"; remembering the
 * cause lets redisError tell a misconfiguration (fatal) from an outage (retriable).
 */
const lastConnectionError = new WeakMap<Redis, Error>();
// AUTH refused (ACL or requirepass), or a TLS peer that cannot be trusted: retrying cannot fix either.
const AUTH_OR_TLS = /WRONGPASS|NOAUTH|invalid (username-)?password|AUTH failed|NOPERM|certificate|self[- ]signed|UNABLE_TO_VERIFY|CERT_|ERR_TLS|SSL routines|wrong version number/i;

/** Opens a fail-fast ioredis client (not yet connected: call `connectRedis`). */
export function createRedis(url: string, t: RedisTimeouts, onError: (err: Error) => void): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false, // the engine retries the whole batch; never replay half of one
    connectTimeout: t.connectTimeoutMs,
    commandTimeout: t.commandTimeoutMs,
    retryStrategy: (times) => backoffDelay(times, { ...RECONNECT_BACKOFF, maxMs: t.maxReconnectDelayMs }),
  });
  // Without a listener ioredis prints every reconnect failure as an "Unhandled error event".
  redis.on("error", (err: Error) => {
    lastConnectionError.set(redis, err);
    onError(err);
  });
  redis.on("ready", () => lastConnectionError.delete(redis));
  return redis;
}

/** Connects (first attempt); on failure ioredis keeps retrying in the background. Throws a DedupeError. */
export async function connectRedis(redis: Redis): Promise<void> {
  if (redis.status === "ready") return;
  if (redis.status === "wait") {
    try {
      await redis.connect();
      return;
    } catch (err) {
      throw redisError(err, "connect", redis);
    }
  }
  // Already connecting or reconnecting: a ping tells whether it is usable now.
  try {
    await redis.ping();
  } catch (err) {
    throw redisError(err, "ping", redis);
  }
}

// Error replies that mean "this server cannot serve now, but may soon" (loading, failover, OOM, script busy).
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|OOM|NOREPLICAS)\b/;

/** True for error replies of a server state that may pass (loading, failover, OOM, busy script). */
export function isTransientReply(message: string): boolean {
  return TRANSIENT_REPLY.test(message);
}

/**
 * Maps anything a Redis call threw to a DedupeError. Error replies are DEDUPE_REDIS_COMMAND (retriable only for
 * transient server states); everything else (refused, reset, timeout, "Connection is closed", offline) is
 * DEDUPE_REDIS_UNAVAILABLE, retriable — unless the connection was refused for its credentials or TLS
 * certificate (see lastConnectionError), which is DEDUPE_REDIS_AUTH and fatal. DedupeErrors pass through.
 */
export function redisError(err: unknown, op: string, redis?: Redis): DedupeError {
  if (err instanceof DedupeError) return err;
  const cause = redis ? lastConnectionError.get(redis) : undefined;
  const own = err instanceof Error ? err.message : String(err);
  if (AUTH_OR_TLS.test(own) || (cause && AUTH_OR_TLS.test(cause.message))) {
    const reason = AUTH_OR_TLS.test(own) ? own : cause!.message;
    return new DedupeError("DEDUPE_REDIS_AUTH", `redis refused the connection during ${op}: ${reason} (check the password in the dedupe redis url, or the TLS trust: NODE_EXTRA_CA_CERTS)`, {
      retriable: false,
      cause: err,
      context: { op },
    });
  }
  if (err instanceof TopofleetError) {
    return new DedupeError("DEDUPE_REDIS_COMMAND", `redis ${op}: ${err.message}`, { retriable: err.retriable, cause: err, context: { op } });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ReplyError) {
    const retriable = isTransientReply(message);
    return new DedupeError("DEDUPE_REDIS_COMMAND", `redis ${op} failed: ${message}`, { retriable, cause: err, context: { op } });
  }
  return new DedupeError("DEDUPE_REDIS_UNAVAILABLE", `redis unavailable during ${op}: ${message}`, {
    retriable: true,
    cause: err,
    context: { op },
  });
}

/** True when the server has the RedisBloom commands this stage uses (Redis 8, Redis Stack, the module). */
export async function hasBloomCommands(redis: Redis): Promise<boolean> {
  try {
    // COMMAND INFO answers [null] for unknown commands and never has side effects.
    const info = (await redis.call("COMMAND", "INFO", "BF.INSERT", "BF.MEXISTS", "BF.INFO")) as unknown[];
    return Array.isArray(info) && info.length === 3 && info.every((c) => Array.isArray(c));
  } catch (err) {
    throw redisError(err, "COMMAND INFO", redis);
  }
}

/** Closes the connection: QUIT when it is up (flushes replies), a hard disconnect otherwise. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === "ready") {
    try {
      await redis.quit();
      return;
    } catch {
      // QUIT failing means the connection is already gone; disconnect below releases the socket and timers.
    }
  }
  redis.disconnect(false);
}
