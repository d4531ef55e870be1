/** The generator's configuration: what defines a stream of events, its defaults and checks. */
import { SluiceError } from '../errors.ts'

export interface GeneratorConfig {
  /** Seeds every random choice. Default 0. */
  seed: number
  /** Spaces event time only (1e6 / rate µs per event); the generator never sleeps. Default 10 000. */
  eventsPerSecond: number
  /** Event time of event number 0, epoch ms. Default 2026-01-01T00:00:00Z. */
  baseTimeMs: number
}

export const DEFAULT_GENERATOR_CONFIG: Readonly<GeneratorConfig> = Object.freeze({
  seed: 0,
  eventsPerSecond: 10_000,
  baseTimeMs: Date.UTC(2026, 0, 1),
})

export function invalid(message: string): SluiceError {
  return new SluiceError('CONNECTOR_OPTION_INVALID', message)
}

export function resolveConfig(config: Partial<GeneratorConfig>): GeneratorConfig {
  const c: GeneratorConfig = {
    seed: config.seed ?? DEFAULT_GENERATOR_CONFIG.seed,
    eventsPerSecond: config.eventsPerSecond ?? DEFAULT_GENERATOR_CONFIG.eventsPerSecond,
    baseTimeMs: config.baseTimeMs ?? DEFAULT_GENERATOR_CONFIG.baseTimeMs,
  }
  if (!Number.isSafeInteger(c.seed)) throw invalid(`nexmark seed must be a safe integer, got ${c.seed}`)
  if (!(c.eventsPerSecond > 0) || !Number.isFinite(c.eventsPerSecond)) {
    throw invalid(`nexmark eventsPerSecond must be a positive finite number, got ${c.eventsPerSecond}`)
  }
  if (!Number.isSafeInteger(c.baseTimeMs)) throw invalid(`nexmark baseTimeMs must be an integer epoch ms, got ${c.baseTimeMs}`)
  return c
}
