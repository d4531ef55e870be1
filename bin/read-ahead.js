// Starts reading the checkpoint (or savepoint) a `sluice run` / `sluice nexmark run` will resume
// from, before the CLI's modules load, so that the read (~0.3 s per 100 MB on some VMs) overlaps
// the start-up. Plain JavaScript: it runs before tsx is registered. The engine takes the bytes
// through prefetchCheckpoint (src/runtime/checkpoint/storage.ts), which checks that the file is
// unchanged and reads it itself otherwise.
import { close, openSync, read, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

export const READ_AHEAD = Symbol.for('sluice.checkpoint-read-ahead')

/** The value of `--flag v` or `--flag=v` in argv, if present. */
function flag(argv, name) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1]
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1)
  }
  return undefined
}

/**
 * Reads a file with as few thread-pool requests as it takes (one, for a regular file): readFile
 * reads 512 KiB at a time, each next read waiting for the main thread, which is busy loading
 * modules just then.
 */
function readWhole(path, size) {
  return new Promise((resolve, reject) => {
    const fd = openSync(path, 'r')
    const buf = Buffer.allocUnsafeSlow(size)
    const done = (e, value) => close(fd, () => (e ? reject(e) : resolve(value)))
    const step = (off) => read(fd, buf, off, size - off, off, (e, n) => {
      if (e) return done(e)
      if (n === 0 || off + n >= size) return done(null, off + n === size ? buf : buf.subarray(0, off + n))
      step(off + n)
    })
    if (size === 0) done(null, buf)
    else step(0)
  })
}

export function readAhead(argv) {
  try {
    const dir = flag(argv, '--checkpoint-dir')
    if (dir === undefined) return
    let path = flag(argv, '--from-savepoint')
    if (path === undefined) {
      const ids = readdirSync(dir).map((n) => /^checkpoint-(\d+)\.sluice$/.exec(n)).filter((m) => m !== null).map((m) => Number(m[1]))
      if (ids.length === 0) return
      path = join(dir, `checkpoint-${Math.max(...ids)}.sluice`)
    }
    const before = statSync(path)
    const bytes = readWhole(path, before.size)
    bytes.catch(() => {})
    globalThis[READ_AHEAD] = { path, size: before.size, mtimeMs: before.mtimeMs, bytes }
  } catch {
    // Nothing to read ahead; the engine reads (and reports) what it needs.
  }
}
