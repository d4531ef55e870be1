/** Starts reading the checkpoint a CLI run will resume from (see read-ahead.js). */
export declare const READ_AHEAD: unique symbol
export declare function readAhead(argv: readonly string[]): void
