/**
 * Recovery time with large keyed state (issue target: "recovery to processing ≤ 2 s with 100 MB of
 * state"), measured as an operator meets it — the job is killed with SIGKILL and the same command
 * is run again:
 *
 *   node bin/run-ts.js bench/recovery.ts [options]      (or: npm run bench -- --only none --recovery)
 *
 * 1. Build: `node bin/sluice.js run bench/fixtures/big-state-job.ts --no-server --workers 0
 *    --checkpoint-dir D --checkpoint-interval <build interval>` — 850 000 keys × a 100-character string
 *    in a keyed reduce, unbounded — until a checkpoint file of at least --min-state-mb is complete
 *    (files appear by rename, so one that exists is whole); then kill -9.
 * 2. Restart: the same command with --checkpoint-interval <interval>. Times from the spawn: the job
 *    module loaded (node + tsx + CLI start-up), the "resuming from checkpoint" line, and the first
 *    record out of the restored reduce (the job writes markers to stderr: first record, then its
 *    record count every 250 ms). Then watches it for --watch-s seconds and kills it -9.
 * 3. Reads the checkpoint files with the engine's decoder: state bytes, trigger time, source
 *    position. A checkpoint's duration is its file's mtime minus its trigger time (fsync and rename
 *    come after the mtime: a few ms). (The monitoring API is not used: it runs on the job's
 *    thread, which a checkpoint of this size blocks for seconds at a time.)
 * Prints one JSON line on stdout, progress on stderr. Temp dirs and child processes are removed
 * whatever happens (normal end, error, Ctrl-C, SIGTERM).
 *
 * The build defaults to a 5 s interval so that the whole state is in the first checkpoint: at 1 s
 * the first checkpoint is taken before all keys exist, and as checkpoints of this size take longer
 * than the interval they then run back to back with ~one batch between two, so the state never
 * grows (--build-interval 1s shows it: reported as "stalled"). The restart uses 1 s.
 *
 * Where the time of one such checkpoint and restore goes, phase by phase, in one process:
 * bench/recovery-breakdown.ts.
 *
 * Options:
 *   --keys N             distinct keys (default 850 000: ~104 MB of encoded state)
 *   --value-bytes B      characters of the string kept per key (default 100)
 *   --min-state-mb M     size of checkpoint file to wait for before the kill, MiB (default 95)
 *   --build-interval D   checkpoint interval while building (default 5s)
 *   --interval D         checkpoint interval of the restarted job (default 1s)
 *   --watch-s S          seconds to watch the restarted job after its first record (default 20)
 *   --build-timeout-s S  give up building after S seconds (default 120)
 *   --keep               keep the temp dir (checkpoint files) and print its path
 *   --profile DIR        CPU-profile the restarted job into DIR (stopped with SIGINT, not -9)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeCheckpoint } from '../src/runtime/checkpoint/storage.ts'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const opt = (f: string, dflt: string): string => {
  const i = args.indexOf(f)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt
}
const KEYS = Number(opt('--keys', '850000'))
const VALUE_BYTES = Number(opt('--value-bytes', '100'))
const MIN_STATE = Number(opt('--min-state-mb', '95')) * 2 ** 20
const BUILD_INTERVAL = opt('--build-interval', '5s')
const INTERVAL = opt('--interval', '1s')
const WATCH_MS = Number(opt('--watch-s', '20')) * 1000
const BUILD_TIMEOUT_MS = Number(opt('--build-timeout-s', '120')) * 1000
const KEEP = args.includes('--keep')
const PROFILE_DIR = args.includes('--profile') ? opt('--profile', '.') : null
const JOB_FILE = 'bench/fixtures/big-state-job.ts'
const SOURCE_ID = 'gen'
/** Longest wait for the restarted job's markers. */
const RESTART_TIMEOUT_MS = 120_000

