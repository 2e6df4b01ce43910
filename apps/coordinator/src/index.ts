export type { Coordinator } from './app.ts';
export { buildCoordinator } from './app.ts';
export type { CoordinatorConfig } from './config.ts';
export { loadConfig } from './config.ts';
export { loadMnist, shardExamples } from './data/mnist.ts';
export { Engine } from './rounds/engine.ts';
export { SqliteStore } from './store/sqlite.ts';
export type { ModelVersion, RoundRecord, Store, StoredTask } from './store/types.ts';
