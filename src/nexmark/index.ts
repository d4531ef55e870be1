/**
 * Nexmark for users: the model, the generator, the file format and the queries.
 *
 * @module sluice/nexmark
 */
export * from './model.ts'
export { splitEventRange } from './event-ranges.ts'
export { NexmarkGenerator } from './generator.ts'
export type { GeneratorConfig } from './generator-config.ts'
export { nexmarkSource, type NexmarkSourceOptions, type NexmarkPosition } from './source.ts'
export { formatEventJsonl, parseEventJsonl, writeEventsFile } from './jsonl.ts'
export { QUERIES, query, type QueryInfo, type ResultStream } from './queries/index.ts'
