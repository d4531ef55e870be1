/**
 * The loopback HTTP service of the async benchmark: a server in a child process
 * (bench/async-http-server.ts) and a client call over keep-alive connections, at most
 * `concurrency` sockets, the same `Call` the in-process service is.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Agent, request } from 'node:http'
import { createInterface } from 'node:readline'
import type { Call } from './async-service.ts'

export interface HttpService {
  call: Call
  close(): void
}

export async function startHttpService(concurrency: number): Promise<HttpService> {
  const child: ChildProcess = spawn(process.execPath, ['bin/run-ts.js', 'bench/async-http-server.ts'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the HTTP service exited (${code})`)))
    createInterface({ input: child.stdout! }).once('line', resolve)
  })
  const { port } = JSON.parse(line) as { port: number }
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const call: Call = (v) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: `/${v}`, agent }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve(Number(body)))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
  return {
    call,
    close: () => {
      agent.destroy()
      child.removeAllListeners('exit')
      child.stdin!.end()
    },
  }
}
