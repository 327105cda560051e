import { createCampaignActivities } from './campaign';
import { createDeployActivities } from './deploy';
import { createTrafficActivities } from './traffic';
import { createBrowserActivities } from './browser';
import { createChaosActivities } from './chaos';
import { createMetricsActivities } from './metrics';
import { createDatasetActivities } from './dataset';
import { createModelActivities } from './model';
import { createReportActivities } from './report';
import { createLocaliseActivities } from './localise';

export interface ActivityDeps {
  /** faultline's data root (FAULTLINE_HOME). */
  home: string;
}

/** Every CPU activity the `faultline` task queue serves (training has its own queue and worker). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCampaignActivities(deps),
    ...createDeployActivities(deps),
    ...createTrafficActivities(),
    ...createBrowserActivities(),
    ...createChaosActivities(deps),
    ...createMetricsActivities(),
    ...createDatasetActivities(),
    ...createModelActivities(deps),
    ...createReportActivities(deps),
    ...createLocaliseActivities(),
  };
}
