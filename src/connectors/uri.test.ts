import { describe, expect, it } from 'vitest'
import { ConnectorUri, isConnectorUri, redactUri } from './uri.ts'
import { loadConnectors, sinkFromUri, sourceFromUri } from './registry.ts'
import { decodePayload, encodePayload } from './broker.ts'

const codeOf = (f: () => unknown): string => {
  try {
    f()
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`
  }
  return 'no error'
}

describe('connector URIs', () => {
  it('parses host, port, credentials, name and typed parameters', () => {
    const u = new ConnectorUri('kafka://me:s%3Dcret@10.0.0.5:19092/orders?group=billing&partitions=4&bounded=true&start=earliest', 'kafka', 9092)
    expect([u.host, u.port, u.user, u.password, u.requireName('topic')]).toEqual(['10.0.0.5', 19092, 'me', 's=cret', 'orders'])
    expect(u.string('group')).toBe('billing')
    expect(u.int('partitions', 1, 1000)).toBe(4)
    expect(u.bool('bounded')).toBe(true)
    expect(u.oneOf('start', ['earliest', 'latest'] as const)).toBe('earliest')
    expect(() => u.done()).not.toThrow()
    expect(u.text).toBe('kafka://me:***@10.0.0.5:19092/orders?group=billing&partitions=4&bounded=true&start=earliest')
    expect(new ConnectorUri('nats://127.0.0.1/s', 'nats', 4222).port).toBe(4222)
  })

  it('rejects what is wrong with a coded error naming the parameter, never showing the password', () => {
    const u = new ConnectorUri('redis://u:hunter2@h:1/k?bonded=true', 'redis', 6379)
    const msg = codeOf(() => u.done())
    expect(msg).toMatch(/^CONNECTOR_URI_INVALID: .*unknown parameter "bonded"/)
    expect(msg).not.toContain('hunter2')
    expect(codeOf(() => new ConnectorUri('kafka://h:1/t?partitions=0', 'kafka', 9092).int('partitions', 1, 100))).toMatch(/"partitions" must be a whole number from 1 to 100, got "0"/)
    expect(codeOf(() => new ConnectorUri('kafka://h:1/t?bounded=yes', 'kafka', 9092).bool('bounded'))).toMatch(/must be true or false/)
    expect(codeOf(() => new ConnectorUri('kafka://h:1/', 'kafka', 9092).requireName('topic'))).toMatch(/the path must be the topic/)
    expect(codeOf(() => new ConnectorUri('nats://h:1/s', 'kafka', 9092))).toMatch(/expected scheme kafka:\/\//)
    expect(codeOf(() => new ConnectorUri('kafka://h:1/t?a=1&a=2', 'kafka', 9092))).toMatch(/"a" is given twice/)
  })

  it('tells URIs from paths and redacts passwords', () => {
    expect(isConnectorUri('kafka://h/t')).toBe(true)
    expect(isConnectorUri('/tmp/events.jsonl')).toBe(false)
    expect(isConnectorUri('C:/x')).toBe(false)
    expect(redactUri('postgres://root:pw@127.0.0.1:5432/test?table=t')).toBe('postgres://root:***@127.0.0.1:5432/test?table=t')
    expect(redactUri('postgres://root@127.0.0.1:5432/test')).toBe('postgres://root@127.0.0.1:5432/test')
  })

  it('builds nothing from a scheme whose connector is not loaded, and loads it on request', async () => {
    expect(codeOf(() => sourceFromUri('kafka://127.0.0.1:9092/t'))).toMatch(/^INTERNAL: .*the kafka:\/\/ connector is not loaded: call await loadConnectors/)
    await loadConnectors(['kafka://127.0.0.1:9092/t', '/a/file.jsonl', undefined])
    expect(sourceFromUri('kafka://127.0.0.1:9092/t').kind).toBe('kafka')
    expect(codeOf(() => sourceFromUri('postgres://root@h/db?table=t'))).toMatch(/is not a source Sluice knows: sources are a file path or one of kafka:\/\/, nats:\/\/, redis:\/\//)
  })

  it('an unknown scheme names the ones Sluice knows', () => {
    expect(codeOf(() => sourceFromUri('ftp://h/x'))).toMatch(/^CONNECTOR_URI_INVALID: .*"ftp:\/\/h\/x" is not a source Sluice knows/)
    expect(codeOf(() => sinkFromUri('ftp://u:pw@h/x'))).not.toContain(':pw@')
  })
})

describe('payload formats', () => {
  const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
  it('decodes json, string and bytes, and says why a payload does not decode', () => {
    expect(decodePayload('json', bytes('{"a":1}'))).toEqual({ a: 1 })
    expect(decodePayload('string', bytes('héllo'))).toBe('héllo')
    expect(decodePayload('bytes', bytes('x'))).toEqual(bytes('x'))
    expect(() => decodePayload('json', bytes('{"a":'))).toThrow(/the payload is not JSON/)
    expect(() => decodePayload('string', new Uint8Array([0xff, 0xfe]))).toThrow(/not valid UTF-8/)
  })
  it('encodes and refuses records that do not fit the format', () => {
    expect(new TextDecoder().decode(encodePayload('json', { a: [1] }))).toBe('{"a":[1]}')
    expect(() => encodePayload('string', 5)).toThrow(/needs a string record, got a number/)
    expect(() => encodePayload('bytes', 'x')).toThrow(/needs a Uint8Array record/)
    expect(() => encodePayload('json', { n: 1n })).toThrow(/cannot encode the record as JSON/)
    expect(() => encodePayload('json', undefined)).toThrow(/cannot encode undefined as JSON/)
  })
})
