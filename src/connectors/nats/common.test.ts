import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { requireService } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import { cleanupStreams, createStream, natsAdmin, NATS_SERVERS, seedStream } from '../../../test/support/nats.ts'
import { readSource, TestSourceContext } from '../source-contract.ts'
import { testSinkContext } from '../sink-contract.ts'
import { ConnectionTracker } from '../broker.ts'
import { connectJetStream, MESSAGE_TTL, parseVersion, unsupportedFeature } from './common.ts'
import { jetstreamSinkFromUri, jetstreamSourceFromUri } from './jetstream-uri.ts'

beforeAll(async () => requireService('nats'))

function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}
afterAll(cleanupStreams)

describe('server version gates', () => {
  it('parses server versions', () => {
    expect(parseVersion('2.9.10')).toEqual([2, 9, 10])
    expect(parseVersion('v2.11.0-RC.1')).toEqual([2, 11, 0])
    expect(parseVersion('2.10')).toEqual([2, 10, 0])
    expect(parseVersion('garbage')).toEqual([0, 0, 0])
  })

  it.each([
    ['2.9.10', false],
    ['2.10.22', false],
    ['2.11.0', true],
    ['2.11.0-beta.2', true],
    ['3.0.0', true],
  ])('per-message TTL on %s: allowed %s', (version, allowed) => {
    const e = unsupportedFeature('sink "out"', version, [MESSAGE_TTL])
    if (allowed) expect(e).toBeNull()
    else expect(e).toMatchObject({ code: 'CONNECTOR_UNSUPPORTED', message: expect.stringContaining(`version ${version}: option messageTtlMs needs per-message TTL (Nats-TTL), from NATS 2.11.0`) })
  })

  it('refuses on the real server, which is older than 2.11', async () => {
    const { nc } = await natsAdmin()
    const version = nc.info!.version
    expect(parseVersion(version)[0] === 2 && parseVersion(version)[1] < 11).toBe(true)
    expect(unsupportedFeature('x', version, [MESSAGE_TTL])?.code).toBe('CONNECTOR_UNSUPPORTED')
    expect(unsupportedFeature('x', version, [])).toBeNull()
  })
})

