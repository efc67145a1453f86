import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  GitTrackingError,
  listRunRefs,
  readRunConfigFromRef,
  runConfigPath,
  trackRunConfig,
  type GitRecord,
  type TrackingOff,
} from '../../src/extension/git/configTracker';

// Real repositories in a temp folder. The user's global and system git config are kept out (an
// empty GIT_CONFIG_GLOBAL, no system file) so that e.g. commit.gpgSign or init.defaultBranch on
// the machine cannot change the results; identities are set per repository. The ceiling keeps
// git from finding a repository above the temp folder for the "outside any repo" case.
const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-gittest-')));
const globalConfig = path.join(root, 'empty.gitconfig');
fs.writeFileSync(globalConfig, '');
process.env.GIT_CONFIG_GLOBAL = globalConfig;
process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CEILING_DIRECTORIES = root;
after(() => fs.rmSync(root, { recursive: true, force: true }));

// The observer must not disturb what it observes: status would otherwise refresh the index.
const observeEnv = { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' };

function gitBuf(cwd: string, args: string[]): Buffer {
  return execFileSync('git', args, { cwd, env: observeEnv, stdio: ['ignore', 'pipe', 'pipe'] });
}
function git(cwd: string, args: string[]): string {
  return gitBuf(cwd, args).toString('utf8');
}
function gitTry(cwd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync('git', args, { cwd, env: observeEnv, encoding: 'utf8' });
  return { status: r.status, out: r.stdout };
}

let seq = 0;
function dir(name: string): string {
  const d = path.join(root, `${name}-${++seq}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}
function runId(): string {
  return `20261126-133000-test-${(++seq).toString(16).padStart(4, '0')}`;
}
function write(repo: string, file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
  fs.writeFileSync(path.join(repo, file), data);
}

function newRepo(files: Record<string, string | Buffer> = {}, commits = 1): string {
  const repo = dir('repo');
  git(repo, ['init', '-q', '-b', 'main']);
  git(repo, ['config', 'user.name', 'Test User']);
  git(repo, ['config', 'user.email', 'test@example.com']);
  for (let i = 0; i < commits; i++) {
    write(repo, `history-${i}.txt`, `commit ${i}\n`);
    if (i === 0) for (const [f, data] of Object.entries(files)) write(repo, f, data);
    git(repo, ['add', '-A']);
    git(repo, ['commit', '-q', '-m', `commit ${i}`]);
  }
  return repo;
}

interface Snapshot {
  index: Buffer | null;
  status: string;
  head: { status: number | null; out: string };
  symref: { status: number | null; out: string };
  heads: string;
}

function snapshot(repo: string): Snapshot {
  const indexFile = path.join(repo, '.git', 'index');
  // The index bytes first, before any git command of ours could have touched it.
  const index = fs.existsSync(indexFile) ? fs.readFileSync(indexFile) : null;
  return {
    index,
    status: git(repo, ['status', '--porcelain=v1', '-uall']),
    head: gitTry(repo, ['rev-parse', 'HEAD']),
    symref: gitTry(repo, ['symbolic-ref', '-q', 'HEAD']),
    heads: git(repo, ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads']),
  };
}

function isRecord(r: GitRecord | TrackingOff): GitRecord {
  assert.ok(!('off' in r), `tracking was off: ${'off' in r ? r.reason : ''}`);
  return r;
}

/** Tracks a run and checks that HEAD, branch, index and work tree are exactly as before. */
async function trackUntouched(repo: string, id: string, configText: string, workspace = repo): Promise<{ rec: GitRecord; runDir: string }> {
  const runDir = dir('run');
  const before = snapshot(repo);
  const rec = isRecord(await trackRunConfig({ workspace, runId: id, runDir, configText, mode: 'commit' }));
  const afterSnap = snapshot(repo);
  assert.deepEqual(afterSnap, before, 'the repository state changed');
  return { rec, runDir };
}

/** The ref's commit sits on HEAD (or has no parent) and adds exactly the config. */
function checkRefCommit(repo: string, id: string, rec: GitRecord, configText: string, head: string | null): void {
  assert.equal(rec.ref, `refs/immiscible/runs/${id}`);
  assert.equal(git(repo, ['rev-parse', rec.ref]).trim(), rec.commit);
  assert.equal(rec.head, head);
  const [commit, ...parents] = git(repo, ['rev-list', '--parents', '-n', '1', rec.ref]).trim().split(' ');
  assert.equal(commit, rec.commit);
  assert.deepEqual(parents, head === null ? [] : [head]);
  const cfgPath = `.immiscible/runs/${id}/config.json`;
  assert.equal(runConfigPath(id), cfgPath);
  assert.deepEqual(gitBuf(repo, ['cat-file', 'blob', `${rec.ref}:${cfgPath}`]), Buffer.from(configText));
  const changed =
    head === null
      ? git(repo, ['ls-tree', '-r', '--name-only', rec.ref])
      : git(repo, ['diff-tree', '-r', '--no-renames', '--name-only', head, rec.ref]);
  assert.deepEqual(changed.trim().split('\n'), [cfgPath]);
}

/** The recorded patch applies to a clean checkout of HEAD and recreates the tracked files. */
function checkPatchRecreates(repo: string, runDir: string, rec: GitRecord): void {
  assert.equal(rec.patchFile, 'git.patch');
  const patch = path.join(runDir, 'git.patch');
  const changed = git(repo, ['diff', '--name-only', '-z', rec.head ?? '4b825dc642cb6eb9a060e54bf8d69288fbee4904', '--'])
    .split('\0')
    .filter((p) => p !== '');
  assert.ok(changed.length > 0);
  const target = dir('checkout');
  let cleanup = (): void => undefined;
  if (rec.head !== null) {
    // A separate worktree of the same repository, so HEAD's files are there without copying.
    fs.rmdirSync(target);
    git(repo, ['worktree', 'add', '-q', '--detach', target, rec.head]);
    cleanup = () => git(repo, ['worktree', 'remove', '--force', target]);
  }
  try {
    git(target, ['apply', '--check', patch]);
    git(target, ['apply', patch]);
    for (const f of changed) {
      const want = path.join(repo, f);
      const got = path.join(target, f);
      assert.equal(fs.existsSync(got), fs.existsSync(want), f);
      if (fs.existsSync(want)) assert.deepEqual(fs.readFileSync(got), fs.readFileSync(want), f);
    }
  } finally {
    cleanup();
  }
}

test('a repository with commits, clean: records HEAD and branch, no patch', async () => {
  const repo = newRepo({ 'a.txt': 'alpha\n' }, 2);
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  const id = runId();
  const text = '{\n  "name": "clean"\n}\n';
  const { rec, runDir } = await trackUntouched(repo, id, text);
  checkRefCommit(repo, id, rec, text, head);
  assert.equal(rec.branch, 'main');
  assert.equal(rec.dirty, false);
  assert.deepEqual(rec.untracked, []);
  assert.equal(rec.patchFile, null);
  assert.deepEqual(fs.readdirSync(runDir), []);
  assert.equal(git(repo, ['log', '-1', '--format=%an', rec.ref]).trim(), 'Test User');
});

test('a workspace in a subfolder records the config at the repository root', async () => {
  const repo = newRepo({ 'sub/folder/x.txt': 'x\n' });
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  const id = runId();
  const { rec } = await trackUntouched(repo, id, '{}', path.join(repo, 'sub', 'folder'));
  checkRefCommit(repo, id, rec, '{}', head);
});

test('a repository with no commits (and no index): no parent, head and branch null', async () => {
  const repo = dir('empty');
  git(repo, ['init', '-q', '-b', 'main']);
  git(repo, ['config', 'user.name', 'Test User']);
  git(repo, ['config', 'user.email', 'test@example.com']);
  assert.equal(fs.existsSync(path.join(repo, '.git', 'index')), false);
  const id = runId();
  const { rec, runDir } = await trackUntouched(repo, id, '{"a":1}');
  checkRefCommit(repo, id, rec, '{"a":1}', null);
  assert.equal(rec.branch, null);
  assert.equal(rec.dirty, false);
  assert.equal(rec.patchFile, null);
  assert.deepEqual(fs.readdirSync(runDir), []);
  assert.equal(fs.existsSync(path.join(repo, '.git', 'index')), false, 'an index appeared');
  // The unborn branch must stay unborn: the ref is not a branch.
  assert.notEqual(gitTry(repo, ['rev-parse', '--verify', '-q', 'refs/heads/main']).status, 0);
});

test('a repository with no commits but staged and modified files: patch against the empty tree', async () => {
  const repo = dir('empty-staged');
  git(repo, ['init', '-q', '-b', 'main']);
  git(repo, ['config', 'user.name', 'Test User']);
  git(repo, ['config', 'user.email', 'test@example.com']);
  write(repo, 'staged.txt', 'one\n');
  write(repo, 'later.txt', 'first\n');
  git(repo, ['add', 'staged.txt', 'later.txt']);
  write(repo, 'later.txt', 'first\nsecond\n');
  write(repo, 'loose.txt', 'untracked\n');
  const id = runId();
  const { rec, runDir } = await trackUntouched(repo, id, '{"b":2}');
  checkRefCommit(repo, id, rec, '{"b":2}', null);
  assert.equal(rec.dirty, true);
  assert.deepEqual(rec.untracked, ['loose.txt']);
  checkPatchRecreates(repo, runDir, rec);
});

test('a detached HEAD: branch null, parent is the detached commit', async () => {
  const repo = newRepo({ 'a.txt': 'alpha\n' }, 3);
  git(repo, ['checkout', '-q', '--detach', 'HEAD~1']);
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  const id = runId();
  const { rec } = await trackUntouched(repo, id, '{"detached":true}');
  checkRefCommit(repo, id, rec, '{"detached":true}', head);
  assert.equal(rec.branch, null);
  assert.equal(rec.dirty, false);
});

test('a dirty tree: staged, unstaged, new, deleted, binary and non-UTF-8 changes in a patch that recreates them', async () => {
  const binary = Buffer.from([0, 1, 2, 3, 255, 254, 0, 10, 13, 0]);
  const repo = newRepo({
    'a.txt': 'alpha\n',
    'b.txt': 'beta\n',
    'del.txt': 'to be deleted\n',
    'bin.dat': binary,
    'latin1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
    'touched.txt': 'same content\n',
    '.gitignore': '*.log\n',
  });
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  write(repo, 'a.txt', 'alpha\nmodified, not staged\n');
  write(repo, 'b.txt', 'beta\nstaged\n');
  git(repo, ['add', 'b.txt']);
  write(repo, 'b.txt', 'beta\nstaged\nand then modified\n');
  write(repo, 'new.txt', 'a new staged file\n');
  git(repo, ['add', 'new.txt']);
  fs.rmSync(path.join(repo, 'del.txt'));
  write(repo, 'bin.dat', Buffer.concat([binary, Buffer.from([7, 0, 7])]));
  write(repo, 'latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0xe0, 0x0a]));
  // Stat-only change: a plain `git diff` would rewrite the index to refresh it.
  const future = new Date(Date.now() + 60_000);
  fs.utimesSync(path.join(repo, 'touched.txt'), future, future);
  write(repo, 'untracked.txt', 'u\n');
  write(repo, 'ignored.log', 'ignored\n');

  const id = runId();
  const text = '{"dirty":true}\n';
  const { rec, runDir } = await trackUntouched(repo, id, text);
  checkRefCommit(repo, id, rec, text, head);
  assert.equal(rec.branch, 'main');
  assert.equal(rec.dirty, true);
  assert.deepEqual(rec.untracked, ['untracked.txt']);
  assert.deepEqual(fs.readdirSync(runDir), ['git.patch'], 'a temporary file was left behind');
  const patch = fs.readFileSync(path.join(runDir, 'git.patch'), 'utf8');
  assert.ok(!patch.includes('touched.txt'), 'a stat-only change is not a change');
  assert.ok(patch.includes('GIT binary patch'));
  checkPatchRecreates(repo, runDir, rec);
});

test('untracked files are listed (ignored ones not) and do not make the tree dirty', async () => {
  const repo = newRepo({ '.gitignore': '*.log\nbuild/\n' });
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  write(repo, 'notes.md', 'n\n');
  write(repo, 'data/deep/sample.json', '{}\n');
  write(repo, 'name with spaces é.txt', 's\n');
  write(repo, 'debug.log', 'ignored\n');
  write(repo, 'build/out.bin', 'ignored\n');
  const id = runId();
  const { rec, runDir } = await trackUntouched(repo, id, '{}');
  checkRefCommit(repo, id, rec, '{}', head);
  assert.equal(rec.dirty, false);
  assert.equal(rec.patchFile, null);
  assert.deepEqual(rec.untracked, ['data/deep/sample.json', 'name with spaces é.txt', 'notes.md']);
  assert.deepEqual(fs.readdirSync(runDir), []);
});

test('a path outside any repository: off with one clear reason, nothing written', async () => {
  const outside = dir('outside');
  assert.notEqual(gitTry(outside, ['rev-parse', '--git-dir']).status, 0, 'precondition: not in a repository');
  const runDir = dir('run');
  const r = await trackRunConfig({ workspace: outside, runId: runId(), runDir, configText: '{}', mode: 'commit' });
  assert.deepEqual(r, { off: true, reason: `${outside} is not inside a git repository: configs are not tracked` });
  assert.deepEqual(fs.readdirSync(runDir), []);
  assert.deepEqual(await listRunRefs(outside), []);
  await assert.rejects(readRunConfigFromRef(outside, 'x'), (e: unknown) => e instanceof GitTrackingError && /not inside a git repository/.test(e.message));
});

test("mode 'off' in a repository: off, no ref, nothing touched", async () => {
  const repo = newRepo();
  const before = snapshot(repo);
  const runDir = dir('run');
  const r = await trackRunConfig({ workspace: repo, runId: runId(), runDir, configText: '{}', mode: 'off' });
  assert.ok('off' in r && r.off === true && /turned off/.test(r.reason));
  assert.deepEqual(snapshot(repo), before);
  assert.deepEqual(await listRunRefs(repo), []);
  assert.deepEqual(fs.readdirSync(runDir), []);
});

test('two runs in a row: two refs on the same HEAD; an existing ref is never overwritten', async () => {
  const repo = newRepo({ 'a.txt': 'alpha\n' });
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  const [id1, id2] = [runId(), runId()];
  const { rec: r1 } = await trackUntouched(repo, id1, '{"run":1}\n');
  write(repo, 'a.txt', 'alpha\nbetween the runs\n');
  const { rec: r2 } = await trackUntouched(repo, id2, '{"run":2}\n');
  checkRefCommit(repo, id1, r1, '{"run":1}\n', head);
  checkRefCommit(repo, id2, r2, '{"run":2}\n', head);
  assert.equal(r1.dirty, false);
  assert.equal(r2.dirty, true);
  assert.notEqual(r1.commit, r2.commit);
  assert.deepEqual(await listRunRefs(repo), [id1, id2]);
  await assert.rejects(
    trackRunConfig({ workspace: repo, runId: id1, runDir: dir('run'), configText: '{"run":3}', mode: 'commit' }),
    (e: unknown) => e instanceof GitTrackingError && /already exists/.test(e.message),
  );
  assert.equal(git(repo, ['rev-parse', r1.ref]).trim(), r1.commit);
  assert.equal(await readRunConfigFromRef(repo, id1), '{"run":1}\n');
  assert.equal(await readRunConfigFromRef(repo, id2), '{"run":2}\n');
});

test('restore reads back the exact config text, whatever the line-ending settings', async () => {
  const repo = newRepo({ '.gitattributes': '* text=auto eol=crlf\n' });
  git(repo, ['config', 'core.autocrlf', 'true']);
  const text = '\uFEFF{\r\n  "name": "héllo ✓",\n  "lr": 0.0002\r\n}';
  const id = runId();
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  const { rec } = await trackUntouched(repo, id, text);
  checkRefCommit(repo, id, rec, text, head);
  assert.equal(await readRunConfigFromRef(repo, id), text);
  await assert.rejects(readRunConfigFromRef(repo, runId()), (e: unknown) => e instanceof GitTrackingError && /does not exist/.test(e.message));
});

test('no user identity configured: the commit is made under a fallback identity', async () => {
  const repo = dir('noident');
  git(repo, ['init', '-q', '-b', 'main']);
  git(repo, ['config', 'user.useConfigOnly', 'true']);
  write(repo, 'a.txt', 'a\n');
  git(repo, ['add', 'a.txt']);
  git(repo, ['-c', 'user.name=Setup', '-c', 'user.email=setup@example.com', 'commit', '-q', '-m', 'init']);
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  const id = runId();
  const { rec } = await trackUntouched(repo, id, '{}');
  checkRefCommit(repo, id, rec, '{}', head);
  assert.equal(git(repo, ['log', '-1', '--format=%an <%ae>', rec.ref]).trim(), 'Immiscible Lab <immiscible-lab@localhost>');
});

test('inherited GIT_DIR / GIT_INDEX_FILE and editor variables do not redirect or block tracking', async () => {
  const repo = newRepo();
  const decoy = newRepo();
  const head = git(repo, ['rev-parse', 'HEAD']).trim();
  const saved = { ...process.env };
  Object.assign(process.env, {
    GIT_DIR: path.join(decoy, '.git'),
    GIT_INDEX_FILE: path.join(decoy, '.git', 'index'),
    EDITOR: 'vi',
    PAGER: 'less',
    GIT_ASKPASS: '/bin/false',
  });
  const decoyBefore = snapshot(decoy);
  try {
    const id = runId();
    const rec = isRecord(await trackRunConfig({ workspace: repo, runId: id, runDir: dir('run'), configText: '{}', mode: 'commit' }));
    for (const k of ['GIT_DIR', 'GIT_INDEX_FILE', 'EDITOR', 'PAGER', 'GIT_ASKPASS']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    checkRefCommit(repo, id, rec, '{}', head);
    assert.deepEqual(snapshot(decoy), decoyBefore);
    assert.deepEqual(await listRunRefs(decoy), []);
  } finally {
    for (const k of ['GIT_DIR', 'GIT_INDEX_FILE', 'EDITOR', 'PAGER', 'GIT_ASKPASS']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('invalid run ids are refused before git is touched', async () => {
  const repo = newRepo();
  for (const bad of ['../x', 'a..b', 'x.lock', '-x', 'a/b', 'a b', '']) {
    await assert.rejects(
      trackRunConfig({ workspace: repo, runId: bad, runDir: dir('run'), configText: '{}', mode: 'commit' }),
      GitTrackingError,
      bad,
    );
  }
  assert.deepEqual(await listRunRefs(repo), []);
});
