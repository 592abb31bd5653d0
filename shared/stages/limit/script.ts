/**
 * The one Redis script of the limit stage: for every tenant of a batch, decides in a single EVALSHA how many of
 * its events pass now, how many are admitted later (delay), and how many are over the rate or the quota.
 *
 * Rate: GCRA (generic cell rate algorithm). Per tenant one key holds its theoretical arrival time (TAT, epoch ms);
 * an event conforms when TAT - tau <= now, and admitting it moves TAT by T = per / rate. tau = (burst - 1) * T is
 * the burst tolerance. Events admitted later (delay) move TAT too, so the tenant's slots in the future are reserved
 * fleet-wide: a held event needs no second call, it waits for its slot. Quota: a counter per tenant and
 * epoch-aligned window, incremented by the events admitted. Both keys expire by themselves.
 * The clock is Redis's (TIME), so workers with skewed clocks share one timeline.
 */
import type Redis from "ioredis";

/** The Lua source (ARGV: prefix, now or -1, then 7 values per tenant; see TenantRequest). */
export const LIMIT_SCRIPT = `
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local out = {}
local i = 3
while i <= #ARGV do
  local tenant = ARGV[i]
  local count = tonumber(ARGV[i + 1])
  local T = tonumber(ARGV[i + 2])
  local tau = tonumber(ARGV[i + 3])
  local quota = tonumber(ARGV[i + 4])
  local qwin = tonumber(ARGV[i + 5])
  local maxWait = tonumber(ARGV[i + 6])
  i = i + 7
  local allowed = count
  local qkey = nil
  if quota >= 0 then
    qkey = prefix .. ':q:' .. tenant .. ':' .. math.floor(now / qwin)
    local used = tonumber(redis.call('GET', qkey) or '0')
    allowed = math.max(0, math.min(count, quota - used))
  end
  local rkey = prefix .. ':r:' .. tenant
  local tat = tonumber(redis.call('GET', rkey) or '0')
  if tat < now then tat = now end
  local nowN = 0
  if tat - tau <= now then nowN = math.min(allowed, math.floor((now + tau - tat) / T) + 1) end
  local delayed = 0
  local firstWait = 0
  if maxWait >= 0 and nowN < allowed then
    firstWait = tat + nowN * T - tau - now
    if firstWait <= maxWait then delayed = math.min(allowed - nowN, math.floor((maxWait - firstWait) / T) + 1) end
  end
  local admitted = nowN + delayed
  if admitted > 0 then
    local newTat = tat + admitted * T
    redis.call('SET', rkey, string.format('%.3f', newTat), 'PX', math.ceil(newTat - now + tau) + 1000)
    if qkey then
      redis.call('INCRBY', qkey, admitted)
      redis.call('PEXPIRE', qkey, qwin + 60000)
    end
  end
  out[#out + 1] = nowN
  out[#out + 1] = delayed
  out[#out + 1] = string.format('%.3f', firstWait)
  out[#out + 1] = allowed - admitted
  out[#out + 1] = count - allowed
end
return out
`;

/** One tenant's share of a batch and its limit, as the script takes them. */
export interface TenantRequest {
  tenant: string;
  count: number;
  /** Milliseconds per event (per / rate). */
  intervalMs: number;
  /** Burst tolerance in ms ((burst - 1) * intervalMs). */
  toleranceMs: number;
  /** null: no quota. */
  quota: number | null;
  quotaWindowMs: number;
  /** Longest wait an event may be admitted with (delay policy); -1: admit now or never. */
  maxWaitMs: number;
}

/** The script's verdict for one tenant: its events in record order are `now`, then `delayed`, then over rate, then over quota. */
export interface TenantVerdict {
  now: number;
  delayed: number;
  /** Wait of the first delayed event (ms); the k-th waits firstWaitMs + k * intervalMs. */
  firstWaitMs: number;
  overRate: number;
  overQuota: number;
}

const SCRIPT_NAME = "topofleetLimit";

/** Registers the script on the connection (ioredis sends EVALSHA and falls back to EVAL after a restart). */
export function defineLimitScript(redis: Redis): void {
  redis.defineCommand(SCRIPT_NAME, { numberOfKeys: 0, lua: LIMIT_SCRIPT });
}

/** Decides a batch's tenants in one call; `nowMs` overrides Redis's clock (tests), -1 uses it. */
export async function runLimitScript(redis: Redis, prefix: string, tenants: readonly TenantRequest[], nowMs = -1): Promise<TenantVerdict[]> {
  const args: Array<string | number> = [prefix, nowMs];
  for (const t of tenants) args.push(t.tenant, t.count, t.intervalMs, t.toleranceMs, t.quota ?? -1, t.quotaWindowMs, t.maxWaitMs);
  const call = (redis as unknown as Record<string, (...a: Array<string | number>) => Promise<Array<number | string>>>)[SCRIPT_NAME];
  const reply = await call.apply(redis, args);
  const out: TenantVerdict[] = [];
  for (let j = 0; j < tenants.length; j++) {
    const r = reply.slice(j * 5, j * 5 + 5);
    out.push({ now: Number(r[0]), delayed: Number(r[1]), firstWaitMs: Number(r[2]), overRate: Number(r[3]), overQuota: Number(r[4]) });
  }
  return out;
}
