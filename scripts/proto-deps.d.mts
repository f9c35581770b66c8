export declare const protoDepsDir: string;
export declare function ensureProtoDeps(): string;
