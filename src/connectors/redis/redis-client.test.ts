import { describe, expect, it } from 'vitest'
import { compareIds, isEntryId, parseRedisUri } from './redis-client.ts'

describe('compareIds', () => {
  it('orders entry ids by number, not by text', () => {
    const ids = ['10-0', '9-0', '9-10', '9-9', '0-0', '1700000000000-0', '18446744073709551615-18446744073709551615', '18446744073709551615-2', '1-0']
    expect([...ids].sort(compareIds)).toEqual(['0-0', '1-0', '9-0', '9-9', '9-10', '10-0', '1700000000000-0', '18446744073709551615-2', '18446744073709551615-18446744073709551615'])
    expect(compareIds('5-5', '5-5')).toBe(0)
  })

  it('accepts only complete ids as Redis writes them', () => {
    expect(['0-0', '1-0', '1700000000000-12'].every(isEntryId)).toBe(true)
    expect(['1', '01-0', '1-01', '-1-0', '1-0-0', '$', '>', ''].some(isEntryId)).toBe(false)
  })
})

describe('parseRedisUri', () => {
  it('takes keys from the path, the database from ?db, and keeps the password out of its text', () => {
    const parts = parseRedisUri('redis://user:p%40ss@example.org:6380/a,b?db=2')
    expect(parts.keys).toEqual(['a', 'b'])
    expect(parts.url).toBe('redis://user:p%40ss@example.org:6380/2')
    expect(parts.uri.text).toBe('redis://user:***@example.org:6380/a,b?db=2')
    expect(parseRedisUri('redis://[::1]/k').url).toBe('redis://[::1]:6379/0')
    expect(parseRedisUri('redis://h/orders%2F3').keys).toEqual(['orders/3'])
  })

  it('refuses another scheme and an empty key', () => {
    expect(() => parseRedisUri('kafka://h:1/k')).toThrow(/CONNECTOR_URI_INVALID.*expected scheme redis/)
    expect(() => parseRedisUri('redis://h:1')).toThrow(/CONNECTOR_URI_INVALID.*stream key/)
    expect(() => parseRedisUri('redis://h:1/k?db=x')).toThrow(/CONNECTOR_URI_INVALID.*db/)
  })
})
