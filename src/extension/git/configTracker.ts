import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gitAt, gitErrorMessage } from './gitRunner';

/**
 * What a launch records about the workspace's git state; stored in run.json by the caller.
 * The config itself lives in the commit `commit`, reachable from `ref`, at
 * `.immiscible/runs/<run-id>/config.json`.
 */
export interface GitRecord {
  /** `refs/immiscible/runs/<run-id>`. */
  ref: string;
  /** The commit holding the run's config, on top of `head`. */
  commit: string;
  /** HEAD's commit at launch; null when the repository had no commits. */
  head: string | null;
  /** The checked-out branch (short name); null on a detached HEAD or with no commits. */
  branch: string | null;
  /** Whether tracked files (staged or not) differed from HEAD. Untracked files do not count. */
  dirty: boolean;
  /** Untracked, not ignored files, relative to the repository root, '/'-separated. */
  untracked: string[];
  /** `git.patch` (relative to the run directory) when dirty, else null. */
  patchFile: string | null;
}

export interface TrackingOff {
  off: true;
  reason: string;
}

export interface TrackRunConfigOptions {
  /** Any folder inside the repository (usually the VS Code workspace folder). */
  workspace: string;
  runId: string;
  runDir: string;
  /** The exact text of the run's config.json. */
  configText: string;
  mode: 'commit' | 'off';
}

/** A repository was found but recording or reading failed. */
export class GitTrackingError extends Error {
  override name = 'GitTrackingError';
}

export const RUN_REF_PREFIX = 'refs/immiscible/runs/';
export const PATCH_FILE = 'git.patch';

export function runRefName(runId: string): string {
  return RUN_REF_PREFIX + checkRunId(runId);
}

/** Where the config sits inside the ref's tree, relative to the repository root. */
export function runConfigPath(runId: string): string {
  return `.immiscible/runs/${checkRunId(runId)}/config.json`;
}

/**
 * Run ids become a ref name component and a tree path; the generated `YYYYMMDD-HHMMSS-slug-xxxx`
 * always passes, anything else is refused here instead of producing a surprising ref or path.
 */
function checkRunId(runId: string): string {
  const ok =
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(runId) && !runId.includes('..') && !runId.endsWith('.lock') && !runId.endsWith('.');
  if (!ok) throw new GitTrackingError(`invalid run id for a git ref: ${JSON.stringify(runId)}`);
  return runId;
}

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

function oid(output: string, what: string): string {
  const value = output.trim();
  if (!OID.test(value)) throw new GitTrackingError(`git gave no object id for ${what}: ${JSON.stringify(value)}`);
  return value;
}

type Discovery = { top: string } | TrackingOff;

/** Finds the work tree that contains `workspace`, or why tracking cannot happen there. */
async function discover(workspace: string): Promise<Discovery> {
  const off = (why: string): TrackingOff => ({ off: true, reason: `${why}: configs are not tracked` });
  let isDir = false;
  try {
    isDir = fs.statSync(workspace).isDirectory();
  } catch {
    // Missing or unreadable: reported below as not a folder.
  }
  if (!isDir) return off(`${workspace} is not a folder`);
  let out: string;
  try {
    out = await gitAt(workspace).raw(['rev-parse', '--show-toplevel']);
  } catch (e) {
    const message = gitErrorMessage(e);
    if (/not a git repository/i.test(message)) return off(`${workspace} is not inside a git repository`);
    if (/ENOENT/.test(message)) return off('git was not found on PATH');
    return off(`git cannot use the repository of ${workspace} (${message})`);
  }
  const top = out.trim();
  // A bare repository or a .git folder has no work tree to describe.
  if (top === '') return off(`${workspace} is not inside a git work tree`);
  return { top };
}

async function mustDiscover(workspace: string): Promise<string> {
  const found = await discover(workspace);
  if ('off' in found) throw new GitTrackingError(found.reason);
  return found.top;
}

/**
 * Commits the run's config to `refs/immiscible/runs/<run-id>` on top of HEAD and records the
 * workspace's git state. Only objects and that one ref are written: HEAD, branches, the index
 * and the work tree are left exactly as they were, and nothing is pushed.
 *
 * Resolves to `{ off, reason }` when mode is 'off' or `workspace` is not in a git work tree;
 * rejects with GitTrackingError when a repository exists but recording fails (the caller decides
 * whether to launch anyway).
 */
