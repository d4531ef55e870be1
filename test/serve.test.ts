/**
 * The monitoring server started from code (issue 13 item 6): `serve(pipeline, job, options)` serves
 * what `sluice run` serves, with the CLI's security defaults, and closes when the job ends.
 */
import { describe, expect, it } from 'vitest'
import { Pipeline, serve } from '../src/index.ts'
import { blackholeSink } from '../src/connectors/blackhole-sink.ts'
import { generatorSource } from '../src/connectors/generator-source.ts'

/** An unbounded job that runs until stopped. */
function endless(name: string): Pipeline {
  const p = new Pipeline(name)
  p.source('ticks', generatorSource((n) => ({ n }), { ratePerSecond: 1000 })).map('double', (t) => ({ n: t.n * 2 })).to('out', blackholeSink())
  return p
}

describe('serve', () => {
  it('serves a running job\'s metrics on port 0 at 127.0.0.1, and closes when the job ends', async () => {
    const p = endless('served-job')
    const job = p.run()
    const server = await serve(p, job, { port: 0 })
    try {
      expect(server.host).toBe('127.0.0.1')
      expect(server.port).toBeGreaterThan(0)
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/`)
      const res = await fetch(`${server.url}metrics`)
      expect(res.status).toBe(200)
      const text = await res.text()
      expect(text).toMatch(/^sluice_records_out_total\{job="served-job",operator="ticks",subtask="0"\} \d+$/m)
      const jobs = (await (await fetch(`${server.url}api/v1/jobs`)).json()) as { jobs: { id: string; status: string }[] }
      expect(jobs.jobs.map((j) => j.id)).toEqual(['served-job'])
    } finally {
      await job.stop()
    }
    await server.closed
    await expect(fetch(`${server.url}metrics`)).rejects.toThrow()
  })

  it('close() stops serving while the job runs on; the id option names the job', async () => {
    const p = endless('named')
    const job = p.run()
    const server = await serve(p, job, { port: 0, id: 'q-named' })
    const jobs = (await (await fetch(`${server.url}api/v1/jobs`)).json()) as { jobs: { id: string }[] }
    expect(jobs.jobs.map((j) => j.id)).toEqual(['q-named'])
    await server.close()
    await server.closed
    await expect(fetch(`${server.url}metrics`)).rejects.toThrow()
    expect(job.status()).toBe('running')
    await job.stop()
  })

  it('refuses another host without a token, and with one requires it on every data request', async () => {
    const p = endless('guarded')
    const job = p.run()
    try {
      const saved = process.env.SLUICE_TOKEN
      delete process.env.SLUICE_TOKEN
      try {
        await expect(serve(p, job, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'SERVER_TOKEN_REQUIRED' })
      } finally {
        if (saved !== undefined) process.env.SLUICE_TOKEN = saved
      }
      const server = await serve(p, job, { host: '127.0.0.1', port: 0, token: 's3cret-token' })
      expect((await fetch(`${server.url}metrics`)).status).toBe(401)
      expect((await fetch(`${server.url}metrics`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200)
      await server.close()
    } finally {
      await job.stop()
    }
  })
})
