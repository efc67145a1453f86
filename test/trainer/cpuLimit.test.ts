/**
 * CPU quotas: the parsers and the cgroup walk on laid-out folders, then the trainer in a real
 * cgroup with a 1-CPU quota (where this machine lets us make one).
 */
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cgroupCpuQuota, describeCpuBudget, parseCfsQuota, parseCpuMax } from '../../src/trainer/cpuLimit';

const root = path.resolve(__dirname, '../..');
const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A folder standing for `/`, with the given files. */
function layout(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-cgroup-'));
  made.push(dir);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

test('cpu.max and cfs_quota_us: a quota over a period, "max" and -1 mean no limit', () => {
  assert.equal(parseCpuMax('max 100000\n'), null);
  assert.equal(parseCpuMax('150000 100000\n'), 1.5);
  assert.equal(parseCpuMax('50000 100000'), 0.5);
  assert.equal(parseCpuMax('200000'), 2, 'the period defaults to 100 ms');
  assert.equal(parseCpuMax('garbage'), null);
  assert.equal(parseCfsQuota('-1\n', '100000\n'), null);
  assert.equal(parseCfsQuota('400000\n', '100000\n'), 4);
  assert.equal(parseCfsQuota('100000', '0'), null);
});

test('cgroup v2: the tightest quota on the process\'s group or any above it', () => {
  const r = layout({
    'proc/self/cgroup': '0::/user.slice/job/step\n',
    'sys/fs/cgroup/user.slice/cpu.max': 'max 100000\n',
    'sys/fs/cgroup/user.slice/job/cpu.max': '250000 100000\n',
    'sys/fs/cgroup/user.slice/job/step/cpu.max': '300000 100000\n',
  });
  assert.deepEqual(cgroupCpuQuota(r), { cpus: 2.5, file: path.join(r, 'sys/fs/cgroup/user.slice/job/cpu.max') });
  // A container in its own cgroup namespace: its group is "/".
  const c = layout({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '100000 100000\n' });
  assert.equal(cgroupCpuQuota(c)?.cpus, 1);
  assert.equal(cgroupCpuQuota(layout({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'max 100000\n' })), null);
});

test('cgroup v1: the cpu hierarchy, mounted as cpu or cpu,cpuacct; other controllers ignored', () => {
  const host = layout({
    'proc/self/cgroup': '5:memory:/batch/7\n4:cpu,cpuacct:/batch/7\n0::/\n',
    'sys/fs/cgroup/cpu,cpuacct/batch/7/cpu.cfs_quota_us': '200000\n',
    'sys/fs/cgroup/cpu,cpuacct/batch/7/cpu.cfs_period_us': '100000\n',
    'sys/fs/cgroup/memory/batch/7/cpu.cfs_quota_us': '50000\n',
    'sys/fs/cgroup/memory/batch/7/cpu.cfs_period_us': '100000\n',
  });
  assert.deepEqual(cgroupCpuQuota(host), { cpus: 2, file: path.join(host, 'sys/fs/cgroup/cpu,cpuacct/batch/7/cpu.cfs_quota_us') });
  // A container without a cgroup namespace: /proc names the host's path, the mount's root is the container's group.
  const docker = layout({
    'proc/self/cgroup': '2:cpu:/docker/0123abcd\n',
    'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '150000\n',
    'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
  });
  assert.equal(cgroupCpuQuota(docker)?.cpus, 1.5);
  assert.equal(cgroupCpuQuota(layout({ 'proc/self/cgroup': '1:cpu:/\n', 'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', 'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), null);
  assert.equal(cgroupCpuQuota(layout({})), null, 'no /proc/self/cgroup: no quota');
});

test('the budget is described only when a quota lowers it, rounded up to whole CPUs', () => {
  assert.equal(describeCpuBudget({ cpus: 8, cores: 8, quota: null }), null);
  assert.equal(describeCpuBudget({ cpus: 8, cores: 8, quota: { cpus: 12, file: 'f' } }), null);
  assert.equal(describeCpuBudget({ cpus: 2, cores: 64, quota: { cpus: 1.5, file: '/sys/fs/cgroup/cpu.max' } }), 'CPU quota of 1.5 CPUs (/sys/fs/cgroup/cpu.max) on 64 cores: threads sized for 2');
});

/** A cgroup v1 cpu group with a 1-CPU quota, or why one cannot be made here. */
function quotaGroup(): { dir: string } | { skip: string } {
  if (os.availableParallelism() < 2) return { skip: 'one core: a 1-CPU quota changes nothing' };
  const v1 = '/sys/fs/cgroup/cpu';
  if (!fs.existsSync(path.join(v1, 'cpu.cfs_quota_us'))) return { skip: `no cgroup v1 cpu hierarchy at ${v1} (the test makes a group there)` };
  const dir = path.join(v1, `immiscible-test-${process.pid}`);
  try {
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '100000');
    fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), '100000');
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot make a cgroup with a quota here: ${(e as Error).message}` };
  }
  return { dir };
}

test('in a cgroup with a 1-CPU quota the trainer sizes its threads to it, unless OMP_NUM_THREADS says otherwise', (t) => {
  const g = quotaGroup();
  if ('skip' in g) {
    t.skip(g.skip);
    return;
  }
  try {
    const train = (env: NodeJS.ProcessEnv): string => {
      const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-quota-'));
      made.push(runs);
      const args = ['--config', 'configs/mnist-immiscible.json', '--set', 'training.steps=3', '--set', 'training.sampleEvery=0', '--set', 'training.checkpointEvery=0', '--runs', runs];
      // The shell moves itself into the group, then becomes the trainer.
      const r = spawnSync('sh', ['-c', `echo $$ > ${g.dir}/cgroup.procs && exec "$@"`, 'sh', process.execPath, 'bin/immiscible.js', 'train', ...args], { cwd: root, env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const [run] = fs.readdirSync(runs);
      return fs.readFileSync(path.join(runs, run, 'train.log'), 'utf8');
    };
    const env = { ...process.env };
    delete env.OMP_NUM_THREADS;
    delete env.IMMISCIBLE_NOISE_THREADS;
    const log = train(env);
    assert.match(log, new RegExp(`CPU quota of 1 CPU \\(${g.dir}/cpu\\.cfs_quota_us\\) on \\d+ cores: threads sized for 1 \\(0 noise threads, OMP_NUM_THREADS=1\\)`));
    if (log.includes('oneDNN')) assert.match(log, /oneDNN [\d.]+, 1 thread\)/);
    const set = train({ ...env, OMP_NUM_THREADS: '2' });
    assert.match(set, /threads sized for 1 \(0 noise threads, OMP_NUM_THREADS=2\)/);
    if (set.includes('oneDNN')) assert.match(set, /oneDNN [\d.]+, 2 threads\)/);
  } finally {
    fs.rmdirSync(g.dir);
  }
});
