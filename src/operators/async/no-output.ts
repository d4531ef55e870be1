/**
 * A result of an asynchronous call that emits nothing for its record (a lookup join's
 * `onMissing: 'drop'`). A symbol, so no value a user's function returns can be mistaken for it.
 */
export const NO_OUTPUT: unique symbol = Symbol('sluice.no-output')
