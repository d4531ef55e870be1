/** A result of an asynchronous call that emits nothing for its record (a lookup join's `onMissing: 'drop'`). */
export const NO_OUTPUT: unique symbol = Symbol('sluice.no-output')
