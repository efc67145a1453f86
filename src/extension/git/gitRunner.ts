import { simpleGit, type SimpleGit } from 'simple-git';

/**
 * Variables that select a repository, index, object store or ref namespace. The workspace path
 * alone must decide which repository we read and write, even when the extension host inherited
 * them (e.g. VS Code started from a git hook, where GIT_DIR and GIT_INDEX_FILE are set).
 */
const REPO_SELECTING = new Set([
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_IMPLICIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_PREFIX',
  'GIT_INTERNAL_SUPER_PREFIX',
  'GIT_NAMESPACE',
  'GIT_SHALLOW_FILE',
  'GIT_GRAFT_FILE',
]);

/**
 * Editors, pagers, prompts and transports: the plumbing we run never uses them, and simple-git
 * refuses to spawn git with an environment that contains them, so they are left out rather than
 * allowed.
 */
const NEVER_NEEDED = new Set([
  'EDITOR',
  'GIT_EDITOR',
  'GIT_SEQUENCE_EDITOR',
  'PAGER',
  'GIT_PAGER',
  'GIT_ASKPASS',
  'SSH_ASKPASS',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_PROXY_COMMAND',
  'GIT_EXTERNAL_DIFF',
  'GIT_TEMPLATE_DIR',
]);

/**
 * The environment for every git we spawn. simple-git's `.env()` replaces the whole environment,
 * so it starts from process.env (PATH, HOME and the user's GIT_CONFIG_* must reach git, or the
 * user's identity and settings are lost).
 */
export function gitEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    // Windows keeps environment names case-insensitively, so compare upper-cased.
    const upper = key.toUpperCase();
    if (REPO_SELECTING.has(upper) || NEVER_NEEDED.has(upper)) continue;
    env[key] = value;
  }
  // Read-only commands (status, diff) must not refresh and rewrite the user's index.
  env.GIT_OPTIONAL_LOCKS = '0';
  // Nothing we run talks to a remote; a prompt would hang the launch.
  env.GIT_TERMINAL_PROMPT = '0';
  // Messages are matched (e.g. "not a git repository"), so they must not be translated.
  env.LC_ALL = 'C';
  return { ...env, ...extra };
}

/** A simple-git bound to `cwd`, with our environment plus `extra` (e.g. GIT_INDEX_FILE). */
export function gitAt(cwd: string, extra: Record<string, string> = {}): SimpleGit {
  return simpleGit({
    baseDir: cwd,
    maxConcurrentProcesses: 1,
    trimmed: false,
    unsafe: {
      // These only acknowledge GIT_CONFIG_GLOBAL / GIT_CONFIG_SYSTEM / GIT_CONFIG_COUNT that the
      // user already has in the environment: git would read them anyway had we not passed env.
      allowUnsafeConfigPaths: true,
      allowUnsafeConfigEnvCount: true,
    },
  }).env(gitEnvironment(extra));
}

/** The first line git printed for a failure, without simple-git's wrapping. */
export function gitErrorMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  return line ?? 'git failed';
}
