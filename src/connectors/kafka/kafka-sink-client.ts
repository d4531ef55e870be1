/**
 * What the Kafka sink needs from @platformatic/kafka beyond plain produce: client options, the
 * mapping of client errors to Sluice codes, and the one step the Producer API lacks — committing
 * a transaction another (dead) producer left pre-committed, from its transactional id, producer
 * id and epoch (what Flink's KafkaSink calls "resuming" a transaction).
 */
import { parseBrokers } from './common.ts'
import type { Admin, Broker } from '@platformatic/kafka'
import { kafkaLibrary } from '../client-libraries.ts'
import { SluiceError, describeCause, type ErrorCode } from '../../errors.ts'

/** Kafka error codes the sink decides on (protocol numbers, stable across versions). */
const UNKNOWN_TOPIC_OR_PARTITION = 3
const TOPIC_ALREADY_EXISTS = 36
const INVALID_PRODUCER_EPOCH = 47
const INVALID_TRANSACTION_TIMEOUT = 50
const CONCURRENT_TRANSACTIONS = 51
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
const INVALID_PRODUCER_ID_MAPPING = 49
const PRODUCER_FENCED = 90

/** `host:port` strings as the client takes them, from the sink's `brokers` option. */
export function brokerList(brokers: string | readonly string[]): string[] {
  return parseBrokers(brokers).map((b) => `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`)
}

/** Options every client of the sink shares: bounded connection attempts, so open fails in seconds. */
export function baseClientOptions(clientId: string, brokers: readonly string[]): { clientId: string; bootstrapBrokers: string[]; connectTimeout: number; retries: number; retryDelay: number } {
  return { clientId, bootstrapBrokers: [...brokers], connectTimeout: 5000, retries: 2, retryDelay: 250 }
}

/** The Kafka error codes anywhere in a client error (it nests them in AggregateErrors). */
export function kafkaCodes(e: unknown): number[] {
  const codes: number[] = []
  const visit = (x: unknown, depth: number): void => {
    if (x === null || typeof x !== 'object' || depth > 6) return
    const code = (x as { apiCode?: unknown }).apiCode
    if (typeof code === 'number') codes.push(code)
    const nested = (x as { errors?: unknown }).errors
    if (Array.isArray(nested)) for (const n of nested) visit(n, depth + 1)
    visit((x as { cause?: unknown }).cause, depth + 1)
  }
  visit(e, 0)
  return codes
}

export function hasKafkaCode(e: unknown, ...codes: number[]): boolean {
  return kafkaCodes(e).some((c) => codes.includes(c))
}

/** A newer producer with the same transactional id exists (it fenced this one), or the broker aborted the transaction on timeout. */
export function isFenced(e: unknown): boolean {
  return hasKafkaCode(e, PRODUCER_FENCED, INVALID_PRODUCER_EPOCH)
}

export function isUnknownTopic(e: unknown): boolean {
  // The client turns the broker's UNKNOWN_TOPIC_OR_PARTITION in metadata into a UserError "Unknown topic NAME."
  return hasKafkaCode(e, UNKNOWN_TOPIC_OR_PARTITION) || /^Unknown topic /.test(describeCause(e))
}

export function isTopicExists(e: unknown): boolean {
  return hasKafkaCode(e, TOPIC_ALREADY_EXISTS)
}

/** The client's message with the broker's reasons it nests, in one line. */
export function describeKafkaError(e: unknown): string {
  const top = describeCause(e)
  const nested = (e as { errors?: unknown } | null)?.errors
  if (!Array.isArray(nested) || nested.length === 0) return top
  const reasons = [...new Set(nested.map((n) => describeKafkaError(n)))]
  return `${top}: ${reasons.join('; ')}`
}

/**
 * A client error as a SluiceError: fencing, authorization and connection failures get their
 * connector codes, everything else `fallback` (SINK_IO).
 */
