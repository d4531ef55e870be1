/** A sink for restart tests: `inner`, whose writers fail once with SINK_IO (so the job restarts from its latest checkpoint). */
import { SluiceError } from '../../src/errors.ts'
import type { Sink, SinkContext } from '../../src/connectors/spi.ts'

/**
 * `inner`, whose first write for which `failNow(ctx)` holds throws SINK_IO with `message` instead
 * of writing; every other call goes to `inner`'s writer (its methods bound to it).
 */
export function failingOnce<T>(inner: Sink<T>, failNow: (ctx: SinkContext) => boolean, message = 'injected failure'): Sink<T> {
  let failed = false
  return {
    ...inner,
    async open(ctx, recoverFrom) {
      const writer = await inner.open(ctx, recoverFrom)
      return {
        write: (batch) => {
          if (!failed && failNow(ctx)) {
            failed = true
            throw new SluiceError('SINK_IO', message)
          }
          return writer.write(batch)
        },
        preCommit: writer.preCommit?.bind(writer),
        commit: writer.commit?.bind(writer),
        flush: writer.flush?.bind(writer),
        close: writer.close?.bind(writer),
        abort: writer.abort?.bind(writer),
        connection: writer.connection?.bind(writer),
      }
    },
  }
}
