/**
 * Loads librdkafka once, on first use: `RDKAFKA_LIB` when set, else the system library. Refuses versions
 * older than 2.0 (the binding needs rd_kafka_produceva, incremental rebalancing, consumer_close_queue).
 */
import { FFIType, dlopen, type CString } from "bun:ffi";
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

function defaultCandidates(): string[] {
  if (process.platform === "darwin") {
    return ["librdkafka.1.dylib", "/opt/homebrew/lib/librdkafka.1.dylib", "/usr/local/lib/librdkafka.1.dylib"];
  }
  return ["librdkafka.so.1", "librdkafka.so"];
}

let loaded: { lib: RdKafka; path: string; version: string } | null = null;

/** The librdkafka symbols, loading the library on the first call (throws KafkaError LIB_NOT_FOUND / LIB_TOO_OLD). */
export function rdkafka(): RdKafka {
  return (loaded ??= load()).lib;
}

/** Path and version string of the loaded librdkafka (loads it if needed). */
export function rdkafkaInfo(): { path: string; version: string } {
  const l = (loaded ??= load());
  return { path: l.path, version: l.version };
}

function load(): { lib: RdKafka; path: string; version: string } {
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
    return { lib, path, version: versionStr };
  }
  throw new KafkaError(
    "LIB_NOT_FOUND",
    `librdkafka could not be loaded (${fromEnv ? "RDKAFKA_LIB=" + fromEnv : "tried " + candidates.join(", ")}). ${INSTALL_HINT}`,
    { retriable: false, context: { tried: candidates, errors: failures } },
  );
}
