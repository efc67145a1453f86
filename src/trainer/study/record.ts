/** study.json: created, read back for a resume, and saved atomically. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeJsonAtomic } from '../../core/run/fsAtomic';
import { isPidAlive, isRunBeingTrained } from '../../core/run/liveness';
import { readRunRecord } from '../../core/run/reader';
import { STUDY_FILES, STUDY_FORMAT, STUDY_FORMAT_VERSION, type Machine, type StudyRecord, type StudyRunEntry } from '../../core/study/format';
import { metricGoal } from '../../core/study/analyze';
import { StudyUsageError, type StudyArgs } from './args';

export function machine(): Machine {
  const cpus = os.cpus();
  return { hostname: os.hostname(), os: `${os.type()} ${os.release()} ${os.arch()}`, cpuModel: cpus[0]?.model.trim() ?? 'unknown', cpuCount: cpus.length, node: process.version, loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100) };
}

const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function commandLine(argv: readonly string[]): string {
  return ['immiscible', 'study', ...argv].map(quote).join(' ');
}

export function newStudyRecord(a: StudyArgs, argv: readonly string[], now = new Date()): StudyRecord {
  const runs: StudyRunEntry[] = [];
  for (const seed of a.seeds)
    for (const mode of a.modes)
      runs.push({ index: runs.length, mode, seed, name: `${a.name}-${mode}-s${seed}`, runDir: null, runId: null, status: 'pending', attempts: 0, seconds: 0, startedAt: null, endedAt: null });
  return {
    format: STUDY_FORMAT,
    version: STUDY_FORMAT_VERSION,
    status: 'running',
    name: a.name,
    command: commandLine(argv),
    argv: [...argv],
    cwd: process.cwd(),
    config: { file: a.configFile, sha256: a.configSha256 },
    modes: a.modes,
    seeds: a.seeds,
    steps: a.steps,
    set: a.set,
    metric: a.metric,
    goal: metricGoal(a.metric),
    evaluation: { every: a.evaluationEvery, defaulted: a.evaluationDefaulted },
    thresholds: a.thresholds,
    runsDir: a.runsDir,
    machine: machine(),
    startedAt: now.toISOString(),
    endedAt: null,
    durationSeconds: 0,
    runs,
    error: null,
    results: null,
  };
}

export function readStudyRecord(outDir: string): StudyRecord | null {
  const file = path.join(outDir, STUDY_FILES.record);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let v: StudyRecord;
  try {
    v = JSON.parse(text) as StudyRecord;
  } catch (e) {
    throw new StudyUsageError(`--out: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (v.format !== STUDY_FORMAT || v.version !== STUDY_FORMAT_VERSION) throw new StudyUsageError(`--out: ${file} is not a study record of version ${STUDY_FORMAT_VERSION}`);
  return v;
}

/** A resume must run the same study: same config bytes, modes, seeds and steps. */
export function checkSameStudy(rec: StudyRecord, a: StudyArgs): void {
  const where = path.join(a.outDir, STUDY_FILES.record);
  const diff = (flag: string, was: string, now: string): void => {
    if (was !== now) throw new StudyUsageError(`${flag}: ${where} is a study with ${flag} ${was}, this command has ${now}; resume it with the same flags or choose another --out`);
  };
  if (rec.config.sha256 !== a.configSha256)
    throw new StudyUsageError(`--config: ${where} is a study of ${rec.config.file} (sha256 ${rec.config.sha256.slice(0, 16)}), this command has ${a.configFile} (sha256 ${a.configSha256.slice(0, 16)}); resume it with the same config or choose another --out`);
  diff('--modes', rec.modes.join(','), a.modes.join(','));
  diff('--seeds', rec.seeds.join(','), a.seeds.join(','));
  diff('--steps', String(rec.steps), String(a.steps));
  diff('--set', rec.set.join(' '), a.set.join(' '));
}

export function saveStudyRecord(outDir: string, rec: StudyRecord): void {
  writeJsonAtomic(path.join(outDir, STUDY_FILES.record), rec);
}

/**
 * Whether a study process runs this study now, so that a second one must not start on it: on its
 * host, its pid alive; from another host (a shared folder), the trainer of its current run alive.
 */
export function studyRunningNow(rec: StudyRecord): boolean {
  if (rec.status !== 'running') return false;
  if ((rec.host ?? os.hostname()) === os.hostname()) return rec.pid != null && rec.pid !== process.pid && isPidAlive(rec.pid);
  return rec.runs.some((e) => {
    if (e.status !== 'running' || !e.runDir) return false;
    const r = readRunRecord(e.runDir).record;
    return r !== null && isRunBeingTrained(r);
  });
}
