/**
 * `npm run bench [-- name ...]`: every benchmark in bench/, one at a time, each in its own process (so one
 * benchmark's heap and threads never skew the next). Each compares side by side within its own run
 * (ratios against autocannon, pandas/numpy, the reference USAD port, …) because this machine is shared and
 * noisy. Results: bench/results/<name>.json and a combined bench/results/summary.json.
 * `msl` trains 27 models twice (ours and the reference) and takes ~15–30 min on 2 cores; `multiscale` ~2–6 min
 * (one run of the old multi-scale algorithm); the others a few minutes together. FAULTLINE_BENCH_QUICK=1 skips msl.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ALL = ['traffic', 'boutique', 'dataset', 'scoring', 'multiscale', 'chaos', 'msl'] as const;
const ROOT = join(__dirname, '..', '..');
const OUT = join(ROOT, 'bench', 'results');

function main(): number {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((a) => !(ALL as readonly string[]).includes(a));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${ALL.join(', ')}`);
    return 2;
  }
  const names = asked.length ? asked : ALL.filter((n) => !(process.env.FAULTLINE_BENCH_QUICK === '1' && n === 'msl'));
  mkdirSync(OUT, { recursive: true });
  const summary: Record<string, unknown> = { startedAt: new Date().toISOString(), host: { cpus: 2 } };
  let failed = 0;
  for (const name of names) {
    const t0 = Date.now();
    console.error(`\n▶ bench ${name}`);
    const r = spawnSync(process.execPath, [join(__dirname, `${name}.js`)], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    process.stdout.write(r.stdout ?? '');
    const seconds = (Date.now() - t0) / 1000;
    let result: unknown = (r.stdout ?? '').trim();
    try {
      result = JSON.parse(result as string);
    } catch {
      // Benchmarks that print tables instead of JSON keep their text.
    }
    summary[name] = { ok: r.status === 0, seconds, result };
    writeFileSync(join(OUT, `${name}.json`), JSON.stringify({ ok: r.status === 0, seconds, result }, null, 2));
    if (r.status !== 0) {
      failed++;
      console.error(`✖ bench ${name} failed (exit ${r.status})`);
    } else console.error(`✔ bench ${name} (${seconds.toFixed(0)} s)`);
  }
  writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));
  console.error(`\nresults in ${OUT}`);
  return failed ? 1 : 0;
}

process.exit(main());
