/**
 * The libc calls the binding needs, loaded lazily like librdkafka: pipe2 and close for the wake-up pipe, and
 * memcpy to copy consumed bytes straight out of librdkafka's memory. On macOS, which has no pipe2, plain
 * pipe() is used: librdkafka only writes one byte per empty-to-non-empty queue transition and we read
 * continuously, so a blocking write end can never fill up.
 */
import { dlopen, FFIType } from "bun:ffi";
import { KafkaError } from "../errors.ts";

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

type Libc = {
  pipe2?: (fds: Int32Array, flags: number) => number;
  pipe?: (fds: Int32Array) => number;
  close: (fd: number) => number;
  memcpy: (dst: number, src: number, n: number) => unknown;
};
const MEMCPY = { args: [FFIType.ptr, FFIType.ptr, FFIType.u64_fast], returns: FFIType.ptr } as const;

let libc: Libc | null = null;

function loadLibc(): Libc {
  if (process.platform === "darwin") {
    const l = dlopen("libc.dylib", {
      pipe: { args: [FFIType.ptr], returns: FFIType.i32 },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
      memcpy: MEMCPY,
    }).symbols;
    return { pipe: (fds) => l.pipe(fds), close: (fd) => l.close(fd), memcpy: l.memcpy as unknown as Libc["memcpy"] };
  }
  let lastErr: unknown;
  for (const name of ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      const l = dlopen(name, {
        pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
        memcpy: MEMCPY,
      }).symbols;
      return { pipe2: (fds, flags) => l.pipe2(fds, flags), close: (fd) => l.close(fd), memcpy: l.memcpy as unknown as Libc["memcpy"] };
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

/** Opens a pipe whose ends are non-blocking and close-on-exec (Linux); returns [readFd, writeFd]. */
export function openWakePipe(): [number, number] {
  libc ??= loadLibc();
  const fds = new Int32Array(2);
  const rc = libc.pipe2 ? libc.pipe2(fds, O_NONBLOCK | O_CLOEXEC) : libc.pipe!(fds);
  if (rc !== 0) throw new KafkaError("_FAIL", "pipe2() failed: cannot create the librdkafka wake-up pipe (out of file descriptors?)", { retriable: true });
  return [fds[0], fds[1]];
}

/** Closes a file descriptor we opened with openWakePipe. */
export function closeFd(fd: number): void {
  libc ??= loadLibc();
  libc.close(fd);
}

/**
 * Copies `n` bytes from the address `src` to the address `dst` (non-overlapping). The caller guarantees both
 * ranges are alive for the call: `src` in a message not yet destroyed, `dst` in a buffer it holds.
 */
export function copyMemory(dst: number, src: number, n: number): void {
  libc ??= loadLibc();
  libc.memcpy(dst, src, n);
}
