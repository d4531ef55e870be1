/**
 * `sluice top`: a running job's operators as a live table in the terminal, from its monitoring
 * server (docs/API.md). Plain ANSI — cursor home and clear-to-end, no full-screen library — so it
 * works over SSH; colours only on a terminal without NO_COLOR. Frames come from `renderTop`
 * (top-frame.ts); this file fetches, follows the event stream and redraws.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { JobView } from '../monitoring/types.ts'
import { CLEAR_LINE_END, CLEAR_SCREEN, CLEAR_SCREEN_END, CURSOR_HOME, HIDE_CURSOR, SHOW_CURSOR, fitWidth, painter } from './ansi.ts'
import { EXIT_FAILED, EXIT_OK } from './errors.ts'
import { MonitorClient, MonitorRequestError, colorEnabled, parseServerUrl, resolveToken, unreachableMessage, type ClientFlags } from './monitor-client.ts'
import { parseOption } from './options.ts'
import { renderNotice, renderTop } from './top-frame.ts'

const ENDED: ReadonlySet<JobView['status']> = new Set(['finished', 'failed', 'stopped'])
/** The server sends a snapshot every second; this long without one, the connection is stale. */
const STALL_MS = 5000
/** Width of a non-terminal stdout (pipes, files) unless COLUMNS says otherwise. */
const PIPE_WIDTH = 120

export const TOP_HELP = `
Columns (per operator, its subtasks summed; times are the hottest subtask's):
  P        parallelism
  IN/s     records in per second
  OUT/s    records out per second
  BUSY     ms per second running its own code on its thread
  WAIT     ms per second awaiting I/O: a sink's write or a source's read in flight
  BACKP    ms per second blocked on a full output (backpressured)
  IDLE     ms per second with no input
  LOAD     the same four as a bar: █ busy, ░ waiting, ▒ backpressured, · idle
  P99      latency from the sources to this operator, p99 over the last 10 s
  WM LAG   wall clock minus the operator's watermark
  STATE    keyed state entries
Above the table, a line per broker source: its lag (records behind the end, all partitions), how
fast the lag changes (+ falling behind, - catching up), its partitions and the one farthest behind;
and a line per connector with subtasks reconnecting or failed, with its last error.
Live mode redraws in place and exits 0 when the job ends or on Ctrl-C; while the server cannot be
reached it says so and keeps retrying. Colours only on a terminal, never with NO_COLOR set.`

export interface TopOptions extends ClientFlags {
  interval?: string
  once?: boolean
}

export async function topCommand(urlArg: string | undefined, o: TopOptions): Promise<number> {
  const { url, token } = parseServerUrl(urlArg)
  const client = new MonitorClient(url, resolveToken(o.token, token))
  const intervalMs = parseOption('--interval', o.interval) ?? 1000
  const screen = new Screen(process.stdout)
  if (o.once === true) {
    try {
      const job = await client.job(o.job)
      const view = await client.json<JobView>(`api/v1/jobs/${encodeURIComponent(job.id)}`)
      process.stdout.write(`${renderTop(view, { width: screen.width(), color: screen.color }).join('\n')}\n`)
      return EXIT_OK
    } catch (e) {
      if (!(e instanceof MonitorRequestError)) throw e
      process.stderr.write(`sluice: ${e.message}\n`)
      return EXIT_FAILED
    }
  }
  return new LiveTop(client, o.job, intervalMs, screen).run()
}

/** Where frames go: a terminal (redrawn in place) or a pipe (appended, one after another). */
class Screen {
  readonly tty: boolean
  readonly color: boolean

  constructor(readonly out: NodeJS.WriteStream) {
    this.tty = out.isTTY === true
    this.color = colorEnabled(out)
  }

  width(): number {
    return this.tty ? this.out.columns : Number(process.env.COLUMNS) || PIPE_WIDTH
  }

  height(): number | undefined {
    return this.tty ? this.out.rows : undefined
  }

  draw(lines: readonly string[]): void {
    // Overwrite in place and clear what is left: no blank flash between frames. No newline
    // after the last line, so a frame as tall as the terminal does not scroll it.
    if (this.tty) this.out.write(`${CURSOR_HOME}${lines.map((l) => l + CLEAR_LINE_END).join('\n')}${CLEAR_SCREEN_END}`)
    else this.out.write(`${lines.join('\n')}\n\n`)
  }
}

