import { stopTestTemporal } from './helpers/temporal';

/** Root hooks (loaded by .mocharc.json): shared fixtures are torn down once, after every suite. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopTestTemporal();
  },
};
