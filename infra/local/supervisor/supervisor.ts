import http from 'node:http';
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import type { SupervisorConfig } from './config';
import { PodManager, PodStateError } from './pods';
import { SupervisorMetrics } from './metrics';
import { FaultTable, validateFault } from '../proxy/faults';
import { TcpProxy } from '../proxy/tcp-proxy';
import { HttpProxy } from '../proxy/http-proxy';
import { cmdlineOf, readState, reapLeftoverPods, stateFilePath, waitGone, type StateFile } from './state';
import { listenOn } from '../listen';
import {
  detectCgroups,
  leftoverPodCgroups,
  removePodCgroupsWait,
  removeStackCgroups,
  type CgroupSupport,
} from './cgroups';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseSelector(sel: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!sel) return out;
  for (const part of sel.split(',')) {
    if (!part.trim()) continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new HttpError(400, `bad selector "${part}": use key=value[,key=value]`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

/** The supervisor process: pods, Service proxies, fault table, HTTP API (see api.ts), metrics, state file. */
export class Supervisor {
  readonly faults = new FaultTable();
  private pods?: PodManager;
  private readonly metrics: SupervisorMetrics;
  private server?: http.Server;
  private readonly proxies: (TcpProxy | HttpProxy)[] = [];
  private sweepTimer?: NodeJS.Timeout;
  private stateTimer?: NodeJS.Timeout;
  private readonly stateFile: string;
  private cgroups: CgroupSupport = { ok: false, reason: 'not started' };

  constructor(private readonly config: SupervisorConfig) {
    this.metrics = new SupervisorMetrics(config, () => this.pods, this.faults);
    this.stateFile = stateFilePath(config.dataDir);
  }

  async start(): Promise<void> {
    try {
      await this.startParts();
    } catch (err) {
      // nothing started (a port taken): the stack's cgroup directories made on the way go again
      if (this.cgroups.ok) removeStackCgroups(this.cgroups.bases);
      throw err;
    }
  }

  private async startParts(): Promise<void> {
    mkdirSync(this.config.dataDir, { recursive: true });
    const previous = readState(this.config.dataDir);
    await waitGone(reapLeftoverPods(this.config.dataDir), 10_000);
    const cgroups =
      this.config.cgroups === false
        ? { ok: false as const, reason: 'turned off in the config' }
        : detectCgroups(this.config.dataDir);
    this.cgroups = cgroups;
    if (cgroups.ok) {
      // a supervisor that died left its pods' cgroups (and anything still running in them, e.g. a stress process)
      const bases = [cgroups.bases, ...(previous?.cgroupBases ? [previous.cgroupBases] : [])];
      for (const dirs of bases.map(leftoverPodCgroups)) {
        if (dirs.length > 0 && !(await removePodCgroupsWait(dirs))) {
          process.stderr.write(`supervisor: leftover pod cgroups still busy: ${dirs.join(' ')}\n`);
        }
      }
    } else {
      // said once: without cgroups the pods' CPU and memory series are not exported (never as zeros)
      process.stderr.write(
        `supervisor: pod cgroups unavailable: ${cgroups.reason}; container_cpu_usage_seconds_total and ` +
          'container_memory_working_set_bytes are not exported for the local pods (network series still are)\n',
      );
    }
    const pods = new PodManager(
      this.config,
      {
        restart: (app) => this.metrics.restart(app),
        changed: () => this.scheduleState(),
      },
      cgroups,
    );
    this.pods = pods;
    // Service proxies first: a port that is taken fails the start before any pod runs.
    for (const spec of this.config.apps) {
      const Proxy = spec.protocol === 'http' ? HttpProxy : TcpProxy;
      const proxy = new Proxy(
        spec.app,
        this.config.host,
        spec.publicPort,
        pods,
        this.faults,
        this.metrics,
        this.config.proxy.noEndpointWaitMs,
      );
      try {
        await proxy.listen();
      } catch (err) {
        await this.closeProxies();
        throw new Error(`service proxy for ${spec.app}: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
      this.proxies.push(proxy);
    }
    // each caller's own routes to its dependencies (per-caller proxies: a partition can cut one caller only)
    for (const caller of this.config.apps) {
      for (const route of caller.routes ?? []) {
        const dep = this.config.apps.find((a) => a.app === route.dependency);
        if (!dep) continue; // normalizeConfig refused it already
        const Proxy = dep.protocol === 'http' ? HttpProxy : TcpProxy;
        const proxy = new Proxy(
          dep.app,
          this.config.host,
          route.port,
          pods,
          this.faults,
          this.metrics,
          this.config.proxy.noEndpointWaitMs,
          caller.app,
        );
        try {
          await proxy.listen();
        } catch (err) {
          await this.closeProxies();
          throw new Error(
            `route proxy ${caller.app} → ${dep.app}: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        }
        this.proxies.push(proxy);
      }
    }
    const server = http.createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
      });
    });
    this.server = server;
    await listenOn(server, this.config.host, this.config.port, 'target.supervisorPort').catch(async (err: unknown) => {
      await this.closeProxies();
      throw new Error(`supervisor API: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    pods.start();
    this.sweepTimer = setInterval(() => this.faults.sweep(), 1000);
  }

  /** A pod verb whose PodStateError (the pod cannot take it now) answers 409 with the reason. */
  private podVerb<T>(verb: () => T): T {
    try {
      return verb();
    } catch (err) {
      if (err instanceof PodStateError) throw new HttpError(409, err.message);
      throw err;
    }
  }

  private scheduleState(): void {
    if (this.stateTimer) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      this.writeState();
    }, 100);
  }

  private writeState(): void {
    if (!this.pods) return;
    const state: StateFile = {
      supervisorPid: process.pid,
      updatedAtMs: Date.now(),
      ...(this.cgroups.ok ? { cgroupBases: this.cgroups.bases } : {}),
      pods: this.pods.podDetails().map((d) => ({
        ...d.info,
        app: d.spec.app,
        pid: d.pid,
        cmdline: d.pid ? (cmdlineOf(d.pid) ?? '') : '',
      })),
    };
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 1));
    renameSync(tmp, this.stateFile);
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const pods = this.pods;
    if (!pods) throw new HttpError(503, 'starting');
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const m = req.method ?? 'GET';
    const [p0, p1, p2, p3] = parts;

    if (m === 'GET' && p0 === 'healthz' && parts.length === 1) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (m === 'GET' && p0 === 'metrics' && parts.length === 1) {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(body);
      return;
    }
    if (m === 'GET' && p0 === 'cgroups' && parts.length === 1) {
      this.json(res, 200, this.cgroups);
      return;
    }
    if (m === 'GET' && p0 === 'sd' && p1 === 'pods' && parts.length === 2) {
      // Prometheus http_sd: one target per running pod, labelled like the kubernetes_sd relabelling would.
      const groups = pods
        .podDetails()
        .filter((d) => d.pid !== undefined && d.spec.metricsOn !== 'none')
        .map((d) => ({
          targets: [`127.0.0.1:${d.spec.metricsOn === 'port' ? d.port : d.metricsPort}`],
          labels: { pod: d.info.name, app: d.spec.app, namespace: d.info.namespace },
        }));
      this.json(res, 200, groups);
      return;
    }
    if (p0 === 'pods') {
      if (m === 'GET' && parts.length === 1) {
        const sel = parseSelector(url.searchParams.get('selector'));
        const list = pods.pods().filter((p) => Object.entries(sel).every(([k, v]) => p.labels[k] === v));
        this.json(res, 200, list);
        return;
      }
      if (!p1) throw new HttpError(404, 'no such route');
      const notFound = () => new HttpError(404, `pod ${p1} not found`);
      if (m === 'GET' && parts.length === 2) {
        const info = pods.get(p1);
        if (!info) throw notFound();
        this.json(res, 200, info);
        return;
      }
      if (m === 'GET' && p2 === 'pid' && parts.length === 3) {
        if (!pods.get(p1)) throw notFound();
        const pid = pods.pid(p1);
        if (pid === undefined) throw new HttpError(409, `pod ${p1} has no running process`);
        const cgroups = pods.cgroupDirs(p1);
        this.json(res, 200, cgroups ? { pid, cgroups } : { pid });
        return;
      }
      if (m === 'POST' && p2 === 'kill' && parts.length === 3) {
        const body = (await readJson(req)) as { signal?: string };
        const signal = body.signal ?? 'SIGKILL';
        if (signal !== 'SIGKILL' && signal !== 'SIGTERM') throw new HttpError(400, 'signal must be SIGKILL or SIGTERM');
        const killed = pods.kill(p1, signal);
        if (!killed) throw notFound();
        this.json(res, 200, { killed });
        return;
      }
      if (m === 'POST' && p2 === 'hold' && parts.length === 3) {
        const body = (await readJson(req)) as { faultId?: unknown; untilMs?: unknown };
        if (typeof body.faultId !== 'string' || !body.faultId) throw new HttpError(400, 'faultId is required');
        if (typeof body.untilMs !== 'number') throw new HttpError(400, 'untilMs (UTC epoch ms) is required');
        const info = pods.hold(p1, body.faultId, body.untilMs);
        if (!info) throw notFound();
        this.json(res, 200, { held: info });
        return;
      }
      if (m === 'DELETE' && p2 === 'hold' && p3 && parts.length === 4) {
        this.json(res, 200, { released: pods.release(p1, p3) });
        return;
      }
      if (m === 'POST' && p2 === 'restart' && parts.length === 3) {
        const restarted = this.podVerb(() => pods.restart(p1));
        if (!restarted) throw notFound();
        this.json(res, 200, { restarted });
        return;
      }
      if (m === 'PUT' && p2 === 'memory-leak' && p3 && parts.length === 4) {
        const body = (await readJson(req)) as Record<string, unknown>;
        for (const k of ['sizeBytes', 'durationMs', 'untilMs'] as const) {
          const v = body[k];
          if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
            throw new HttpError(400, `${k} must be a non-negative number (bytes; ms; UTC epoch ms)`);
          }
        }
        const leak = this.podVerb(() =>
          pods.startLeak(p1, {
            faultId: p3,
            sizeBytes: body.sizeBytes as number,
            durationMs: body.durationMs as number,
            untilMs: body.untilMs as number,
          }),
        );
        if (!leak) throw notFound();
        this.json(res, 200, { ...leak, pod: p1 });
        return;
      }
      if (m === 'DELETE' && p2 === 'memory-leak' && p3 && parts.length === 4) {
        this.json(res, 200, { removed: pods.stopLeak(p1, p3) });
        return;
      }
      if (m === 'POST' && p2 === 'signal' && parts.length === 3) {
        const body = (await readJson(req)) as { signal?: string };
        if (body.signal !== 'SIGSTOP' && body.signal !== 'SIGCONT') {
          throw new HttpError(400, 'signal must be SIGSTOP or SIGCONT');
        }
        if (!pods.get(p1)) throw notFound();
        if (!pods.signal(p1, body.signal)) throw new HttpError(409, `pod ${p1} has no running process`);
        this.json(res, 200, { signalled: body.signal });
        return;
      }
    }
    if (m === 'GET' && p0 === 'memory-leaks' && parts.length === 1) {
      this.json(res, 200, pods.leaks());
      return;
    }
    if (p0 === 'proxy') {
      if (m === 'GET' && p1 === 'faults' && parts.length === 2) {
        this.json(res, 200, this.faults.list());
        return;
      }
      if (p1 && p2 === 'faults' && p3 && parts.length === 4) {
        const spec = this.config.apps.find((a) => a.app === p1);
        if (!spec) throw new HttpError(404, `no service "${p1}"`);
        if (m === 'PUT') {
          let fault;
          try {
            const callers = this.config.apps
              .filter((a) => a.routes?.some((r) => r.dependency === p1))
              .map((a) => a.app);
            fault = validateFault(p1, spec.protocol, await readJson(req), callers);
          } catch (err) {
            if (err instanceof HttpError) throw err;
            throw new HttpError(400, (err as Error).message);
          }
          this.faults.put(p1, p3, fault);
          this.json(res, 200, { ...fault, app: p1, faultId: p3 });
          return;
        }
        if (m === 'DELETE') {
          this.json(res, 200, { removed: this.faults.delete(p1, p3) });
          return;
        }
      }
    }
    throw new HttpError(404, `no route ${m} ${url.pathname}`);
  }

  private async closeProxies(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.close()));
    this.proxies.length = 0;
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.pods?.stop();
    if (this.cgroups.ok) removeStackCgroups(this.cgroups.bases);
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = undefined;
    this.writeState();
    await this.closeProxies();
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
}
