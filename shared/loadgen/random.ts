/**
 * A small seeded PRNG (sfc32, seeded through splitmix32). The generator must be reproducible from a seed,
 * which Math.random is not; sfc32 is fast, passes PractRand, and 32-bit state math stays in int registers.
 */

/** A deterministic source of uniform numbers. */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** Creates an Rng from a 32-bit seed; the same seed always yields the same sequence. */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  // splitmix32 spreads a small seed (0, 1, 2, ...) over all four words of state.
  const mix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32(); // discard the first outputs, weakly mixed for tiny seeds
  return {
    next: () => u32() / 4294967296,
    int: (n: number) => Math.floor((u32() / 4294967296) * n),
  };
}

/** A random 32-bit seed from the OS, for runs that did not ask for one (it is recorded in the manifest). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * A fresh run id: base36 time plus OS randomness, alphanumeric only so `<runId>-<n>` ids parse back
 * unambiguously and are safe inside SQL patterns. Taken from the OS, not the seed, so two runs with the same
 * seed never produce colliding ids.
 */
export function newRunId(): string {
  const r = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).padStart(7, "0");
  return `r${Date.now().toString(36)}${r}`;
}
