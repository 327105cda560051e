import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { ChaosErrorType, NON_RETRYABLE_CHAOS_ERRORS } from '../activities/chaos/errors';
import { preflightOrRefuse } from '../activities/chaos/guard';
import { DATASET_ERRORS } from '../activities/dataset/errors';
import { KUBE_NON_RETRYABLE_ERRORS } from '../activities/deploy/kube-errors';
import { NON_RETRYABLE_FAILURE_TYPES } from '../activities/failure-types';
import { TrafficErrors } from '../activities/traffic/errors';
import { chaosSchema, faultSpecSchema } from '../schemas/faults';

describe('failure types (activities/failure-types.ts)', () => {
  it('lists every permanent failure type of every area once, and no retryable one', () => {
    const want = [
      ...NON_RETRYABLE_CHAOS_ERRORS,
      ...Object.values(DATASET_ERRORS),
      TrafficErrors.InvalidConfig,
      TrafficErrors.JMeterNotInstalled,
      ...KUBE_NON_RETRYABLE_ERRORS,
    ];
    for (const t of want) assert.ok(NON_RETRYABLE_FAILURE_TYPES.includes(t), t);
    assert.equal(new Set(NON_RETRYABLE_FAILURE_TYPES).size, NON_RETRYABLE_FAILURE_TYPES.length, 'no duplicates');
    // A supervisor or API server that did not answer, or a JMeter run that failed, may succeed on a retry.
    for (const t of [ChaosErrorType.TargetUnavailable, TrafficErrors.JMeterFailed])
      assert.ok(!NON_RETRYABLE_FAILURE_TYPES.includes(t), t);
    // The types the workflows listed by hand before; recorded histories carry them in their retry policies.
    for (const t of ['InvalidConfig', 'BlastRadius', 'NotAvailable', 'DatasetNaNRemains', 'DatasetInvalidInput'])
      assert.ok(NON_RETRYABLE_FAILURE_TYPES.includes(t), t);
  });

  it('BlastRadius is what the guard throws when it refuses every fault, non-retryable; a partial refusal is reported', () => {
    const guard = chaosSchema.parse({}).guard;
    const platform = faultSpecSchema.parse({ type: 'pod-kill', selector: { app: 'temporal' } });
    const ok = faultSpecSchema.parse({ type: 'pod-kill' });
    const err = (() => {
      try {
        preflightOrRefuse(guard, [platform, platform]);
      } catch (e) {
        return e;
      }
      return assert.fail('every fault refused must throw');
    })();
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, ChaosErrorType.BlastRadius);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /refused by the blast-radius guard/);
    assert.match(err.message, /chaos\.faults\[1\] \(pod-kill\): refused: "temporal"/);
    const refusals = preflightOrRefuse(guard, [platform, ok]);
    assert.equal(refusals.length, 1);
    assert.deepEqual(preflightOrRefuse(guard, [ok]), []);
  });
});
