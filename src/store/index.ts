/**
 * The storage engine's public surface, for the broker and the CLI. Nothing here knows AMQP.
 * See README.md in this folder for the contract, the on-disk formats and a wiring example.
 */
export * from './store.js';
export * from './definitions.js';
export * from './definition-changes.js';
export { FileStore, diskFree, DEFAULT_SEGMENT_SIZE, DEFAULT_INDEX_ENTRIES } from './file-store.js';
export type { FileStoreOptions, RecoveryReport } from './file-store.js';
export { MemoryStore, MemoryBackend } from './memory-store.js';
export type { MemoryStoreOptions } from './memory-store.js';
export { nodeFileOps } from './file-ops.js';
export type { FileOps } from './file-ops.js';
export { writeFileAtomic } from './atomic-file.js';
export * from './stream.js';
export { filterHash } from './stream-filter.js';
