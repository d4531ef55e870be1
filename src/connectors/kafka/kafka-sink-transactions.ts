/**
 * The exactly-once Kafka sink's transactions: the pool's slots, an open or pending transaction,
 * what a checkpoint records of them, and the check of a commit handed back from a checkpoint.
 */
import type { Producer } from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import type { SinkCommit } from '../spi.ts'
import type { PreCommittedTransaction } from './kafka-sink-client.ts'

export type KafkaProducer = Producer<Buffer, Buffer, string, string>
type KafkaTransaction = Awaited<ReturnType<KafkaProducer['beginTransaction']>>

/** One transactional id of the pool and the producer that owns it. */
export interface TransactionSlot {
  readonly transactionalId: string
  readonly producer: KafkaProducer
  /** A transaction begun (and the epoch fenced) at open, not yet used. */
  prepared: KafkaTransaction | null
}

export interface OpenTransaction {
  readonly slot: TransactionSlot
  readonly txn: KafkaTransaction
  readonly producerId: bigint
  readonly producerEpoch: number
  records: number
}

export interface PendingTransaction extends OpenTransaction {
  readonly checkpoint: number
}

/** What a Kafka sink pre-commits: the pending transactions a recovery must commit. */
export type KafkaSinkCommit = { readonly topic: string; readonly slots: number; readonly transactions: readonly PreCommittedTransaction[] }

export function describe(p: PendingTransaction): PreCommittedTransaction {
  return { checkpoint: p.checkpoint, transactionalId: p.slot.transactionalId, producerId: String(p.producerId), producerEpoch: p.producerEpoch }
}

export function transactionKey(t: PreCommittedTransaction): string {
  return `${t.transactionalId}/${t.producerId}/${t.producerEpoch}`
}

/** A commit handed back from a checkpoint, checked: it must be a Kafka sink's for this topic. */
export function checkCommit(commit: SinkCommit, topic: string): KafkaSinkCommit {
  const txs = commit.transactions
  const ok =
    commit.topic === topic &&
    typeof commit.slots === 'number' &&
    Array.isArray(txs) &&
    txs.every((t) => {
      const x = t as Record<string, unknown> | null
      return x !== null && typeof x === 'object' && typeof x.transactionalId === 'string' && typeof x.producerId === 'string' && /^\d+$/.test(x.producerId) && typeof x.producerEpoch === 'number' && typeof x.checkpoint === 'number'
    })
  if (!ok) throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `kafkaSink writing topic ${topic} cannot use the commit ${JSON.stringify(commit)} from a checkpoint: it is not an exactly-once Kafka sink's commit for this topic (did the job's output change?)`)
  return commit as unknown as KafkaSinkCommit
}
