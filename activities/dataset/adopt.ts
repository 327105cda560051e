import { existsSync } from 'node:fs';
import { cp, readFile, rename, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { DatasetCard } from './card';
import { DATASET_ERRORS, DatasetError } from './errors';
import type { DatasetRef } from './types';

/** The files a dataset directory must hold for the trainer and the evaluator. */
const REQUIRED = ['card.json', 'features.json', 'scaler.json', 'train.npy', 'val.npy', 'test.npy'];

/**
 * Copies an imported dataset directory (faultline dataset import) into a campaign's dataset dir and
 * returns its reference, as the dataset phase does for a built one. The campaign dir then holds
 * everything its model, evaluation and report came from. A retry starts the copy over.
 */
export async function adoptImportedDataset(sourceDir: string, targetDir: string): Promise<DatasetRef> {
  if (!isAbsolute(sourceDir))
    throw new DatasetError(`importedDataset must be an absolute path, not "${sourceDir}"`, DATASET_ERRORS.invalidInput);
  const missing = REQUIRED.filter((f) => !existsSync(join(sourceDir, f)));
  if (missing.length) {
    throw new DatasetError(
      `${sourceDir} is not a dataset directory (missing ${missing.join(', ')}): make one with \`faultline dataset import\``,
      DATASET_ERRORS.invalidInput,
    );
  }
  const card = JSON.parse(await readFile(join(sourceDir, 'card.json'), 'utf8')) as DatasetCard;
  const features = JSON.parse(await readFile(join(sourceDir, 'features.json'), 'utf8')) as string[];
  const tmp = `${targetDir}.adopt-tmp`;
  await rm(tmp, { recursive: true, force: true });
  await cp(sourceDir, tmp, { recursive: true });
  await rm(targetDir, { recursive: true, force: true });
  await rename(tmp, targetDir);
  return {
    dir: targetDir,
    cardPath: join(targetDir, 'card.json'),
    windows: {
      train: card.splits.train.windows.total,
      val: card.splits.val.windows.total,
      test: card.splits.test.windows.total,
    },
    features,
    windowSize: card.window.size,
  };
}
