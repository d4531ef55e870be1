/**
 * The Kafka sink's writer: encodes each batch in one loop into a queue and sends the queue in
 * chunks, one send at a time (the client's idempotent producer numbers a partition's batches
 * when the previous send is acknowledged, so two sends in flight would reuse a sequence number).
 * Records keep arriving while a chunk is on the wire; write() waits only when MAX_BUFFERED_BYTES
 * are queued or in flight.
 *
 * Exactly-once: a small fixed pool of transactional producers per subtask (ids
 * `${prefix}-${sinkId}-${subtask}-${slot}`). Records go into the open transaction of one slot; at a
 * checkpoint's preCommit that transaction is flushed and set aside as pending, and the next record
 * opens a transaction on a free slot. commit() ends the pending transactions the checkpoint
 * covers. Each reuse of a slot bumps its producer epoch, so a (id, producer id, epoch) triple in
 * a checkpoint names exactly one transaction: a recovery that commits it by those three numbers
 * (resumeAndCommit) can never commit a later transaction of the same id by mistake.
 */
import { SluiceError } from '../../errors.ts'
import { ConnectionTracker } from '../broker.ts'
import type { RejectRecord } from '../line-encoder.ts'
import type { ConnectionStatus, SinkCommit, SinkWriter } from '../spi.ts'
import { describeKafkaError, sinkError } from './kafka-sink-client.ts'
import { MESSAGE_OVERHEAD_BYTES, encodeBatch, type KafkaMessage, type MessageEncoding } from './kafka-sink-encoding.ts'
import {
  checkCommit, describe, transactionKey, type KafkaProducer, type OpenTransaction, type PendingTransaction, type TransactionSlot,
} from './kafka-sink-transactions.ts'

/** Bytes of messages one send carries at most: well under the broker's 1 MiB batch limit per partition. */
const MAX_SEND_BYTES = 512 * 1024
/** Bytes queued or in flight before write() waits: a chunk on the wire and the next one filling. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/** Where messages go: one idempotent producer, or the pool of transactional ones. */
export type SinkTarget = { readonly kind: 'idempotent'; readonly producer: KafkaProducer } | { readonly kind: 'transactional'; readonly slots: readonly TransactionSlot[] }

export class KafkaSinkWriter<T> implements SinkWriter<T> {
  private queue: KafkaMessage[] = []
  private queuedBytes = 0
  /** Queued plus in flight. */
  private bufferedBytes = 0
  /** Bytes of the chunk takeChunk took last. */
  private lastChunkBytes = 0
  private running: Promise<void> | null = null
  private roomWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  private error: SluiceError | null = null
  private closed = false
  private current: OpenTransaction | null = null
  private readonly pending: PendingTransaction[] = []
  /** Commits run one after another. */
  private committing: Promise<void> = Promise.resolve()
  /** A writer that took part in a checkpoint leaves visibility to commit (and close); one that never did commits at flush. */
  private checkpointed: boolean
  private readonly tracker = new ConnectionTracker()

  constructor(
    private readonly encoding: MessageEncoding<T>,
    private readonly target: SinkTarget,
    private readonly reject: RejectRecord,
    private readonly release: () => Promise<void>,
    recovered: boolean,
  ) {
    this.checkpointed = recovered
    const producers = target.kind === 'idempotent' ? [target.producer] : target.slots.map((s) => s.producer)
    for (const p of producers) {
      p.on('client:broker:disconnect', () => this.tracker.set('reconnecting', 'lost the connection to a broker'))
      p.on('client:broker:failed', () => this.tracker.set('reconnecting', 'cannot connect to a broker'))
      p.on('client:broker:connect', () => this.tracker.set('connected'))
    }
  }

  write(batch: readonly T[]): void | Promise<void> {
    this.throwIfUnusable()
    const bytes = encodeBatch(batch, this.encoding, this.queue, this.reject)
    if (bytes === 0) return
    this.queuedBytes += bytes
    this.bufferedBytes += bytes
    this.drain()
    if (this.bufferedBytes >= MAX_BUFFERED_BYTES) return new Promise((resolve, reject) => this.roomWaiters.push({ resolve, reject }))
  }

