/**
 * Loads librdkafka once, on first use: `RDKAFKA_LIB` when set, else the build that dev/setup.sh caches
 * (librdkafka 2.15.1, for systems whose own is older), else the system library. Refuses versions older
 * than 2.0 (the binding needs rd_kafka_produceva, incremental rebalancing, consumer_close_queue).
 */
import { FFIType, dlopen, type CString } from "bun:ffi";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KafkaError } from "../errors.ts";
import { RDKAFKA_SYMBOLS } from "./symbols.ts";

/** A pointer argument: an address we hold as a number, a typed array (out-parameters, C strings), or NULL. */
export type PtrArg = number | NodeJS.TypedArray | null;

type ArgOf<T> = T extends FFIType.ptr ? PtrArg : number;
type ReturnOf<T> = T extends FFIType.ptr ? number | null : T extends FFIType.cstring ? CString : T extends FFIType.void ? void : number;
type ArgsOf<A extends readonly unknown[]> = { -readonly [I in keyof A]: ArgOf<A[I]> };
type FnOf<S> = S extends { readonly args: infer A extends readonly unknown[]; readonly returns: infer R } ? (...args: ArgsOf<A>) => ReturnOf<R> : never;

/**
 * The loaded functions, typed for how the binding uses them: pointers are plain numbers (bun:ffi's
 * branded Pointer type would force a cast at every call), 64-bit results come back as numbers.
 */
export type RdKafka = { [K in keyof typeof RDKAFKA_SYMBOLS]: FnOf<(typeof RDKAFKA_SYMBOLS)[K]> };

/** librdkafka 2.0.0 as rd_kafka_version() encodes it (0xMMmmrrxx). */
const MIN_VERSION = 0x02000000;

const INSTALL_HINT =
  "Install librdkafka 2.x: Debian/Ubuntu `apt-get install -y librdkafka1`, macOS `brew install librdkafka`, " +
  "Alpine `apk add librdkafka`; or set RDKAFKA_LIB to the full path of librdkafka.so.1 / librdkafka.dylib.";

/** The librdkafka version dev/librdkafka/build.sh builds when the system's is older. */
export const BUILT_RDKAFKA_VERSION = "2.15.1";

/** Where dev/librdkafka/build.sh leaves its build (same rule as the script: TOPOFLEET_CACHE, XDG_CACHE_HOME, ~/.cache). */
export function cachedRdkafkaPath(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.TOPOFLEET_CACHE || join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "topofleet");
  return join(cache, `librdkafka-${BUILT_RDKAFKA_VERSION}`, "librdkafka.so.1");
}

/** How the loaded library was chosen, for the start-up log and `--version`. */
export type RdkafkaSource = "RDKAFKA_LIB" | "cache" | "system";

function defaultCandidates(): string[] {
  const cached = cachedRdkafkaPath();
  if (process.platform !== "darwin" && existsSync(cached)) return [cached, "librdkafka.so.1", "librdkafka.so"];
  if (process.platform === "darwin") {
    return ["librdkafka.1.dylib", "/opt/homebrew/lib/librdkafka.1.dylib", "/usr/local/lib/librdkafka.1.dylib"];
  }
  return ["librdkafka.so.1", "librdkafka.so"];
}

type Loaded = { lib: RdKafka; path: string; version: string; source: RdkafkaSource };
let loaded: Loaded | null = null;

/** The librdkafka symbols, loading the library on the first call (throws KafkaError LIB_NOT_FOUND / LIB_TOO_OLD). */
export function rdkafka(): RdKafka {
  return (loaded ??= load()).lib;
}

/** Path, version string and origin of the loaded librdkafka (loads it if needed). */
export function rdkafkaInfo(): { path: string; version: string; source: RdkafkaSource } {
  const l = (loaded ??= load());
  return { path: l.path, version: l.version, source: l.source };
}

function load(): Loaded {
  const fromEnv = process.env.RDKAFKA_LIB;
  const candidates = fromEnv ? [fromEnv] : defaultCandidates();
  const failures: string[] = [];
  for (const path of candidates) {
    let lib: RdKafka;
    try {
      lib = dlopen(path, RDKAFKA_SYMBOLS).symbols as unknown as RdKafka;
    } catch (err) {
      failures.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const version = lib.rd_kafka_version();
    const versionStr = String(lib.rd_kafka_version_str());
    if (version < MIN_VERSION) {
      throw new KafkaError("LIB_TOO_OLD", `librdkafka ${versionStr} at ${path} is too old; topofleet needs 2.0 or newer. ${INSTALL_HINT}`, {
        retriable: false,
        context: { path, version: versionStr },
      });
    }
    const source: RdkafkaSource = fromEnv ? "RDKAFKA_LIB" : path === cachedRdkafkaPath() ? "cache" : "system";
    return { lib, path, version: versionStr, source };
  }
  throw new KafkaError(
    "LIB_NOT_FOUND",
    `librdkafka could not be loaded (${fromEnv ? "RDKAFKA_LIB=" + fromEnv : "tried " + candidates.join(", ")}). ${INSTALL_HINT}`,
    { retriable: false, context: { tried: candidates, errors: failures } },
  );
}
