import { strict as assert } from 'node:assert';
import { mulberry32, mulberry32Advance, mulberry32Output } from '../activities/random';

// The chaos plan is drawn from this stream inside workflow code (workflows/chaos-loop.ts), so its exact sequence is
// part of every recorded history: these values were produced by the workflow's own copy before the two copies
// became one module, and must never change (test/replay.test.ts replays the recorded histories themselves).
const PINNED: Record<number, { draws: number[]; state: number }> = {
  0: { draws: [1144304738, 1416247, 958946056, 627933444, 2007157716, 2340967985], state: 2399460286 },
  1: { draws: [2693262067, 11749833, 2265367787, 4213581821, 4159151403, 1207330352], state: 2399460287 },
  42: { draws: [2581720956, 1925393290, 3661312704, 2876485805, 750819978, 2261697747], state: 2399460328 },
  20260101: { draws: [1099142216, 2546506997, 3458901715, 4155710030, 3132293483, 518113071], state: 2419720387 },
  4294967295: { draws: [3850105811, 813802916, 3073704848, 4054706436, 3630262831, 2315588663], state: 2399460285 },
};

describe('mulberry32 (activities/random.ts)', () => {
  it('steps a carried state exactly as the chaos loop always has (pinned sequence and end state)', () => {
    for (const [seed, want] of Object.entries(PINNED)) {
      let state = Number(seed) >>> 0;
      const draws: number[] = [];
      for (let i = 0; i < want.draws.length; i++) {
        state = mulberry32Advance(state);
        draws.push(mulberry32Output(state) * 4294967296);
      }
      assert.deepEqual(draws, want.draws, `seed ${seed}`);
      assert.equal(state, want.state, `seed ${seed}: state after ${want.draws.length} draws`);
    }
  });

  it('gives activities the same stream through the closure, in [0, 1)', () => {
    for (const [seed, want] of Object.entries(PINNED)) {
      const next = mulberry32(Number(seed));
      assert.deepEqual(
        want.draws.map(() => next() * 4294967296),
        want.draws,
        `seed ${seed}`,
      );
    }
    const next = mulberry32(7);
    for (let i = 0; i < 10_000; i++) {
      const v = next();
      assert.ok(v >= 0 && v < 1, `draw ${i}: ${v}`);
    }
  });
});
