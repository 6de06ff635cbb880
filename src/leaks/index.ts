/**
 * The leak capability's public entry for other capability folders: the responder side (findings,
 * classification, notifications; see `respond/index.ts`) and the watch jobs. Scanning
 * (`leaks/scan`) loads no store or server module and is imported directly by the local CLI, so a
 * scan never loads the responder.
 */
export * from './respond/index.js';
export { leakMigrations } from './migrations.js';
export { addWatchSchema, WATCH_JOB, watchJob, watchTarget, WatchService, type RunResult, type RunSummary, type ScanFunction, type WatchServiceOptions, type WatchView } from './watch.js';
