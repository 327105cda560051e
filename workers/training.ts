import { NativeConnection, Worker } from '@temporalio/worker';
import { createTrainingActivities } from '../activities/model/training-index';
import { TRAINING_TASK_QUEUE } from '../workflows/messages';
import { failStart, shutdownOnSignals, workerEnv } from './env';

/**
 * The training pool: training activities only, on `faultline-training`. One activity per GPU at a time,
 * so two models never fight over one device's memory (FAULTLINE_GPUS on a multi-GPU node).
 */
export async function runTrainingWorker(): Promise<void> {
  const env = workerEnv();
  const connection = await NativeConnection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
  const gpus = Math.max(1, Number(process.env.FAULTLINE_GPUS ?? 1));
  const worker = await Worker.create({
    connection,
    namespace: env.namespace,
    taskQueue: TRAINING_TASK_QUEUE,
    activities: createTrainingActivities({ home: env.home }),
    maxConcurrentActivityTaskExecutions: gpus,
    shutdownGraceTime: '30s',
  });
  shutdownOnSignals(() => worker.shutdown());
  console.error(
    `[worker] training worker polling ${TRAINING_TASK_QUEUE} on ${env.address} (${env.namespace}, ${env.security}; ${gpus} slot(s))`,
  );
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  runTrainingWorker().catch(failStart);
}
