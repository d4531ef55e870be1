import { describe, expect, it } from 'vitest'
import { redactCredentials } from './redact.ts'

describe('redactCredentials', () => {
  it('masks the password of every URI in a text, keeping the user, host and the rest', () => {
    expect(redactCredentials('connect ECONNREFUSED redis://app:s3cret@127.0.0.1:6379/orders'))
      .toBe('connect ECONNREFUSED redis://app:***@127.0.0.1:6379/orders')
    expect(redactCredentials('from kafka://a:b@h1:9092 to postgres://root:pw%40x@db:5432/test?table=t'))
      .toBe('from kafka://a:***@h1:9092 to postgres://root:***@db:5432/test?table=t')
    expect(redactCredentials('nats://:token@h:4222')).toBe('nats://:***@h:4222')
  })

  it('leaves texts without a password alone', () => {
    for (const t of ['redis://127.0.0.1:6379', 'postgres://root@127.0.0.1:5432/test', 'offset 1200', 'host:port@x', 'timeout after 5000 ms: 10.0.0.1:9092']) {
      expect(redactCredentials(t)).toBe(t)
    }
  })
})