const log = (s: string): void => {
  process.stderr.write(`recovery: ${s}\n`)
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const MB = (b: number): string => `${(b / 1e6).toFixed(1)} MB`
const secs = (ms: number | null): string => (ms === null ? '?' : `${(ms / 1000).toFixed(2)} s`)

// ---- clean-up, whatever happens ------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'sluice-recovery-'))
const chkDir = join(dir, 'checkpoints')
const children = new Set<ChildProcess>()

function killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}
function removeDir(): void {
  if (!KEEP) rmSync(dir, { recursive: true, force: true })
}
/** Waits (synchronously, up to 2 s) until killed children are dead (zombies count as dead). */
function waitGoneSync(): void {
  const pause = new Int32Array(new SharedArrayBuffer(4))
  const until = Date.now() + 2000
  for (const c of children) {
    while (Date.now() < until) {
      let state: string
      try {
        state = readFileSync(`/proc/${c.pid}/stat`, 'utf8').replace(/^.*\) /, '')[0]
      } catch {
        break // gone, or no /proc
      }
      if (state === 'Z' || state === 'X') break
      Atomics.wait(pause, 0, 0, 10)
    }
  }
}
process.on('exit', () => {
  killAll()
  waitGoneSync()
  removeDir()
})
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    log(`${sig}: killing the job and removing ${dir}`)
    process.exit(sig === 'SIGINT' ? 130 : 143)
  })
}

// ---- one run of the job ------------------------------------------------------------------------------

interface Line { at: number; text: string }

class JobProcess {
  readonly child: ChildProcess
  readonly spawnedAt: number
  readonly lines: Line[] = []
  readonly exited: Promise<void>
  private waiters: { re: RegExp; resolve: (l: Line) => void }[] = []
  /** Peak RSS (VmHWM from /proc), MB: sampled while polling and just before the kill. */
  peakRssMB = 0
  /** The checkpoint this run resumed from (0: none). */
  restoredFrom = 0

  constructor(interval: string, private readonly profileDir: string | null = null) {
    const prof = profileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]
    this.spawnedAt = Date.now()
    this.child = spawn(process.execPath, [...prof, 'bin/sluice.js', 'run', JOB_FILE, '--no-server', '--workers', '0', '--checkpoint-dir', chkDir, '--checkpoint-interval', interval], {
      cwd: root,
      env: { ...process.env, BIG_STATE_KEYS: String(KEYS), BIG_STATE_VALUE_BYTES: String(VALUE_BYTES) },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    children.add(this.child)
    this.exited = new Promise((resolve) => {
      this.child.on('exit', () => {
        children.delete(this.child)
        resolve()
      })
    })
    let buf = ''
    this.child.stderr?.setEncoding('utf8')
    this.child.stderr?.on('data', (chunk: string) => {
      const at = Date.now()
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const l = { at, text: buf.slice(0, nl) }
        buf = buf.slice(nl + 1)
        this.lines.push(l)
        const r = /resuming from checkpoint (\d+)/.exec(l.text)
        if (r !== null) this.restoredFrom = Number(r[1])
        this.waiters = this.waiters.filter((w) => {
          if (!w.re.test(l.text)) return true
          w.resolve(l)
          return false
        })
      }
    })
  }

  /** The first stderr line matching `re` (one already received counts); rejects on timeout or exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<Line> {
    const seen = this.lines.find((l) => re.test(l.text))
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs / 1000} s; stderr:\n${this.tail()}`)), timeoutMs)
      void this.exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`the job exited before a line matching ${re}; stderr:\n${this.tail()}`))
      })
      this.waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(timer)
          resolve(l)
        },
      })
    })
  }

  /** The epoch ms of the job's `bench-marker <name> <ms>` line (the job's own clock reading). */
  marker(name: string): number {
    const l = this.lines.find((x) => x.text.startsWith(`bench-marker ${name} `))
    if (l === undefined) throw new Error(`no ${name} marker`)
    return Number(l.text.split(' ')[2])
  }

