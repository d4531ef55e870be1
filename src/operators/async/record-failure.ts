/** `failRecord` and `RecordFailure`, declared in connectors/ (lookup tables answer them too, and connectors may not import operators/). */
export { failRecord, RecordFailure } from '../../connectors/record-failure.ts'
