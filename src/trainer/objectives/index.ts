/** The objective a config names. */
import type { RunConfig } from '../../core/config/types';
import type { Schedule } from '../diffusion/schedule';
import { consistencyObjective } from './consistency';
import { ddpmObjective } from './ddpm';
import { flowObjective } from './flow';
import type { Objective } from './types';

export function makeObjective(config: RunConfig, schedule: Schedule): Objective {
  switch (config.objective) {
    case 'ddpm':
      return ddpmObjective(schedule);
    case 'flow':
      return flowObjective(config.flow);
    case 'consistency':
      return consistencyObjective(config.consistency, config.training.steps);
  }
}

export type { Objective, MicroBatch, MicroLoss, Net } from './types';