  /**
   * End of input: everything is acknowledged. A writer that never took part in a checkpoint (a
   * job without checkpoints) also commits its transaction, since nothing else will.
   */
  async flush(): Promise<void> {
    this.throwIfUnusable()
    await this.sendAll()
    if (this.target.kind === 'transactional' && !this.checkpointed) await this.commitCurrent()
  }

  /**
   * Waits until every message written so far is acknowledged; in exactly-once mode, sets the open
   * transaction aside for this checkpoint and returns every pending transaction: the checkpoint
   * covers them all (those of checkpoints that failed, too).
   */
  async preCommit(checkpointId: number): Promise<SinkCommit> {
    this.throwIfUnusable()
    await this.sendAll()
    if (this.target.kind === 'idempotent') return { topic: this.encoding.topic }
    this.checkpointed = true
    const open = this.current
    if (open !== null && open.records > 0) {
      this.pending.push({ ...open, checkpoint: checkpointId })
      this.current = null
    }
    return { topic: this.encoding.topic, slots: this.target.slots.length, transactions: this.pending.map(describe) }
  }

  /** Commits the pending transactions `commit` names; those already committed are skipped, so a repeated or older commit does nothing. */
  commit(commit: SinkCommit): Promise<void> {
    if (this.target.kind === 'idempotent') return Promise.resolve()
    const named = new Set(checkCommit(commit, this.encoding.topic).transactions.map(transactionKey))
    const run = this.committing.then(async () => {
      while (this.pending.length > 0 && named.has(transactionKey(describe(this.pending[0])))) {
        const p = this.pending[0]
        await this.endTransaction(p, `checkpoint ${p.checkpoint}`)
        this.pending.shift()
      }
      // A transaction the commit names behind one it does not is out of order: never expected, since pending is in checkpoint order.
      if (this.pending.some((p) => named.has(transactionKey(describe(p))))) throw new SluiceError('INTERNAL', `kafkaSink: commit ${JSON.stringify(commit)} skips a pending transaction`)
    })
    this.committing = run.catch(() => undefined)
    return run
  }