/** Live mode: follows the job's event stream, redraws at most every `intervalMs`, retries while the server is away. */
class LiveTop {
  private view: JobView | null = null
  private notice: string | null
  private lastDrawAt = 0
  private pending: NodeJS.Timeout | null = null

  constructor(
    private readonly client: MonitorClient,
    private readonly jobId: string | undefined,
    private readonly intervalMs: number,
    private readonly screen: Screen,
  ) {
    this.notice = `connecting to ${client.url} …`
  }

  async run(): Promise<number> {
    const stop = new AbortController()
    const onSignal = (): void => stop.abort()
    const onResize = (): void => this.draw()
    const restoreCursor = (): void => {
      if (this.screen.tty) this.screen.out.write(SHOW_CURSOR)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    process.once('exit', restoreCursor)
    this.screen.out.on('resize', onResize)
    if (this.screen.tty) this.screen.out.write(`${HIDE_CURSOR}${CLEAR_SCREEN}`)
    try {
      this.draw()
      while (!stop.signal.aborted) {
        if (await this.follow(stop.signal)) return EXIT_OK
        await sleep(this.intervalMs, undefined, { signal: stop.signal }).catch(() => {})
      }
      return EXIT_OK
    } catch (e) {
      if (!(e instanceof MonitorRequestError)) throw e
      this.notice = e.message
      this.draw()
      return EXIT_FAILED
    } finally {
      if (this.pending !== null) clearTimeout(this.pending)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.off('exit', restoreCursor)
      this.screen.out.off('resize', onResize)
      restoreCursor()
      if (this.screen.tty) this.screen.out.write('\n')
    }
  }

  /**
   * Follows the job until it ends (true) or the connection is lost (false, with a notice).
   * Throws the server's refusals (bad token, no such job): retrying would not help.
   */
  private async follow(stop: AbortSignal): Promise<boolean> {
    const stale = new AbortController()
    const signal = AbortSignal.any([stop, stale.signal])
    const watchdog = setTimeout(() => stale.abort(), STALL_MS)
    try {
      const job = await this.client.job(this.jobId, signal)
      for await (const ev of this.client.events(job.id, signal)) {
        watchdog.refresh()
        if (ev.event === 'snapshot') {
          this.view = JSON.parse(ev.data) as JobView
          this.notice = null
          this.requestDraw()
        } else if (ev.event === 'end') {
          const { status } = JSON.parse(ev.data) as { status: JobView['status'] }
          if (this.view !== null) this.view = { ...this.view, status }
          this.draw()
          return true
        }
      }
      if (this.view !== null && ENDED.has(this.view.status)) {
        this.draw()
        return true
      }
      this.notice = `the server at ${this.client.url} closed the connection; reconnecting`
    } catch (e) {
      if (stop.aborted) return false
      if (e instanceof MonitorRequestError && !e.retryable) throw e
      this.notice = e instanceof MonitorRequestError ? e.message
        : stale.signal.aborted ? `no update from ${this.client.url} for ${STALL_MS / 1000} s; reconnecting`
        : unreachableMessage(this.client.url, `the connection broke (${e instanceof Error ? e.message : String(e)})`)
    } finally {
      clearTimeout(watchdog)
    }
    this.draw()
    return false
  }

  private requestDraw(): void {
    if (this.pending !== null) return
    const wait = Math.max(0, this.lastDrawAt + this.intervalMs - Date.now())
    this.pending = setTimeout(() => this.draw(), wait)
  }

  private draw(): void {
    if (this.pending !== null) clearTimeout(this.pending)
    this.pending = null
    this.lastDrawAt = Date.now()
    const width = this.screen.width()
    const height = this.screen.height()
    const footer = this.screen.tty ? 2 : 0
    const noticeLines = this.notice === null ? [] : renderNotice(this.notice, width, this.screen.color)
    const lines = this.view === null ? [] : renderTop(this.view, {
      width,
      color: this.screen.color,
      ...(height === undefined ? {} : { height: height - footer - (noticeLines.length > 0 ? noticeLines.length + 1 : 0) }),
    })
    if (noticeLines.length > 0) lines.push(...(lines.length > 0 ? [''] : []), ...noticeLines)
    if (this.screen.tty) lines.push('', painter(this.screen.color)('dim', fitWidth(`${this.client.url}  ·  Ctrl-C to quit`, width)))
    this.screen.draw(lines)
  }
}