  tail(): string {
    return this.lines.slice(-20).map((l) => `  ${l.text}`).join('\n')
  }

  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  sampleRss(): void {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))
      if (m !== null) this.peakRssMB = Math.max(this.peakRssMB, Math.round(Number(m[1]) / 1024))
    } catch {
      // not Linux, or the process is gone
    }
  }

  /**
   * kill -9. A profiled run gets SIGINT instead (the CLI stops the job and node writes the
   * profile; the checkpoint in progress finishes first), and SIGKILL if still there 60 s later.
   */
  async kill(): Promise<void> {
    this.sampleRss()
    if (!this.running()) return
    if (this.profileDir === null) {
      this.child.kill('SIGKILL')
      return this.exited
    }
    this.child.kill('SIGINT')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000)
    await this.exited
    clearTimeout(timer)
  }
}

// ---- checkpoint files ----------------------------------------------------------------------------

interface FileSeen {
  id: number
  bytes: number
  /** When this benchmark first saw the complete file, s after the spawn (polled every 50 ms). */
  seenAtS: number
}

/** Complete checkpoint files, newest first. */
function listFiles(): { id: number; bytes: number }[] {
  if (!existsSync(chkDir)) return []
  return readdirSync(chkDir).flatMap((n) => {
    const m = /^checkpoint-(\d+)\.sluice$/.exec(n)
    if (m === null) return []
    try {
      return [{ id: Number(m[1]), bytes: statSync(join(chkDir, n)).size }]
    } catch {
      return [] // renamed or pruned meanwhile
    }
  }).sort((a, b) => b.id - a.id)
}

/** Polls the checkpoint directory until `stop`; returns the complete files seen, oldest first. */
async function watchFiles(job: JobProcess, stop: (seen: FileSeen[]) => boolean, timeoutMs: number): Promise<{ seen: FileSeen[]; timedOut: boolean }> {
  const seen: FileSeen[] = []
  const t0 = Date.now()
  for (;;) {
    if (!job.running()) throw new Error(`the job exited early; stderr:\n${job.tail()}`)
    job.sampleRss()
    const at = (Date.now() - job.spawnedAt) / 1000
    for (const f of listFiles()) {
      if (f.id > job.restoredFrom && !seen.some((s) => s.id === f.id)) {
        const s = { id: f.id, bytes: f.bytes, seenAtS: at }
        seen.push(s)
        seen.sort((a, b) => a.id - b.id)
        log(`  checkpoint ${s.id}: ${MB(s.bytes)} file complete at ${at.toFixed(1)} s after the spawn`)
      }
    }
    if (stop(seen)) return { seen, timedOut: false }
    if (Date.now() - t0 >= timeoutMs) return { seen, timedOut: true }
    await sleep(50)
  }
}

interface CheckpointFacts {
  id: number
  fileBytes: number
  /** Operator state, as the coordinator counts it (sluice_checkpoint_size_bytes). */
  stateBytes: number
  triggeredAt: number
  /** File mtime − trigger time: barrier, snapshot, encoding and write (not fsync, rename). */
  durationMs: number
  /** The generator's position at the barrier: records read before this checkpoint. */
  position: number | null
}

/** Reads a checkpoint file with the engine's decoder (null if it is gone). */
function describe(id: number): CheckpointFacts | null {
  const path = join(chkDir, `checkpoint-${id}.sluice`)
  let bytes: Buffer
  let mtimeMs: number
  try {
    mtimeMs = statSync(path).mtimeMs
    bytes = readFileSync(path)
  } catch {
    return null
  }
  const c = decodeCheckpoint(bytes, path)
  let stateBytes = 0
  let position: number | null = null
  for (const t of c.tasks) {
    for (const chunks of Object.values(t.operators)) for (const b of chunks) stateBytes += b.length
    const saved = t.sources[SOURCE_ID] as { position?: { next?: unknown } } | undefined
    if (typeof saved?.position?.next === 'number') position = (position ?? 0) + saved.position.next
  }
  return {
    id,
    fileBytes: bytes.length,
    stateBytes,
    triggeredAt: c.triggeredAt,
    durationMs: Math.round(mtimeMs - c.triggeredAt),
    position,
  }
}

