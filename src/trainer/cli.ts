/**
 * `immiscible` command line: train, resume, sample, validate, schema.
 * On a terminal it shows a progress bar; otherwise it prints one JSON event per line on stdout
 * (the protocol in src/core/protocol) for the extension host.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/config/validate';
import { loadConfigFile } from './configFile';
import { intOption, UsageError } from './cliOptions';
import { configJsonSchema } from '../core/config/schema';
import type { RunConfig } from '../core/config/types';
import { RUN_FILES } from '../core/run/format';
import { readRunConfigAsWritten, resolveRunConfig } from '../core/run/reader';
import { RunWriter } from '../core/run/writer';
import type { TrainerEvent } from '../core/protocol/events';
import { train } from './train/trainer';
import { explainGpuFailure, takeGpuError } from './backend/webgpuErrors';
import { ProgressBar } from './progress';
import { sampleCommand } from './sampleCommand';
import { fdCommand } from './metrics/fdCommand';
import { evalCommand, EVAL_USAGE } from './eval/evalCommand';
import { lsaCommand } from './assignment/lsaCommand';
import { studyCommand, STUDY_USAGE, StudyUsageError } from './study/studyCommand';
import { submitCommand, SUBMIT_USAGE } from './submitCommand';
import { runsCommand, RUNS_USAGE } from './runsCommand';
import { stopCommand } from './stopCommand';
import { SlurmError } from '../core/slurm/slurmCommands';
import { slurmHandOff } from './slurmHandOff';
import { createRunFromConfig, openRunToContinue, RUN_TARGET_OPTIONS } from './runTarget';

const USAGE = `usage:
  immiscible train --config FILE [--runs DIR] [--name NAME] [--set key=value ...]
  immiscible train --resume RUN_DIR
  ${SUBMIT_USAGE}
  immiscible stop RUN_DIR
  ${RUNS_USAGE}
  immiscible sample --run RUN_DIR [--out FILE.png] [--count N] [--steps N] [--sampler ddim|ddpm|euler|dopri5|onestep|multistep] [--eta E] [--seed S] [--checkpoint STEP]
  immiscible lsa --cost FILE --n B
  ${EVAL_USAGE}
  ${STUDY_USAGE}
  immiscible fd A.json B.json [--factor cholesky|eigh] [--json]
  immiscible validate FILE
  immiscible schema`;


async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_TARGET_OPTIONS,
      'stop-at-step': { type: 'string' },
    },
  });
  const stopAt = intOption(values['stop-at-step'], 'stop-at-step', 1);
  let run: RunWriter;
  let config: RunConfig;
  let writtenConfig: unknown;
  if (values.resume) {
    run = await openRunToContinue(values.resume, process.env.SLURM_JOB_ID, 'resume');
    writtenConfig = readRunConfigAsWritten(values.resume);
    config = resolveRunConfig(values.resume, writtenConfig);
  } else {
    if (!values.config) throw new UsageError('train needs --config FILE or --resume RUN_DIR');
    ({ run, config } = createRunFromConfig(values.config, values.set ?? [], values.runs ?? 'runs', values.name));
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(130);
    run.log(`[info] ${sig}: stopping after this step and writing a checkpoint`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const handOff = slurmHandOff(run, controller);

  const tty = process.stderr.isTTY === true && process.stdout.isTTY === true;
  const bar = tty ? new ProgressBar(process.stderr) : null;
  const emit = (e: TrainerEvent): void => {
    if (bar) bar.onEvent(e);
    else process.stdout.write(JSON.stringify(e) + '\n');
  };
  if (bar) process.stderr.write(`run ${run.dir}\n`);
  const status = await train({ run, config, writtenConfig, resume: Boolean(values.resume), emit, signal: controller.signal, stopAtStep: stopAt, handOff: handOff ?? undefined });
  bar?.finish(status, run.dir);
  return status === 'failed' ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'train':
        return await trainCommand(rest);
      case 'submit':
        return await submitCommand(rest);
      case 'stop':
        return await stopCommand(rest);
      case 'runs':
        return await runsCommand(rest);
      case 'sample':
        return await sampleCommand(rest);
      case 'eval':
        return await evalCommand(rest);
      case 'fd':
        return await fdCommand(rest);
      case 'study':
        return await studyCommand(rest);
      case 'lsa':
        return await lsaCommand(rest);
      case 'validate': {
        if (!rest[0]) throw new UsageError('validate needs a config file');
        loadConfigFile(rest[0], []);
        process.stdout.write(`${rest[0]}: valid\n`);
        return 0;
      }
      case 'schema':
        process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return cmd ? 0 : 2;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(e.message + '\n');
      return 2;
    }
    if (e instanceof SlurmError) {
      process.stderr.write(`immiscible: ${e.message}\n`);
      return 1;
    }
    if (e instanceof UsageError || e instanceof StudyUsageError || (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`immiscible: ${(e as Error).message}\n${USAGE}\n`);
      return 2;
    }
    // sample, eval and the rest on a GPU: its error, not the empty one it surfaces as.
    const gpu = takeGpuError();
    process.stderr.write(`immiscible: ${gpu ? explainGpuFailure(gpu, (e as Error).message) : (e as Error).message}\n`);
    return 1;
  }
}

export { RUN_FILES };
