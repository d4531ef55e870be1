import { describe, expect, it } from 'vitest'
import { BUCKETS, bucketOf, bucketUpperMs, Histogram, percentiles, PROMETHEUS_BOUNDS_MS, prometheusBuckets } from './histogram.ts'

describe('Histogram', () => {
  it('puts a sample in the bucket whose upper edge is the first at or above it, within 9 %', () => {
    for (const ms of [0.001, 0.05, 0.1, 0.37, 1, 12.5, 999, 60_000]) {
      const b = bucketOf(ms)
      expect(bucketUpperMs(b)).toBeGreaterThanOrEqual(ms)
      expect(bucketUpperMs(b - 1)).toBeLessThan(ms)
      expect(bucketUpperMs(b) / ms).toBeLessThan(1.091)
    }
    expect(bucketOf(-3)).toBe(0)
    expect(bucketOf(Number.NaN)).toBe(0)
    expect(bucketOf(1e12)).toBe(BUCKETS - 1)
  })

  it('every Prometheus bound (0.1 ms × 2^k up to ~105 s) is a bucket edge, the bound itself included below it', () => {
    expect(PROMETHEUS_BOUNDS_MS).toHaveLength(21)
    expect(PROMETHEUS_BOUNDS_MS[0]).toBe(0.1)
    expect(PROMETHEUS_BOUNDS_MS[20]).toBeGreaterThan(60_000)
    for (const bound of PROMETHEUS_BOUNDS_MS) {
      const b = bucketOf(bound)
      expect(bucketUpperMs(b)).toBeCloseTo(bound, 9)
      expect(bucketOf(bound * 1.0001)).toBe(b + 1)
    }
  })

  it('keeps the count, the sum (negative samples as 0) and the largest sample', () => {
    const h = new Histogram()
    for (const ms of [2, 3, -1, 5]) h.record(ms)
    expect(h.count).toBe(4)
    expect(h.sumMs).toBe(10)
    expect(h.maxMs).toBe(5)
    expect(h.sparse()).toEqual([0, 1, bucketOf(2), 1, bucketOf(3), 1, bucketOf(5), 1])
  })
})

describe('prometheusBuckets', () => {
  it('counts the samples at or below each bound, cumulatively, then all of them', () => {
    const h = new Histogram()
    const samples = [0, 0.1, 0.1001, 0.15, 0.2, 3, 50, 1000, 52_428.8, 90_000, 200_000]
    for (const ms of samples) h.record(ms)
    const buckets = prometheusBuckets(h.counts)
    expect(buckets).toHaveLength(PROMETHEUS_BOUNDS_MS.length + 1)
    PROMETHEUS_BOUNDS_MS.forEach((bound, i) => expect(buckets[i], `le=${bound}`).toBe(samples.filter((s) => s <= bound).length))
    expect(buckets[PROMETHEUS_BOUNDS_MS.length]).toBe(samples.length)
  })

  it('is all zeros for an empty histogram', () => {
    expect(prometheusBuckets(new Histogram().counts)).toEqual(new Array(PROMETHEUS_BOUNDS_MS.length + 1).fill(0))
  })
})

describe('percentiles', () => {
  it('reports the upper edge of the bucket holding each rank, and null when empty', () => {
    const h = new Histogram()
    for (let i = 1; i <= 100; i++) h.record(i)
    const p = percentiles(h.counts, h.maxMs)
    expect(p?.count).toBe(100)
    expect(p?.p50).toBeGreaterThanOrEqual(50)
    expect(p?.p50).toBeLessThan(50 * 1.091)
    expect(p?.p99).toBeGreaterThanOrEqual(99)
    expect(p?.max).toBe(100)
    expect(percentiles(new Histogram().counts, null)).toBeNull()
  })
})
