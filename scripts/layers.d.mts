export declare const LAYERS: readonly string[]
export declare function unitOf(file: string): string
export interface Crossing { from: string; to: string; file: string; target: string }
export declare function crossings(): Crossing[]
export declare function violations(): Crossing[]
