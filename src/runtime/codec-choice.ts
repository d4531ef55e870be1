/** The codec cross-thread channels use: the generic, self-describing one (no shared state). */
import { GenericCodec } from './codec/generic.ts'
import type { WireCodec } from './ring-channel.ts'

export function codecForWire(): WireCodec {
  return new GenericCodec<unknown>()
}