/** First touch of fresh memory, MB/s: a large part of a big checkpoint's cost on some VMs. */
function freshMemoryMBps(): number {
  const n = 64 * 2 ** 20
  const t0 = performance.now()
  Buffer.allocUnsafeSlow(n).fill(1)
  return Math.round(64 / ((performance.now() - t0) / 1000))
}

// ---- the benchmark ---------------------------------------------------------------------------------

async function main(): Promise<Record<string, unknown>> {
  const memMBps = freshMemoryMBps()
  log(`${KEYS.toLocaleString('en-US')} keys × ${VALUE_BYTES}-character values; checkpoints in ${chkDir}; first touch of fresh memory: ${memMBps} MB/s here`)

  // 1. Build the state, then kill -9.
  log(`build: --checkpoint-interval ${BUILD_INTERVAL}, until a checkpoint file holds ≥ ${MB(MIN_STATE)}`)
  const build = new JobProcess(BUILD_INTERVAL)
  await build.waitFor(/^bench-marker first-record /, 60_000)
  // Stalled: three checkpoints in a row below the target, each less than 1 % larger than the last.
  const stalled = (s: FileSeen[]): boolean => s.length >= 3 && s.slice(-3).every((x, i, a) => x.bytes < MIN_STATE && (i === 0 || x.bytes < a[i - 1].bytes * 1.01))
  const built = await watchFiles(build, (s) => (s.at(-1)?.bytes ?? 0) >= MIN_STATE || stalled(s), BUILD_TIMEOUT_MS)
  const killedAtS = (Date.now() - build.spawnedAt) / 1000
  await build.kill()
  const newestId = listFiles()[0]?.id
  if (newestId === undefined) throw new Error(`no checkpoint was completed within ${BUILD_TIMEOUT_MS / 1000} s; stderr:\n${build.tail()}`)
  const buildFacts = built.seen.map((s) => describe(s.id)).filter((f) => f !== null)
  const restoreFrom = describe(newestId) as CheckpointFacts
  const buildStalled = stalled(built.seen)
  log(`killed -9 at ${killedAtS.toFixed(1)} s after the spawn (peak RSS ${build.peakRssMB} MB)`)
  for (const f of buildFacts) log(`  checkpoint ${f.id}: ${MB(f.stateBytes)} of state, trigger → file written ${secs(f.durationMs)}, ${f.position?.toLocaleString('en-US')} records read before it`)
  if (buildStalled) log(`build STALLED: ${built.seen.length} checkpoints, state stuck at ${MB(restoreFrom.stateBytes)}; measuring recovery from what there is`)
  else if (built.timedOut) log(`build timed out after ${BUILD_TIMEOUT_MS / 1000} s at ${MB(restoreFrom.stateBytes)}; measuring recovery from what there is`)

  // 2. Restart and time the recovery.
  log(`restart: --checkpoint-interval ${INTERVAL}`)
  const re = new JobProcess(INTERVAL, PROFILE_DIR)
  const resumed = await re.waitFor(/resuming from checkpoint \d+/, RESTART_TIMEOUT_MS)
  await re.waitFor(/^bench-marker first-record /, RESTART_TIMEOUT_MS)
  const moduleAt = re.marker('module-loaded')
  const firstAt = re.marker('first-record')
  const timings = {
    startupS: (moduleAt - re.spawnedAt) / 1000,
    resumeLogS: (resumed.at - re.spawnedAt) / 1000,
    firstRecordS: (firstAt - re.spawnedAt) / 1000,
    restoreToProcessingS: (firstAt - moduleAt) / 1000,
  }
  const fresh = { startupS: (build.marker('module-loaded') - build.spawnedAt) / 1000, firstRecordS: (build.marker('first-record') - build.spawnedAt) / 1000 }
  log(`  after the spawn: job module loaded ${timings.startupS.toFixed(2)} s, "resuming from checkpoint ${re.restoredFrom}" ${timings.resumeLogS.toFixed(2)} s, first record ${timings.firstRecordS.toFixed(2)} s`)
  log(`  restore to processing: ${timings.restoreToProcessingS.toFixed(2)} s from the module loaded, ${timings.firstRecordS.toFixed(2)} s from the spawn (a fresh start without state: first record ${fresh.firstRecordS.toFixed(2)} s from the spawn)`)

  // 3. Watch the restarted job: does it keep processing, and what do its checkpoints cost?
  const watchStart = Date.now()
  const watched = await watchFiles(re, () => Date.now() - watchStart >= WATCH_MS, WATCH_MS + 60_000)
  const watchedS = (Date.now() - firstAt) / 1000
  await re.kill()
  const afterFacts = watched.seen.map((s) => describe(s.id)).filter((f) => f !== null)
  for (const f of afterFacts) log(`  checkpoint ${f.id}: triggered ${((f.triggeredAt - firstAt) / 1000).toFixed(2)} s after the first record, ${MB(f.stateBytes)}, trigger → file written ${secs(f.durationMs)}, ${((f.position ?? 0) - (restoreFrom.position ?? 0)).toLocaleString('en-US')} records read since the restore`)
  // Progress markers: records out of the reduce since the restart, and when.
  const progress = re.lines.flatMap((l) => {
    const m = /^bench-marker progress (\d+) (\d+)/.exec(l.text)
    return m === null ? [] : [{ records: Number(m[1]), atS: (Number(m[2]) - firstAt) / 1000 }]
  })
  const p = progress.at(-1)
  // When the job got going again: the first progress marker after which records flow at >= 100 K/s.
  const flowing = progress.find((x, i) => i + 1 < progress.length && (progress[i + 1].records - x.records) / Math.max(0.001, progress[i + 1].atS - x.atS) >= 100_000) ?? null
  log(`  after the restore: ≥ ${(p?.records ?? 0).toLocaleString('en-US')} records processed in ${watchedS.toFixed(1)} s after the first record; ${afterFacts.length} checkpoints; ${flowing === null ? 'never flowing at ≥ 100 K records/s' : `flowing at ≥ 100 K records/s from ${flowing.atS.toFixed(1)} s after the first record`}; peak RSS ${re.peakRssMB} MB`)

  const enough = restoreFrom.stateBytes >= MIN_STATE
  return {
    case: 'recovery',
    keys: KEYS,
    valueBytes: VALUE_BYTES,
    buildInterval: BUILD_INTERVAL,
    interval: INTERVAL,
    freshMemoryMBps: memMBps,
    build: { checkpoints: buildFacts, stalled: buildStalled, timedOut: built.timedOut, peakRssMB: build.peakRssMB },
    restoredFrom: restoreFrom,
    resumedFrom: re.restoredFrom,
    stateBytes: restoreFrom.stateBytes,
    checkpointFileBytes: restoreFrom.fileBytes,
    checkpointDurationMs: restoreFrom.durationMs,
    fresh,
    ...timings,
    targetS: 2,
    targetMet: enough && timings.restoreToProcessingS <= 2,
    targetMetIncludingStartup: enough && timings.firstRecordS <= 2,
    afterRestore: { watchedS, records: p?.records ?? 0, recordsPerSecond: (p?.records ?? 0) / watchedS, flowingAfterS: flowing?.atS ?? null, checkpoints: afterFacts, peakRssMB: re.peakRssMB },
    perSecond: (p?.records ?? 0) / watchedS,
    maxRssMB: Math.max(build.peakRssMB, re.peakRssMB),
  }
}

let exitCode = 0
try {
  const r = await main()
  process.stdout.write(`${JSON.stringify(r)}\n`)
} catch (e) {
  exitCode = 1
  log(`FAILED: ${e instanceof Error ? e.message : String(e)}`)
  process.stdout.write(`${JSON.stringify({ case: 'recovery', error: e instanceof Error ? e.message.split('\n')[0] : String(e), perSecond: 0, maxRssMB: 0 })}\n`)
} finally {
  killAll()
  // The children must be gone before their directory is removed.
  for (const c of [...children]) await new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)))
  if (KEEP) log(`kept ${dir}`)
  removeDir()
}
process.exitCode = exitCode
