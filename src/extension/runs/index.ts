export { RunsTreeModel, type GroupNode, type RefreshResult, type RunChildNode, type RunNode, type RunNodeStatus, type RunsTreeOptions } from './model';
export { RunsWatcher, type RunsWatcherOptions } from './watch';
export { DEFAULT_STALE_MS, heartbeatAgeMs, isDeadRun, isPidAlive, type LivenessOptions } from '../../core/run/liveness';
export { readLastJsonLine, readTail } from '../../core/run/tail';
export { configSummary } from './summary';