export async function trackRunConfig(opts: TrackRunConfigOptions): Promise<GitRecord | TrackingOff> {
  if (opts.mode === 'off') {
    return { off: true, reason: 'config tracking in git is turned off: configs are not tracked' };
  }
  const ref = runRefName(opts.runId);
  const configPath = runConfigPath(opts.runId);
  const found = await discover(opts.workspace);
  if ('off' in found) return found;
  const { top } = found;
  const git = gitAt(top);

  // `-q --verify` fails silently on an unborn branch, which simple-git returns as empty output.
  const headOut = (await git.raw(['rev-parse', '-q', '--verify', 'HEAD^{commit}'])).trim();
  const head = headOut === '' ? null : oid(headOut, 'HEAD');
  const symbolic = (await git.raw(['symbolic-ref', '-q', 'HEAD'])).trim();
  const branch = head === null || symbolic === '' ? null : symbolic.replace(/^refs\/heads\//, '');
  if ((await git.raw(['rev-parse', '-q', '--verify', ref])).trim() !== '') {
    // Refs are created once per run; overwriting would silently lose the recorded config.
    throw new GitTrackingError(`${ref} already exists in ${top}`);
  }

  fs.mkdirSync(opts.runDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-git-'));
  const patchTmp = path.join(opts.runDir, `.${PATCH_FILE}.${process.pid}.tmp`);
  try {
    const state = await captureState(top, head, tmp, patchTmp);
    const commit = await commitConfig(top, {
      head,
      tmp,
      configText: opts.configText,
      configPath,
      message: commitMessage(opts.runId, head, branch, state.dirty),
    });
    // An empty old value makes update-ref create the ref only if it still does not exist.
    await git.raw(['update-ref', '-m', `immiscible: config of run ${opts.runId}`, ref, commit, '']);
    let patchFile: string | null = null;
    if (state.dirty) {
      fs.renameSync(patchTmp, path.join(opts.runDir, PATCH_FILE));
      patchFile = PATCH_FILE;
    }
    return { ref, commit, head, branch, dirty: state.dirty, untracked: state.untracked, patchFile };
  } catch (e) {
    if (e instanceof GitTrackingError) throw e;
    throw new GitTrackingError(`recording run ${opts.runId} in git failed: ${gitErrorMessage(e)}`);
  } finally {
    fs.rmSync(patchTmp, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Writes the uncommitted changes to tracked files (staged and not) as a binary-safe patch
 * against HEAD into `patchFile`, and lists untracked files.
 */
async function captureState(
  top: string,
  head: string | null,
  tmp: string,
  patchFile: string,
): Promise<{ dirty: boolean; untracked: string[] }> {
  // `git diff` rewrites the index when it finds stat-only changes, even with
  // GIT_OPTIONAL_LOCKS=0, so it runs against a copy of the index.
  const realIndex = path.resolve(top, (await gitAt(top).raw(['rev-parse', '--git-path', 'index'])).trim());
  const indexCopy = path.join(tmp, 'state.index');
  if (fs.existsSync(realIndex)) {
    fs.copyFileSync(realIndex, indexCopy);
    // Git trusts stat data only for entries older than the index file; keeping the original's
    // mtime keeps that racy-git check as strict as it is on the real index.
    const st = fs.statSync(realIndex);
    fs.utimesSync(indexCopy, st.atime, st.mtime);
  }
  const git = gitAt(top, { GIT_INDEX_FILE: indexCopy });

  let base = head;
  if (base === null) {
    // No commits: diff against the empty tree. Git knows its id without it being stored.
    const empty = path.join(tmp, 'empty');
    fs.writeFileSync(empty, '');
    base = oid(await git.raw(['hash-object', '-t', 'tree', empty]), 'the empty tree');
  }
  // --output keeps the patch's bytes as git wrote them (no decoding of non-UTF-8 content); the
  // other options pin down settings a user's config could change into something `git apply`
  // cannot read (no prefixes, external diff tools, textconv, colour, submodule logs).
  await git.raw([
    'diff',
    '--binary',
    '--no-color',
    '--no-ext-diff',
    '--no-textconv',
    '--no-relative',
    '--submodule=short',
    '--src-prefix=a/',
    '--dst-prefix=b/',
    `--output=${patchFile}`,
    base,
    '--',
  ]);
  const dirty = fs.statSync(patchFile).size > 0;

  const listed = await git.raw(['ls-files', '-z', '--others', '--exclude-standard']);
  const untracked = listed.split('\0').filter((p) => p !== '');
  untracked.sort();
  return { dirty, untracked };
}

/**
 * Builds HEAD's tree plus the config blob in a temporary index and commits it. Objects are
 * written to the repository, but the real index, HEAD and the work tree are never used.
 */
async function commitConfig(
  top: string,
  c: { head: string | null; tmp: string; configText: string; configPath: string; message: string },
): Promise<string> {
  const git = gitAt(top, { GIT_INDEX_FILE: path.join(c.tmp, 'commit.index') });
  // The commit id read earlier, not "HEAD": the tree and the recorded head must agree even if
  // the user commits meanwhile.
  if (c.head !== null) await git.raw(['read-tree', c.head]);
  const configFile = path.join(c.tmp, 'config.json');
  fs.writeFileSync(configFile, c.configText);
  // --no-filters stores the exact bytes: autocrlf or clean filters would change what
  // readRunConfigFromRef gives back.
  const blob = oid(await git.raw(['hash-object', '-w', '--no-filters', configFile]), 'the config blob');
  await git.raw(['update-index', '--add', '--cacheinfo', `100644,${blob},${c.configPath}`]);
  const tree = oid(await git.raw(['write-tree']), 'the tree');
  // --no-gpg-sign: commit.gpgSign would otherwise prompt for a passphrase during the launch.
  const args = ['commit-tree', '--no-gpg-sign', ...(c.head === null ? [] : ['-p', c.head]), '-m', c.message, tree];
  try {
    return oid(await git.raw(args), 'the commit');
  } catch (e) {
    if (!/identity unknown|tell me who you are|empty ident|auto-detect|no name was given/i.test(gitErrorMessage(e) + String(e))) {
      throw e;
    }
    // No user identity configured: still record the run, under a recognisable name, rather
    // than failing the launch or writing to the user's config.
    const who = { NAME: 'Immiscible Lab', EMAIL: 'immiscible-lab@localhost' };
    const fallback = gitAt(top, {
      GIT_INDEX_FILE: path.join(c.tmp, 'commit.index'),
      GIT_AUTHOR_NAME: who.NAME,
      GIT_AUTHOR_EMAIL: who.EMAIL,
      GIT_COMMITTER_NAME: who.NAME,
      GIT_COMMITTER_EMAIL: who.EMAIL,
    });
    return oid(await fallback.raw(args), 'the commit');
  }
}

function commitMessage(runId: string, head: string | null, branch: string | null, dirty: boolean): string {
  const at = head === null ? 'a repository with no commits' : `${head}${branch === null ? ' (detached)' : ` on ${branch}`}`;
  const tree = dirty ? `uncommitted changes are in ${PATCH_FILE} in the run directory` : 'the work tree was clean';
  return `Immiscible Lab: config of run ${runId}\n\nLaunched from ${at}; ${tree}.\n`;
}

/**
 * The config text recorded for `runId`, byte for byte. Uses `cat-file blob` rather than
 * `git show`, which may apply a textconv driver to the blob.
 */
export async function readRunConfigFromRef(workspace: string, runId: string): Promise<string> {
  const ref = runRefName(runId);
  const top = await mustDiscover(workspace);
  const git = gitAt(top);
  if ((await git.raw(['rev-parse', '-q', '--verify', `${ref}^{commit}`])).trim() === '') {
    throw new GitTrackingError(`no config recorded in git for run ${runId}: ${ref} does not exist in ${top}`);
  }
  try {
    return await git.raw(['cat-file', 'blob', `${ref}:${runConfigPath(runId)}`]);
  } catch (e) {
    throw new GitTrackingError(`${ref} holds no ${runConfigPath(runId)}: ${gitErrorMessage(e)}`);
  }
}

/** Run ids that have a config ref, oldest first (ids start with their UTC launch time). */
export async function listRunRefs(workspace: string): Promise<string[]> {
  const found = await discover(workspace);
  if ('off' in found) return [];
  const out = await gitAt(found.top).raw(['for-each-ref', '--format=%(refname)', RUN_REF_PREFIX]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(RUN_REF_PREFIX))
    .map((l) => l.slice(RUN_REF_PREFIX.length))
    .sort();
}
