/**
 * The result of an asynchronous call that stands for "emit nothing for this record": a lookup
 * join with `onMissing: 'drop'` answers it for a record whose key was not found. A symbol, so no
 * value a user's function returns can be mistaken for it.
 */
export const NO_OUTPUT: unique symbol = Symbol('sluice.no-output')

export type NoOutput = typeof NO_OUTPUT
