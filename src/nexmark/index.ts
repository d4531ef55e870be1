/** Nexmark for users: the model, the generator, the file format and the queries. */
export * from './model.ts'
export { NexmarkGenerator, splitEventRange, type GeneratorConfig } from './generator.ts'
export { nexmarkSource, type NexmarkSourceOptions, type NexmarkPosition } from './source.ts'
export { formatEventJsonl, parseEventJsonl, writeEventsFile } from './jsonl.ts'
export { QUERIES, query, type QueryInfo, type ResultStream } from './queries/index.ts'
