/** Nexmark for users: the model, the generator, the file format and the queries. */
export * from './model.ts'
export { NexmarkGenerator, splitEventRange, type GeneratorConfig } from './generator.ts'
export { formatEventJsonl, parseEventJsonl, writeEventsFile } from './jsonl.ts'
export { QUERIES, query, type QueryInfo } from './queries/index.ts'
export { nexmarkSource, type NexmarkPosition } from './source.ts'
