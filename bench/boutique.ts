/**
 * Local boutique throughput and footprint on this machine: requests/s through the frontend Service for GET /
 * and for the checkout path (POST /cart + POST /cart/checkout per iteration, one session per connection), and
 * the idle CPU% and RSS of the whole stack (redis, supervisor + ten pods, node-exporter, Prometheus) from /proc
 * over ~10 s. Starts its own stack on free ports in a temporary FAULTLINE_HOME and stops it afterwards.
 * Run alone: `node lib/bench/boutique.js` (FAULTLINE_BENCH_DURATION_S, FAULTLINE_BENCH_CONNECTIONS).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { localTargetSchema } from '../schemas/target';
import { PORT_SPAN } from '../infra/local/ports';
import { stackStatus, stopStack } from '../infra/local/stack';
import { LocalTarget } from '../activities/deploy/local-target';

const DURATION_S = Number(process.env.FAULTLINE_BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.FAULTLINE_BENCH_CONNECTIONS ?? 10);
const IDLE_S = Number(process.env.FAULTLINE_BENCH_IDLE_S ?? 10);

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
}
interface CannonRequest {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}
interface CannonClient {
  setHeaders(h: Record<string, string>): void;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  requests?: CannonRequest[];
  setupClient?: (client: CannonClient) => void;
}) => Promise<CannonResult>;

// autocannon ships no types; its programmatic API is the documented function above
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as Autocannon;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freeRange(span: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let p = base; p < base + span && ok; p++) ok = await isFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range');
}

/** The stack's pids: the recorded parts plus every descendant of the supervisor (the pods). */
function stackPids(partPids: number[]): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const all = new Set(partPids);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (all.has(ppid) && !all.has(pid)) {
        all.add(pid);
        grew = true;
      }
    }
  }
  return [...all];
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const CLK_TCK = 100;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export async function run(): Promise<Record<string, unknown>> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const home = mkdtempSync(path.join(tmpdir(), 'faultline-bench-boutique-'));
  const basePort = await freeRange(PORT_SPAN);
  const ports: number[] = [];
  while (ports.length < 4) {
    const p = await freePort();
    if (!ports.includes(p) && (p < basePort || p >= basePort + PORT_SPAN)) ports.push(p);
  }
  const config = localTargetSchema.parse({
    type: 'local',
    basePort,
    prometheus: { port: ports[0], scrapeInterval: '1s' },
    nodeExporterPort: ports[1],
    supervisorPort: ports[2],
    redisPort: ports[3],
    readinessTimeout: '120s',
  });
  const target = new LocalTarget(config, 'bench', { home });
  try {
    const t0 = Date.now();
    const endpoints = await target.deploy();
    const deployMs = Date.now() - t0;
    // let start-up CPU (JIT, Prometheus WAL) settle before measuring idle
    await new Promise((r) => setTimeout(r, 5000));

    const parts = await stackStatus({ home });
    const pids = stackPids(parts.flatMap((p) => (p.pid ? [p.pid] : [])));
    const before = pids.map(cpuTicks);
    const tIdle = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const idleSeconds = (Date.now() - tIdle) / 1000;
    const after = pids.map(cpuTicks);
    const idleCpuPct =
      ((after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0)) / CLK_TCK / idleSeconds) * 100;
    const rss = pids.map(rssBytes);
    const byPart: Record<string, number> = {};
    for (const p of parts) if (p.pid) byPart[p.name] = round(rssBytes(p.pid) / 2 ** 20);

    const index = await autocannon({
      url: `${endpoints.frontendUrl}/`,
      connections: CONNECTIONS,
      duration: DURATION_S,
    });
    const form = new URLSearchParams({
      email: 'someone@example.com',
      street_address: '1600 Amphitheatre Parkway',
      zip_code: '94043',
      city: 'Mountain View',
      state: 'CA',
      country: 'United States',
      credit_card_number: '4432801561520454',
      credit_card_expiration_month: '1',
      credit_card_expiration_year: String(new Date().getUTCFullYear() + 1),
      credit_card_cvv: '672',
    }).toString();
    const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
    const checkout = await autocannon({
      url: endpoints.frontendUrl,
      connections: CONNECTIONS,
      duration: DURATION_S,
      // one shopper per connection, so carts do not interleave
      setupClient: (client) => client.setHeaders({ cookie: `shop_session-id=${randomUUID()}` }),
      requests: [
        { method: 'POST', path: '/cart', body: 'product_id=OLJCESPC7Z&quantity=1', headers: formHeaders },
        { method: 'POST', path: '/cart/checkout', body: form, headers: formHeaders },
      ],
    });
    const summary = (r: CannonResult) => ({
      requestsPerSec: round(r.requests.average),
      total: r.requests.total,
      ok2xx: r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      latencyP50Ms: r.latency.p50,
      latencyP99Ms: r.latency.p99,
      statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    });
    const result = {
      cpus: os.cpus().length,
      // other work on the machine skews every number here: report the load it ran under
      loadAverage1mBefore: round(loadBefore),
      loadAverage1mAfter: round(os.loadavg()[0] ?? 0),
      connections: CONNECTIONS,
      durationS: DURATION_S,
      deployMs,
      idle: {
        seconds: round(idleSeconds),
        processes: pids.length,
        cpuPercentOfOneCore: round(idleCpuPct),
        rssMiB: round(rss.reduce((a, b) => a + b, 0) / 2 ** 20),
        rssMiBByPart: byPart,
      },
      index: summary(index),
      // each iteration = POST /cart (302) + POST /cart/checkout (200): checkouts/s = 2xx / duration
      checkout: { ...summary(checkout), checkoutsPerSec: round(checkout['2xx'] / DURATION_S) },
    };
    return result;
  } finally {
    await stopStack({ home });
    rmSync(home, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
