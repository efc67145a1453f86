export { RunLauncher, type EventOf, type JobKind, type JobState, type LaunchRequest, type LauncherEvents, type RunJob, type RunLauncherOptions, type RunOutcome } from './launcher';
export { EventsFollower, LineBuffer, type EventsFollowerOptions } from './follow';
