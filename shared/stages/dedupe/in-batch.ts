/**
 * Exact duplicates inside one batch, removed before the filter is asked: the filter would answer "maybe seen"
 * for the second copy only after the first one set its bits, and both would race to PostgreSQL.
 */
import { EventStatus, type Batch } from "../batch.ts";

/**
 * Marks every Live event whose dedupe key already occurred earlier in the batch (among Live events) as a
 * duplicate, and returns the indexes of the first occurrences, in record order. Events with an empty key
 * (no identity) are left Live and are not returned: nothing can be said about them.
 */
export function dropInBatchDuplicates(batch: Batch, keys: readonly string[]): { firsts: number[]; duplicates: number } {
  const seen = new Set<string>();
  const firsts: number[] = [];
  let duplicates = 0;
  const status = batch.status;
  for (let i = 0; i < status.length; i++) {
    if (status[i] !== EventStatus.Live) continue;
    const key = keys[i];
    if (!key) continue;
    if (seen.has(key)) {
      batch.markDuplicate(i);
      duplicates++;
    } else {
      seen.add(key);
      firsts.push(i);
    }
  }
  return { firsts, duplicates };
}
