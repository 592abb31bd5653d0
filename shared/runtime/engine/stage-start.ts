/**
 * Starting one stage, retrying while its dependencies are down. A database, Redis or lookup source that is
 * unreachable when a worker starts is the same outage as one that happens later: waiting with backoff (the
 * worker is not ready meanwhile) is right; exiting makes the supervisor restart the worker into a crash loop
 * within seconds. Only retriable errors are retried; a configuration error fails at once.
 */
import type { Logger } from "pino";
import { isRetriable } from "../../errors/index.ts";
import type { Stage, StageContext } from "../../stages/stage.ts";
import { Backoff, type BackoffPolicy } from "../../timing/backoff.ts";
import { sleep } from "../../timing/sleep.ts";
import { RETRY_BACKOFF } from "./budgets.ts";
import { errorJson } from "./error-json.ts";

/** Thrown when the start is cancelled (a stop request arrived while a stage was waiting for its dependencies). */
export class StartCancelled extends Error {
  constructor() {
    super("start cancelled by a stop request");
  }
}

/** Starts `stage`, retrying retriable failures with backoff until it starts or `signal` aborts. */
export async function startStageWithRetry(stage: Stage, ctx: StageContext, opts: { log: Logger; signal: AbortSignal; backoff?: BackoffPolicy }): Promise<void> {
  const backoff = new Backoff(opts.backoff ?? RETRY_BACKOFF);
  for (let attempt = 0; ; attempt++) {
    if (opts.signal.aborted) throw new StartCancelled();
    try {
      await stage.start(ctx);
      if (attempt > 0) opts.log.info({ stage: stage.name, attempts: attempt + 1 }, "stage started after its dependencies came back");
      return;
    } catch (err) {
      if (!isRetriable(err) || opts.signal.aborted) throw err;
      // Release what the failed attempt opened; the next attempt starts from scratch.
      await stage.close().catch(() => undefined);
      const delayMs = backoff.next();
      opts.log.warn({ stage: stage.name, err: errorJson(err), attempt: attempt + 1, retryInMs: Math.round(delayMs) }, "stage cannot start yet: retrying (the worker is not ready meanwhile)");
      await sleep(delayMs, opts.signal);
    }
  }
}