describe('connecting', () => {
  let server: ChildProcess | null = null
  let port = 0

  beforeAll(async () => {
    port = await freePort()
    // A second, real nats-server that requires a password (the shared one has no auth).
    server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '--user', 'sluice', '--pass', 'right'], { stdio: 'ignore' })
    await until(async () => {
      try {
        const nc = await connect({ servers: `127.0.0.1:${port}`, user: 'sluice', pass: 'right' })
        await nc.close()
        return true
      } catch {
        return undefined
      }
    }, 'the password-protected nats-server to listen')
  })

  afterAll(() => {
    if (server?.pid !== undefined) process.kill(server.pid)
  })

  it('fails with CONNECTOR_AUTH on a wrong password, without printing it', async () => {
    const source = jetstreamSourceFromUri(`nats://sluice:wrong-secret@127.0.0.1:${port}/s?bounded=true`)
    const e = await Promise.resolve(source.open(new TestSourceContext())).catch((x: unknown) => x)
    expect(e).toMatchObject({ code: 'CONNECTOR_AUTH', message: expect.stringContaining(`127.0.0.1:${port}`) })
    expect(String((e as Error).message)).not.toContain('wrong-secret')
  })

  it('fails with CONNECTOR_UNSUPPORTED on a server without JetStream', async () => {
    await expect(connectJetStream({ servers: `127.0.0.1:${port}`, user: 'sluice', pass: 'right' }, 'test', new ConnectionTracker())).rejects.toMatchObject({ code: 'CONNECTOR_UNSUPPORTED', message: expect.stringContaining('-js') })
  })

  it('fails with CONNECTOR_UNREACHABLE on a closed port, within the connect timeout', async () => {
    const sink = jetstreamSinkFromUri(`nats://127.0.0.1:1/out`)
    await expect(Promise.resolve(sink.open(testSinkContext))).rejects.toMatchObject({ code: 'CONNECTOR_UNREACHABLE', message: expect.stringMatching(/127\.0\.0\.1:1.*check the host and port/) })
  })

  it('follows the connection state: connected, reconnecting while the server is down, connected again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-nats-'))
    const jsPort = await freePort()
    const start = (): ChildProcess => spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(jsPort)], { stdio: 'ignore' })
    let js = start()
    try {
      const tracker = new ConnectionTracker()
      const link = await until(() => connectJetStream({ servers: `127.0.0.1:${jsPort}` }, 'test', tracker).catch(() => undefined), 'the JetStream server to listen')
      expect(tracker.status()).toMatchObject({ state: 'connected', lastError: null })
      js.kill()
      await until(() => (tracker.state === 'reconnecting' ? true : undefined), 'the state to turn reconnecting')
      expect(tracker.status().lastError).toMatch(/disconnected/)
      js = start()
      await until(() => (tracker.state === 'connected' ? true : undefined), 'the state to turn connected again')
      expect(tracker.status().lastError).toBeNull()
      await link.nc.close()
      expect(tracker.status().state, 'closing it ourselves is no failure').toBe('connected')
    } finally {
      js.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('nats:// URIs', () => {
  it('reads a stream through a URI with its parameters', async () => {
    const stream = await createStream('uri')
    await seedStream(stream, ['"a"', '"b"', '"c"'], 3)
    const source = jetstreamSourceFromUri<string>(`nats://127.0.0.1:4222/${stream}?partitions=3&bounded=true&format=json`, { record: (m) => `${m.partition}:${String(m.value)}` })
    expect(source.bounded).toBe(true)
    expect(await readSource(source)).toEqual([`${stream}.0:a`, `${stream}.1:b`, `${stream}.2:c`])
  })

  it('builds a sink from a URI', () => {
    const sink = jetstreamSinkFromUri('nats://u:p@127.0.0.1:4222/out?partitions=8&create=true&format=string&guarantee=at-least-once')
    expect(sink.options).toMatchObject({ servers: '127.0.0.1:4222', user: 'u', pass: 'p', stream: 'out', partitions: 8, create: true, format: 'string' })
    expect(sink.exactlyOnce).toBe(false)
  })

  it.each([
    ['nats://127.0.0.1:4222/s?partition=8', /unknown parameter "partition"; nats:\/\/ takes bounded, format, partitions/],
    ['nats://127.0.0.1:4222/s?partitions=0', /partitions" must be a whole number from 1/],
    ['nats://127.0.0.1:4222/s?bounded=yes', /bounded" must be true or false/],
    ['nats://127.0.0.1:4222/s?format=xml', /format" must be one of json, string, bytes/],
    ['nats://127.0.0.1:4222/', /the path must be the stream/],
    ['nats://127.0.0.1:4222/a.b', /may hold only letters/],
    ['kafka://127.0.0.1:4222/s', /expected scheme nats:\/\//],
    ['nats://127.0.0.1:4222/s?create=true', /unknown parameter "create"/],
  ])('rejects %s with CONNECTOR_URI_INVALID', (uri, message) => {
    expect(() => jetstreamSourceFromUri(uri)).toThrow(expect.objectContaining({ code: 'CONNECTOR_URI_INVALID', message: expect.stringMatching(message) }))
  })

  it('never prints the password of a bad URI', () => {
    expect(() => jetstreamSinkFromUri('nats://u:secret@127.0.0.1:4222/s?bogus=1')).toThrow(/nats:\/\/u:\*\*\*@127\.0\.0\.1:4222/)
    expect(() => jetstreamSinkFromUri('nats://u:secret@127.0.0.1:4222/s?bogus=1')).not.toThrow(/secret/)
  })
})
