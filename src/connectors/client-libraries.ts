/**
 * The broker client libraries, each imported when a connector first connects. Every job that
 * imports `sluice/connectors` (for an array or a file source, say) would otherwise load them all,
 * in the main thread and again in each worker thread: ~1.5 s of CPU at every start on a small VM,
 * most of it the Kafka client.
 */
import { SluiceError } from '../errors.ts'

export interface Library<T> {
  /** Imports the library, once; later calls get the same promise. */
  load(): Promise<T>
  /** The library, in code that runs only once `load()` has resolved (after a connect). */
  get(): T
}

function onDemand<T>(name: string, load: () => Promise<T>): Library<T> {
  let loading: Promise<T> | null = null
  let loaded: T | null = null
  return {
    load: () => (loading ??= load().then((lib) => (loaded = lib))),
    get: () => {
      if (loaded === null) throw new SluiceError('INTERNAL', `${name} was used before it was loaded`)
      return loaded
    },
  }
}

// Annotated: declaration files name these types rather than spell them out.
export const kafkaLibrary: Library<typeof import('@platformatic/kafka')> = onDemand('@platformatic/kafka', () => import('@platformatic/kafka'))
export const redisLibrary: Library<typeof import('redis')> = onDemand('redis', () => import('redis'))
export const postgresLibrary: Library<typeof import('pg').default> = onDemand('pg', async () => (await import('pg')).default)
export const natsLibrary: Library<typeof import('@nats-io/transport-node')> = onDemand('@nats-io/transport-node', () => import('@nats-io/transport-node'))
export const jetstreamLibrary: Library<typeof import('@nats-io/jetstream')> = onDemand('@nats-io/jetstream', () => import('@nats-io/jetstream'))