  /** Sends what is left and commits everything: the job is finished, no checkpoint will replay it. */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      if (this.error === null) {
        await this.sendAll()
        await this.committing
        if (this.target.kind === 'transactional') {
          while (this.pending.length > 0) {
            await this.endTransaction(this.pending[0], `checkpoint ${this.pending[0].checkpoint}`)
            this.pending.shift()
          }
          await this.commitCurrent()
        }
      }
    } finally {
      this.closed = true
      await this.release()
    }
  }

  /**
   * Drops what is queued and releases the producers without ending any transaction: pending ones
   * may belong to a checkpoint that completed (the recovering writer commits them), the open one
   * is aborted when the recovering writer fences its id.
   */
  async abort(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.queue = []
    this.queuedBytes = 0
    await this.running?.catch(() => undefined)
    this.wakeWaiters(new SluiceError('SINK_IO', 'the Kafka sink was aborted'))
    await this.release()
  }

  connection(): ConnectionStatus {
    return this.tracker.status()
  }

  private async commitCurrent(): Promise<void> {
    const open = this.current
    if (open === null || open.records === 0) return
    await this.endTransaction(open, 'the end of input')
    this.current = null
  }

  private async endTransaction(t: OpenTransaction, what: string): Promise<void> {
    try {
      await t.txn.commit()
    } catch (e) {
      this.error = sinkError(e, `kafkaSink cannot commit transaction ${t.slot.transactionalId} (epoch ${t.producerEpoch}) of ${what} to topic ${this.encoding.topic}`)
      this.tracker.set('failed', this.error.message)
      throw this.error
    }
  }

  /** Starts sending the queue unless a send is running; the running one picks up what is queued after it started. */
  private drain(): Promise<void> {
    if (this.running !== null) return this.running
    const run = this.sendQueued()
    this.running = run
    run.then(
      () => {
        this.running = null
        if (this.queue.length > 0) void this.drain()
      },
      () => {
        this.running = null
      },
    )
    return run
  }

  private async sendAll(): Promise<void> {
    while (this.running !== null || this.queue.length > 0) await this.drain()
    if (this.error !== null) throw this.error
  }

  private async sendQueued(): Promise<void> {
    while (this.queue.length > 0 && this.error === null && !this.closed) {
      const messages = this.takeChunk()
      const bytes = this.lastChunkBytes
      try {
        await this.send(messages)
      } catch (e) {
        this.error = sinkError(e, `kafkaSink cannot write to topic ${this.encoding.topic}`)
        this.tracker.set('failed', describeKafkaError(e))
        this.wakeWaiters(this.error)
        throw this.error
      }
      this.bufferedBytes -= bytes
      if (this.bufferedBytes < MAX_BUFFERED_BYTES) this.wakeWaiters(null)
    }
    if (this.error !== null) throw this.error
  }

  /** Takes messages off the queue up to MAX_SEND_BYTES (at least one). */
  private takeChunk(): KafkaMessage[] {
    if (this.queuedBytes <= MAX_SEND_BYTES) {
      const all = this.queue
      this.lastChunkBytes = this.queuedBytes
      this.queue = []
      this.queuedBytes = 0
      return all
    }
    const queue = this.queue
    let bytes = 0
    let n = 0
    while (n < queue.length && (n === 0 || bytes < MAX_SEND_BYTES)) {
      const m = queue[n++]
      bytes += m.value!.length + (m.key?.length ?? 0) + MESSAGE_OVERHEAD_BYTES
      if (m.headers !== undefined) for (const name in m.headers as Record<string, string>) bytes += name.length + (m.headers as Record<string, string>)[name].length
    }
    this.queue = queue.slice(n)
    this.queuedBytes -= bytes
    this.lastChunkBytes = bytes
    return n === queue.length ? queue : queue.slice(0, n)
  }

  private async send(messages: KafkaMessage[]): Promise<void> {
    if (this.target.kind === 'idempotent') {
      await this.target.producer.send({ messages })
      return
    }
    const open = this.current ?? (await this.begin(this.target.slots))
    await open.txn.send({ messages })
    open.records += messages.length
  }

  /** Opens a transaction on a slot that is neither pending nor open. */
  private async begin(slots: readonly TransactionSlot[]): Promise<OpenTransaction> {
    const slot = slots.find((s) => !this.pending.some((p) => p.slot === s))
    if (slot === undefined) {
      throw new SluiceError('SINK_IO', `kafkaSink writing topic ${this.encoding.topic} has ${this.pending.length} transactions of checkpoints that never completed and no transactional id left to open another: the job's checkpoints keep failing (see the checkpoint history); it must recover from its last completed checkpoint`)
    }
    const p = slot.producer
    let txn = slot.prepared
    slot.prepared = null
    if (txn === null) {
      txn = await p.beginTransaction()
      // A new epoch for every transaction of the id: the epoch names the transaction in a checkpoint.
      await p.initIdempotentProducer({ producerId: p.producerId, producerEpoch: p.producerEpoch })
    }
    const open: OpenTransaction = { slot, txn, producerId: p.producerId as bigint, producerEpoch: p.producerEpoch as number, records: 0 }
    this.current = open
    return open
  }

  private wakeWaiters(error: SluiceError | null): void {
    const waiters = this.roomWaiters
    if (waiters.length === 0) return
    this.roomWaiters = []
    for (const w of waiters) {
      if (error === null) w.resolve()
      else w.reject(error)
    }
  }

  private throwIfUnusable(): void {
    if (this.error !== null) throw this.error
    if (this.closed) throw new SluiceError('SINK_IO', `kafkaSink writing topic ${this.encoding.topic} is closed`)
  }
}
