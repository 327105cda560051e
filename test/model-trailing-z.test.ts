import { strict as assert } from 'node:assert';
import { mulberry32 } from '../activities/random';
import {
  trailingRobustZ,
  seriesZ,
  zSeries,
  zSeriesOfColumns,
  DEFAULT_TRAILING_Z,
  type ZSeries,
} from '../activities/model/trailing-robust-z';
import { trailingZAttribution } from '../activities/localise/attribution';
import { chooseDetector } from '../activities/model/evaluate';
import type { DetectorResult } from '../activities/model/evaluate';

/** The definition, computed the slow way: sort the last `horizon` measured values before every row. */
function bruteForce(s: ZSeries, n: number, o = DEFAULT_TRAILING_Z): Float64Array {
  const q = (a: number[], p: number) => {
    const pos = (a.length - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.min(a.length - 1, lo + 1);
    return a[lo]! + (a[hi]! - a[lo]!) * (pos - lo);
  };
  const out = new Float64Array(n);
  const seen: number[] = [];
  for (let t = 0; t < n; t++) {
    const v = s.x[t] as number;
    if (!Number.isFinite(v)) continue;
    const h = seen.slice(-o.horizon).sort((a, b) => a - b);
    if (h.length >= o.minHistory) {
      const d = v - q(h, 0.5);
      const z = (s.dir === 0 ? Math.abs(d) : s.dir * d) / Math.max(q(h, 0.75) - q(h, 0.25), s.floor);
      out[t] = Math.max(0, Math.min(o.cap, z));
    }
    seen.push(v);
  }
  return out;
}

describe('trailing robust z detector', () => {
  it('equals the definition computed by sorting every history (noise, ties, gaps, both directions)', () => {
    const rnd = mulberry32(7);
    const n = 700;
    const o = { horizon: 50, minHistory: 10, cap: 1000 };
    for (const dir of [1, -1, 0] as const) {
      // quantised values (ties) with unmeasured points
      const x = Float64Array.from({ length: n }, () => (rnd() < 0.1 ? Number.NaN : Math.round(rnd() * 20) / 4));
      const s = { x, dir, floor: 0.05 };
      const fast = trailingRobustZ([s], n, o);
      const slow = bruteForce(s, n, o);
      for (let t = 0; t < n; t++) assert.ok(Math.abs(fast[t]! - slow[t]!) < 1e-9, `dir ${dir}, row ${t}`);
    }
  });

  it('scores a change against the last minutes, not a slow drift; in the fault direction only; the largest series', () => {
    const n = 900;
    const rnd = mulberry32(3);
    const noise = () => 0.01 * (rnd() - 0.5);
    // a load that drifts from 0.2 to 0.4 cores over the run (a training baseline would call the end anomalous),
    // a 0.3-core step at 600–630
    const cpu = Float64Array.from(
      { length: n },
      (_, t) => 0.2 + (0.2 * t) / n + noise() + (t >= 600 && t < 630 ? 0.3 : 0),
    );
    const z = trailingRobustZ([{ x: cpu, dir: 1, floor: 0.01 }], n);
    const quiet = Math.max(...z.subarray(320, 590));
    assert.ok(quiet < 5, `drift scores ${quiet}`);
    assert.ok(z[610]! > 5 * Math.max(quiet, 1) && z[610]! > 8, `step ${z[610]} vs quiet ${quiet}`);
    // the same step downwards does not count for an upward symptom, and a drop of readiness does
    const down = Float64Array.from(cpu, (v, t) => (t >= 600 && t < 630 ? v - 0.6 : v));
    assert.ok(trailingRobustZ([{ x: down, dir: 1, floor: 0.01 }], n)[610]! === 0);
    const ready = Float64Array.from({ length: n }, (_, t) => (t >= 600 && t < 605 ? 0 : 1));
    const both = trailingRobustZ(
      [
        { x: cpu, dir: 1, floor: 0.01 },
        { x: ready, dir: -1, floor: 0.01 },
      ],
      n,
    );
    assert.equal(both[601], 100, 'one replica fewer over the 0.01 floor: 100, above the CPU step');
    // too short a history scores nothing yet
    assert.equal(z[DEFAULT_TRAILING_Z.minHistory - 1], 0);
  });

  it("attributes an alarm to the series that raised it: each series' z is the detector's own term", () => {
    const n = 400;
    const rnd = mulberry32(11);
    const cols = new Map<string, Float64Array>([
      ['svc_cartservice_cpu', Float64Array.from({ length: n }, (_, t) => 0.2 + 0.01 * rnd() + (t >= 300 ? 0.5 : 0))],
      ['svc_frontend_cpu', Float64Array.from({ length: n }, () => 0.3 + 0.01 * rnd())],
      ['svc_frontend_ready_replicas', Float64Array.from({ length: n }, () => 1)],
      ['node_load1', Float64Array.from({ length: n }, (_, t) => 1 + 0.1 * rnd() + (t >= 300 ? 0.2 : 0))],
    ]);
    const features = [...cols.keys()];
    const series = zSeriesOfColumns(cols, features, [0.01, 0.01, 0.01, 0.02]);
    assert.equal(cols.get('svc_cartservice_cpu')![0]! > 0, true, 'the columns are left as they were');
    const zs = series.map((s) => {
      const z = new Float64Array(n);
      seriesZ(s, n, DEFAULT_TRAILING_Z, z);
      return z;
    });
    // the detector's score is the largest series term at every row
    const score = trailingRobustZ(series, n);
    for (let t = 0; t < n; t++) assert.equal(score[t], Math.max(0, ...zs.map((z) => z[t]!)), `row ${t}`);
    const a = trailingZAttribution(zs, 300, 330);
    const top = features[a.indexOf(Math.max(...a))];
    assert.equal(top, 'svc_cartservice_cpu');
    assert.ok(Number.isNaN(trailingZAttribution(zs, 500, 530)[0]!), 'rows past the stream: no score');
  });

  it("reads faultline's series in their unit with the localiser's symptoms; other columns both ways", () => {
    const n = 4;
    const features = [
      'svc_a_cpu',
      'svc_a_ready_replicas',
      'svc_a_client_p95',
      'svc_b_client_p95',
      'svc_c_client_p95',
      'temperature',
    ];
    // scaled = (raw − offset) / scale; row 2: a's client p95 0 (no call completed)
    const raw = [
      [0.1, 1, 0.2, 0.3, 0.4, 20],
      [0.2, 1, 0.5, 0.3, 0.4, 21],
      [0.1, 0, 0, 0.3, 0.4, 22],
      [0.1, 1, 0.2, 0.9, 0.4, 23],
    ];
    const offset = [0.1, 1, 0, 0, 0, 20];
    const scale = [0.1, 1, 1, 1, 1, 10];
    const rows = Float64Array.from(raw.flatMap((r) => r.map((v, j) => (v - offset[j]!) / scale[j]!)));
    const s = zSeries(rows, n, features, { features, offset, scale });
    assert.deepEqual(
      s.map((x) => x.dir),
      [1, -1, 1, 1, 1, 0],
    );
    assert.ok(Math.abs((s[0]!.x[1] as number) - 0.2) < 1e-12, 'CPU back in cores');
    assert.equal(s[0]!.floor, 0.01);
    // client p95s: each point minus the services' median; a's 0 is missing
    assert.ok(Math.abs((s[2]!.x[1] as number) - (0.5 - 0.4)) < 1e-12);
    assert.ok(Number.isNaN(s[2]!.x[2]));
    assert.ok(Math.abs((s[3]!.x[2] as number) - (0.3 - 0.35)) < 1e-12, 'the median of the two measured');
    // an unknown column: both ways, floor 1 % of its training range in its unit
    assert.ok(Math.abs(s[5]!.floor - 0.1) < 1e-12);
    assert.ok(Math.abs((s[5]!.x[3] as number) - 23) < 1e-9);
  });
});

describe('choosing the default detector on labelled validation', () => {
  const det = (name: string, met: boolean, minRecall: number, fa: number, vus: number): DetectorResult =>
    ({
      name,
      eligible: true,
      validation: { vusPr: vus, prAuc: vus },
      alarm: { constraintMet: met, validation: { minRecall, falseAlarms: { perHour: fa } } },
    }) as unknown as DetectorResult;

  it('a detector whose rule keeps every kind first; among the rest the highest lowest recall, then false alarms', () => {
    const c = chooseDetector(
      [det('quiet-but-blind', false, 0, 0, 0.7), det('closest', false, 0.4, 44, 0.6), det('meets', true, 1, 9, 0.5)],
      true,
    );
    assert.deepEqual(
      c.ranking.map((r) => r.name),
      ['meets', 'closest', 'quiet-but-blind'],
    );
    const none = chooseDetector([det('quiet-but-blind', false, 0, 0, 0.7), det('closest', false, 0.4, 44, 0.6)], true);
    assert.equal(none.detector, 'closest');
    assert.match(none.why, /highest lowest recall \(0\.400\)/);
    // both meet the goal: recall beyond it does not count, false alarms do
    const met = chooseDetector([det('a', true, 1, 5, 0.9), det('b', true, 0.96, 0, 0.5)], true);
    assert.equal(met.detector, 'b');
  });
});
