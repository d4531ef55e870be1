import { describe, expect, it } from 'vitest'
import { uniqueName } from '../../../test/support/services.ts'
import { isSluiceError } from '../../errors.ts'
import { TestSourceContext, readSource } from '../source-contract.ts'
import { ConnectorUri } from '../uri.ts'
import { classifyKafkaError, kafkaConnectionFromUri, parseBrokers } from './common.ts'
import { kafkaSource, kafkaSourceFromUri } from './kafka-source.ts'
import { BROKERS, createTopic, produce, source, useKafka } from './kafka-source-test-support.ts'

useKafka()

describe('kafka source: errors', () => {
  const codeOf = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
    try {
      await p
    } catch (e) {
      expect(isSluiceError(e)).toBe(true)
      return { code: (e as { code: string }).code, message: (e as Error).message }
    }
    throw new Error('expected a failure')
  }

  it('an unreachable broker at open is CONNECTOR_UNREACHABLE naming the address', async () => {
    const { code, message } = await codeOf(Promise.resolve(kafkaSourceFromUri('kafka://user:secret@127.0.0.1:9/orders').open(new TestSourceContext())))
    expect(code).toBe('CONNECTOR_UNREACHABLE')
    expect(message).toContain('kafka://user:***@127.0.0.1:9/orders')
    expect(message).not.toContain('secret')
  })

  it('an unknown topic is CONNECTOR_NOT_FOUND', async () => {
    const { code, message } = await codeOf(Promise.resolve(source(uniqueName('ks-missing')).open(new TestSourceContext())))
    expect(code).toBe('CONNECTOR_NOT_FOUND')
    expect(message).toMatch(/topic does not exist/)
  })

  it('a position of another topic or split fails instead of reading wrong data', async () => {
    const topic = await createTopic(2)
    const ctx = new TestSourceContext('fail', undefined, 'kafka', 0, 2)
    expect((await codeOf(Promise.resolve(source(topic).open(ctx, { topic: 'other', partitionCount: 2, offsets: { 0: 0 }, ends: null })))).code).toBe('CHECKPOINT_INCOMPATIBLE')
    expect((await codeOf(Promise.resolve(source(topic).open(ctx, { topic, partitionCount: 2, offsets: { 0: 0, 1: 0 }, ends: null })))).message).toMatch(/covers partitions \[0, 1\] but this subtask reads \[0\]/)
  })

  it('bad options and URIs fail when the source is built', () => {
    expect(() => kafkaSource({ brokers: '', topic: 't' })).toThrow(/CONNECTOR_URI_INVALID/)
    expect(() => kafkaSource({ brokers: BROKERS, topic: 't', start: 'committed' })).toThrow(/group/)
    expect(() => kafkaSourceFromUri('kafka://127.0.0.1:9092/t?grup=a')).toThrow(/unknown parameter "grup"/)
    expect(() => kafkaSourceFromUri('kafka://127.0.0.1:9092/t?start=yesterday')).toThrow(/"start" must be/)
    expect(() => kafkaSourceFromUri('kafka://127.0.0.1:9092/')).toThrow(/CONNECTOR_URI_INVALID/)
  })

  it('reads a URI with several brokers and its options', async () => {
    const topic = await createTopic(1)
    await produce(topic, [{ partition: 0, value: 'a' }])
    const src = kafkaSourceFromUri(`kafka://127.0.0.1:9,${BROKERS}/${topic}?bounded=true&format=string&start=earliest&isolation=read_uncommitted&group=g1`)
    expect(src.bounded).toBe(true)
    expect(await readSource(src)).toEqual(['a'])
  })
})

describe('kafka URIs and client errors', () => {
  it('a kafka:// URI may list several brokers; other schemes take one host', () => {
    const uri = new ConnectorUri('kafka://u:p%40ss@k1:9092,k2,[::1]:9094/orders?sasl=scram-sha-256', 'kafka', 9092, { multipleHosts: true })
    expect(uri.hosts).toEqual([{ host: 'k1', port: 9092 }, { host: 'k2', port: 9092 }, { host: '::1', port: 9094 }])
    expect(uri.text).toBe('kafka://u:***@k1:9092,k2,[::1]:9094/orders?sasl=scram-sha-256')
    expect(kafkaConnectionFromUri(uri)).toEqual({ brokers: ['k1:9092', 'k2:9092', '[::1]:9094'], sasl: { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p@ss' } })
    expect(new ConnectorUri('nats://n1:4222/s', 'nats', 4222).hosts).toEqual([{ host: 'n1', port: 4222 }])
    expect(() => new ConnectorUri('nats://n1:4222,n2:4222/s', 'nats', 4222)).toThrow(/takes one host:port/)
    expect(() => new ConnectorUri('kafka://k1:9092,k2:x/t', 'kafka', 9092, { multipleHosts: true })).toThrow(/"k2:x" is not a host:port/)
    expect(parseBrokers(['a:1,b', 'c:3'])).toEqual([{ host: 'a', port: 1 }, { host: 'b', port: 9092 }, { host: 'c', port: 3 }])
  })

  it('maps the client\'s error shapes to connector codes', () => {
    const nested = (inner: object): object => ({ code: 'PLT_KFK_MULTIPLE', message: 'metadata failed 2 times.', errors: [{ code: 'PLT_KFK_MULTIPLE', message: 'x', errors: [inner] }] })
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_AUTHENTICATION', message: 'SASL failed' }))).toBe('CONNECTOR_AUTH')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_PROTOCOL', apiId: 'TOPIC_AUTHORIZATION_FAILED', message: '' }))).toBe('CONNECTOR_AUTH')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_PROTOCOL', apiId: 'UNKNOWN_TOPIC_OR_PARTITION', message: '' }))).toBe('CONNECTOR_NOT_FOUND')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_NETWORK', message: 'Connection closed' }))).toBe('CONNECTOR_UNREACHABLE')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_PROTOCOL', apiId: 'NOT_LEADER_OR_FOLLOWER', message: '' }))).toBeNull()
  })
})
