import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stopTestTemporal } from './helpers/temporal';
import { stopSharedCluster } from './helpers/kube-cluster';

// Workers in tests log warnings and errors only; state changes would drown the spec output.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Root hooks (loaded by .mocharc.json): shared fixtures are torn down once, after every suite. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestTemporal();
    await stopSharedCluster();
  },
};