export function sinkError(e: unknown, what: string, fallback: ErrorCode = 'SINK_IO'): SluiceError {
  if (e instanceof SluiceError) return e
  const why = describeKafkaError(e)
  if (isFenced(e)) {
    return new SluiceError('CONNECTOR_FENCED', `${what}: ${why}. Another writer with the same transactional id took over (or the broker aborted this transaction because it outlived transactionTimeoutMs)`, { cause: e })
  }
  if (hasKafkaCode(e, INVALID_TRANSACTION_TIMEOUT)) {
    return new SluiceError('CONNECTOR_OPTION_INVALID', `${what}: the broker refuses the transaction timeout (${why}); set kafkaSink's transactionTimeoutMs at most the broker's transaction.max.timeout.ms`, { cause: e })
  }
  if (hasKafkaCode(e, TRANSACTIONAL_ID_AUTHORIZATION_FAILED) || (e as { code?: unknown } | null)?.code === 'PLT_KFK_AUTHENTICATION') {
    return new SluiceError('CONNECTOR_AUTH', `${what}: ${why}`, { cause: e })
  }
  return new SluiceError(fallback, `${what}: ${why}`, { cause: e })
}

/** Rejects with CONNECTOR_UNREACHABLE naming `uri` when `work` has not settled within `ms`. */
export async function withDeadline<T>(work: Promise<T>, ms: number, uri: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SluiceError('CONNECTOR_UNREACHABLE', `Kafka at ${uri}: no answer within ${ms} ms while ${what}`)), ms)
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** One transaction a sink writer pre-committed, as a checkpoint stores it (ids as strings: JSON has no bigint). */
export type PreCommittedTransaction = {
  readonly checkpoint: number
  readonly transactionalId: string
  readonly producerId: string
  readonly producerEpoch: number
}

/**
 * Commits a transaction a previous writer pre-committed, from its id, producer id and epoch
 * alone: EndTxn(commit) is all the coordinator checks. Returns 'committed' when this call
 * committed it or it was committed already with the same epoch, 'superseded' when a newer epoch
 * of the id exists (the writer committed it and reused the id — each reuse bumps the epoch — or
 * the broker aborted it on timeout).
 */
export async function resumeAndCommit(admin: Admin, tx: PreCommittedTransaction, brokers: readonly Broker[] | readonly string[]): Promise<'committed' | 'superseded'> {
  const producerId = BigInt(tx.producerId)
  const { FindCoordinatorKeyTypes, endTxnV4 } = await kafkaLibrary.load()
  for (let attempt = 0; ; attempt++) {
    try {
      const [coordinator] = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.TRANSACTION, keys: [tx.transactionalId] })
      const connection = (await admin.connectToBrokers([coordinator.nodeId])).get(coordinator.nodeId)
      if (connection === undefined) throw new SluiceError('CONNECTOR_UNREACHABLE', `cannot commit transaction ${tx.transactionalId} (producer ${tx.producerId}, epoch ${tx.producerEpoch}) of checkpoint ${tx.checkpoint}: no connection to its transaction coordinator, broker ${coordinator.nodeId} of ${brokers.join(',')}`)
      await endTxnV4.api.async(connection, tx.transactionalId, producerId, tx.producerEpoch, true)
      return 'committed'
    } catch (e) {
      if (isFenced(e) || hasKafkaCode(e, INVALID_PRODUCER_ID_MAPPING)) return 'superseded'
      // The coordinator is still writing the markers of an earlier EndTxn for the same epoch.
      const retriable = hasKafkaCode(e, CONCURRENT_TRANSACTIONS) || (e as { canRetry?: unknown } | null)?.canRetry === true
      if (!retriable || attempt >= 50) {
        throw sinkError(e, `cannot commit transaction ${tx.transactionalId} (producer ${tx.producerId}, epoch ${tx.producerEpoch}) of checkpoint ${tx.checkpoint} on ${brokers.join(',')}`)
      }
      await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 500)))
    }
  }
}
