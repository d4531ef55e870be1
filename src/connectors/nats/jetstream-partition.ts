/** One partition a JetStream reader reads: its buffer of fetched messages and where it is. */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream'

export class PartitionState {
  /**
   * Fetched, not yet read: seqs[head…] and datas[head…] (and msgs[head…] when a record function
   * needs headers). Only the sequence and the payload are kept: the client's message objects die
   * young, so a full buffer does not cost the garbage collector much.
   */
  seqs: number[] = []
  datas: Uint8Array[] = []
  msgs: JsMsg[] | null
  head = 0
  /** The last sequence read (handed to the job). */
  readSeq: number
  /** The last sequence fetched (in buf or read). */
  fetchedSeq: number
  /** Messages on the server after fetchedSeq, as the last fetched message said; -1 unknown. */
  pending = -1
  /** True once every message up to `end` is fetched (bounded). */
  exhausted = false
  /** True while the consumer is stopped because the buffer is full. */
  paused = false
  /** Counts consumers started; messages of an older one (stopped) are ignored. */
  generation = 0
  consumer: Consumer | null = null
  messages: ConsumerMessages | null = null

  constructor(readonly p: number, readonly subject: string, start: number, readonly end: number, keepMessages: boolean) {
    this.msgs = keepMessages ? [] : null
    this.readSeq = start
    this.fetchedSeq = start
    this.exhausted = start >= end
  }

  get buffered(): number {
    return this.seqs.length - this.head
  }
}

/** The payload as a plain Uint8Array (the client hands out Buffers), without copying. */
