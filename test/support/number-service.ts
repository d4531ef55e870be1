/**
 * A small HTTP service on loopback for the asynchronous operator's tests: `POST /one` with an id
 * answers `{ id, value: id * 7 }`, `POST /batch` with an array of ids answers the array of those,
 * each after a latency of 1-20 ms drawn from the (first) id, so answers come back out of order but
 * every result is a pure function of the input. It logs every request it receives (ids, when it
 * came and when it was answered, and the caller's `x-run` and `x-thread` headers) and counts the
 * requests in flight.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request as the service received it. */
export interface ServedRequest {
  readonly ids: readonly number[]
  /** Epoch ms when its body had arrived. */
  readonly at: number
  /** Epoch ms when the service wrote its answer (Infinity until then). */
  answeredAt: number
  /** The caller's `x-run` header (the test numbers the runs of a job), -1 without one. */
  readonly run: number
  /** The caller's `x-thread` header (a worker thread's id), -1 without one. */
  readonly thread: number
}

export const valueOf = (id: number): number => id * 7

/** 1-20 ms, from the id: deterministic, and neighbouring ids differ. */
export const latencyOf = (id: number): number => 1 + ((id * 7919) % 20)

export class NumberService {
  readonly log: ServedRequest[] = []
  inFlight = 0
  maxInFlight = 0
  private readonly server: Server
  private readonly timers = new Set<NodeJS.Timeout>()

  private constructor() {
    this.server = createServer((req, res) => this.handle(req, res))
    // Connections of a killed job close abruptly; that is not the service's failure.
    this.server.on('clientError', (_e, socket) => socket.destroy())
  }

  static async start(): Promise<NumberService> {
    const s = new NumberService()
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve))
    return s
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** Records served (a batch request counts each of its ids). */
  recordsServed(): number {
    let n = 0
    for (const r of this.log) n += r.ids.length
    return n
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (s: string) => (body += s))
    req.on('error', () => {})
    req.on('end', () => {
      const batch = req.url === '/batch'
      if (req.method !== 'POST' || (!batch && req.url !== '/one')) {
        res.writeHead(404).end('no such route')
        return
      }
      const parsed = JSON.parse(body) as number | number[]
      const ids = batch ? (parsed as number[]) : [parsed as number]
      const served: ServedRequest = { ids, at: Date.now(), answeredAt: Infinity, run: header(req, 'x-run'), thread: header(req, 'x-thread') }
      this.log.push(served)
      this.inFlight++
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.inFlight--
        served.answeredAt = Date.now()
        const answers = ids.map((id) => ({ id, value: valueOf(id) }))
        const payload = JSON.stringify(batch ? answers : answers[0])
        // A killed client's socket may be gone: the answer is dropped, as a real service's would be.
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(payload)
      }, latencyOf(ids[0]))
      this.timers.add(timer)
    })
  }
}

function header(req: IncomingMessage, name: string): number {
  const v = req.headers[name]
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : -1
}
