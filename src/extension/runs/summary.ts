/** Short human-readable texts for the runs tree: a run's one-line description and its tooltip. */
import type { RunConfig } from '../../core/config/types';
import type { MetricsLine, RunRecord } from '../../core/run/format';
import { formatLoss } from '../../core/run/describe';

const truncate = (s: string, n: number): string => (s.length <= n ? s : s.slice(0, n - 1) + '…');

function dataLine(c: RunConfig): string {
  const d = c.data;
  const limit = d.limit > 0 ? `, first ${d.limit}` : '';
  switch (d.source) {
    case 'toy2d':
      return `toy2d ${d.distribution} (${d.count} points)`;
    case 'mnist':
      return `mnist ${d.split}, ${d.imageSize}x${d.imageSize}${limit}`;
    default:
      return `${d.source} ${d.path ?? '(no path)'}, ${d.imageSize}x${d.imageSize}${limit}`;
  }
}

function modelLine(c: RunConfig): string {
  const m = c.model;
  if (m.type === 'mlp') return `MLP ${m.layers} x ${m.hidden}`;
  const attn = m.attentionResolutions.length ? `, attention at ${m.attentionResolutions.join('/')}` : '';
  const cond = m.classConditional ? ', class-conditional' : '';
  return `UNet base ${m.baseChannels}, mults ${m.channelMults.join('-')}, ${m.resBlocks} res block${m.resBlocks === 1 ? '' : 's'}${attn}${cond}`;
}

function assignmentLine(c: RunConfig): string {
  const a = c.assignment;
  if (a.mode === 'none') return 'none (random noise)';
  if (a.mode === 'knn') return `knn, cost ${a.cost}, k ${a.k}${a.knnOn === 'backend' ? ', candidates drawn on the backend (Philox)' : ''}`;
  return `${a.mode}, cost ${a.cost}`;
}

/** Readers fill in `objective` for configs written before it (readRunConfig); absent, it is DDPM too. */
function objectiveLine(c: RunConfig): string {
  const objective = c.objective;
  if (objective === 'flow') return `flow matching: ${c.flow.timeSampling} times, sampler ${c.sampling.sampler}`;
  if (objective === 'consistency') return `consistency training: curriculum ${c.consistency.s0} to ${c.consistency.s1} intervals, sampler ${c.sampling.sampler}`;
  return `diffusion: T ${c.diffusion.timesteps}, ${c.diffusion.schedule} schedule`;
}

/** The config facts that tell runs apart, one per line. */
export function configSummary(config: RunConfig, record: RunRecord | null): string[] {
  const t = config.training;
  const backend = record?.backend ? `${record.backend}${record.device ? ` (${record.device})` : ''}` : `${config.backend} (requested)`;
  return [
    `data: ${dataLine(config)}`,
    `model: ${modelLine(config)}`,
    `assignment: ${assignmentLine(config)}`,
    objectiveLine(config),
    `batch ${t.batchSize} · ${t.steps} steps · lr ${t.lr} · seed ${config.seed}`,
    `backend: ${backend}`,
  ];
}

/** A config.json edited by hand may not have the shape the types promise; the tooltip must not throw. */
export function safeConfigSummary(config: RunConfig | null, configError: string | null, record: RunRecord | null): string[] {
  if (!config) return [`config: ${configError ?? 'missing'}`];
  try {
    return configSummary(config, record);
  } catch (e) {
    return [`config: unexpected shape (${(e as Error).message})`];
  }
}

/** The best value of a run's headline evaluation metric (from eval.jsonl). */
export interface BestMetric {
  metric: string;
  value: number;
  step: number;
}

export interface DescribeInput {
  status: string;
  record: RunRecord | null;
  recordError: string | null;
  last: MetricsLine | null;
  best?: BestMetric | null;
}

export function runDescription(i: DescribeInput): string {
  if (!i.record) return truncate(i.recordError ?? 'run.json unreadable', 120);
  const r = i.record;
  // The heartbeat step lags by up to 5 s; the newest metrics line is usually fresher.
  const step = Math.max(r.step, i.last?.step ?? 0);
  const parts = [`step ${step}/${r.totalSteps}`];
  if (i.last) parts.push(`loss ${formatLoss(i.last.loss)}`);
  if (i.best) parts.push(`best ${i.best.metric} ${formatLoss(i.best.value)} @${i.best.step}`);
  // No relative age here: the node is not rebuilt as the clock moves, so it would go stale.
  if (i.status === 'dead') parts.push('trainer gone');
  const job = r.scheduler?.kind === 'slurm' ? r.scheduler : null;
  if (job && (i.status === 'queued' || i.status === 'running')) parts.push(`Slurm job ${job.jobId}`);
  if (i.status === 'failed' && r.error) parts.push(truncate(r.error.message, 80));
  return parts.join(' · ');
}

export interface TooltipInput extends DescribeInput {
  id: string;
  label: string;
  config: RunConfig | null;
  configError: string | null;
  metricsTornTail: boolean;
}

export function runTooltip(i: TooltipInput): string {
  const lines = [`${i.label} (${i.id})`];
  const r = i.record;
  if (!r) {
    lines.push(`broken: ${i.recordError ?? 'run.json unreadable'}`);
  } else {
    const who = r.pid !== null ? ` · pid ${r.pid}` : '';
    lines.push(`status: ${i.status}${who} · host ${r.host}`);
    if (i.status === 'dead')
      lines.push(`run.json says running, but the trainer is gone (last heartbeat ${r.updatedAt})`);
    lines.push(runDescription(i));
    if (r.group) lines.push(`group: ${r.group}`);
    if (r.scheduler?.kind === 'slurm') lines.push(`Slurm job ${r.scheduler.jobId}, submitted ${r.scheduler.submittedAt}${r.scheduler.sbatchArgs.length ? ` with ${r.scheduler.sbatchArgs.join(' ')}` : ''}`);
    if (r.error) lines.push(`error: ${r.error.message}`);
  }
  if (i.metricsTornTail) lines.push('metrics.jsonl ends in a torn line (being written, or a crash)');
  lines.push('', ...safeConfigSummary(i.config, i.configError, r));
  return lines.join('\n');
}
