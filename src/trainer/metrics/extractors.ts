/** The registry of feature extractors, by the name used in configs and on the command line. */
import type { FeatureExtractor } from './extractor';
import { loadInceptionExtractor } from './inception/extractor';
import { loadLenetExtractor } from './lenet/extractor';

export const EXTRACTOR_NAMES = ['lenet', 'inception'] as const;
export type ExtractorName = (typeof EXTRACTOR_NAMES)[number];

export interface ExtractorOptions {
  /** inception: the pytorch-fid weights file (pt_inception-2015-12-05-6726825d.pth) of the user's. */
  inceptionWeights?: string;
}

export async function loadExtractor(name: string, opts: ExtractorOptions = {}): Promise<FeatureExtractor> {
  switch (name) {
    case 'lenet':
      return loadLenetExtractor();
    case 'inception':
      if (!opts.inceptionWeights) throw new Error('extractor "inception" needs evaluation.inceptionWeights: the path of your pytorch-fid weights file (pt_inception-2015-12-05-6726825d.pth)');
      return loadInceptionExtractor(opts.inceptionWeights);
    default:
      throw new Error(`unknown extractor "${name}": expected one of ${EXTRACTOR_NAMES.join(', ')}`);
  }
}
