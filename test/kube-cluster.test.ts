import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLUSTER_PORT_SPAN, ClusterError, clusterDown, clusterUp, type ClusterInfo } from '../infra/kube-local/cluster';
import { CLUSTER_MARKER } from '../infra/kube-local/processes';
import { processesMarked, processGone } from '../infra/local/supervisor/state';
import { repoRoot } from '../infra/local/paths';
import { sharedCluster } from './helpers/kube-cluster';
import { freePortRange, isFree } from './helpers/ports';

const run = promisify(execFile);
const CLI = path.join(repoRoot(), 'lib', 'cli', 'main.js');

/** Runs the real CLI in its own process (the cluster it starts must outlive it). */
async function faultline(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 180_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('faultline cluster: a real control plane on 127.0.0.1', function () {
  this.timeout(240_000);

  describe('up / status / down through the CLI', () => {
    let dir: string;
    let base: number;
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'faultline-cluster-cli-'));
      base = await freePortRange(CLUSTER_PORT_SPAN);
    });
    after(async () => {
      await clusterDown({ dir }).catch(() => undefined); // whatever a failed test left
      rmSync(dir, { recursive: true, force: true });
    });

    it('starts, reuses a healthy cluster, replaces a broken one and stops with nothing left running', async () => {
      const args = ['--dir', dir];
      const clusterUp = () =>
        faultline(['cluster', 'up', ...args, '--base-port', String(base), '--no-prometheus', '--json']);
      const up = await clusterUp();
      assert.equal(up.code, 0, up.stderr);
      const info = JSON.parse(up.stdout) as ClusterInfo;
      console.log(`      cluster up (warm binaries): ${(info.readyMs / 1000).toFixed(1)} s`);
      assert.equal(info.reused, false);
      assert.equal(info.server, `https://127.0.0.1:${base + 3}`);
      assert.ok(info.readyMs < 30_000, `ready in ${info.readyMs} ms`);
      const names = info.components.map((c) => c.name);
      assert.deepEqual(names, [
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok',
        'kube-state-metrics',
        'chaos-controller-manager',
      ]);
      assert.ok(
        info.components.every((c) => c.healthy && c.pid),
        JSON.stringify(info.components),
      );
      assert.match(readFileSync(info.kubeconfigPath, 'utf8'), /client-certificate-data/);

      // the CLI has exited; the cluster runs on
      const status = await faultline(['cluster', 'status', ...args]);
      assert.equal(status.code, 0, status.stdout + status.stderr);
      for (const c of info.components) {
        assert.match(status.stdout, new RegExp(`^${c.name}\\s+\\S+\\s+${c.pid}\\s+healthy$`, 'm'), status.stdout);
      }

      // a second `up` reuses it
      const again = await clusterUp();
      assert.equal(again.code, 0, again.stderr);
      const reused = JSON.parse(again.stdout) as ClusterInfo;
      assert.equal(reused.reused, true);
      assert.deepEqual(
        reused.components.map((c) => c.pid),
        info.components.map((c) => c.pid),
      );

      // broken (the scheduler died): status says so, `up` replaces the whole cluster
      const scheduler = info.components.find((c) => c.name === 'kube-scheduler')?.pid as number;
      process.kill(scheduler, 'SIGKILL');
      const broken = await faultline(['cluster', 'status', ...args]);
      assert.equal(broken.code, 5, broken.stdout);
      assert.match(broken.stdout, /^kube-scheduler\s+\S+\s+-\s+NOT RUNNING$/m);
      const replaced = await clusterUp();
      assert.equal(replaced.code, 0, replaced.stderr);
      const fresh = JSON.parse(replaced.stdout) as ClusterInfo;
      assert.equal(fresh.reused, false);
      assert.ok(fresh.components.every((c) => c.healthy));
      for (const c of info.components) assert.ok(processGone(c.pid as number), `${c.name} pid ${c.pid} left running`);

      const down = await faultline(['cluster', 'down', ...args]);
      assert.equal(down.code, 0, down.stderr);
      for (const c of fresh.components) assert.match(down.stdout, new RegExp(`^stopped: .*\\b${c.name}\\b`, 'm'));
      assert.deepEqual(processesMarked(CLUSTER_MARKER, dir), [], 'no process of the cluster left in /proc');
      for (const c of fresh.components) assert.ok(processGone(c.pid as number), `${c.name} left running`);
      for (let p = base; p < base + 10; p++) assert.ok(await isFree(p), `port ${p} still taken`);
      const after = await faultline(['cluster', 'status', ...args]);
      assert.equal(after.code, 5);
      assert.match(after.stdout, /no cluster in/);
    });

    it('names the port when one is taken, and says how to build missing binaries', async () => {
      const base2 = await freePortRange(CLUSTER_PORT_SPAN);
      const squatter = net.createServer();
      await new Promise<void>((r) => squatter.listen(base2 + 3, '127.0.0.1', () => r()));
      try {
        const res = await faultline(['cluster', 'up', '--dir', dir, '--base-port', String(base2), '--no-prometheus']);
        assert.equal(res.code, 5, res.stderr);
        assert.match(
          res.stderr,
          new RegExp(`port ${base2 + 3} on 127\\.0\\.0\\.1 \\(kube-apiserver HTTPS\\) is taken`),
        );
        assert.match(res.stderr, /pid \d+/); // who holds it
      } finally {
        squatter.close();
      }
      const empty = mkdtempSync(path.join(tmpdir(), 'faultline-nobins-'));
      try {
        await assert.rejects(
          clusterUp({ dir, binDir: empty, basePort: base2 }),
          (err: unknown) =>
            err instanceof ClusterError &&
            err.reason === 'missing' &&
            /kube-apiserver.*missing.*run `bash infra\/kube-local\/build\.sh`/.test(err.message),
        );
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
      assert.deepEqual(processesMarked(CLUSTER_MARKER, dir), []);
    });
  });

  describe('the shared test cluster', () => {
    let c: ClusterInfo;
    const kubectl = async (...args: string[]) =>
      (await run(path.join(c.binDir, 'kubectl'), ['--kubeconfig', c.kubeconfigPath, ...args])).stdout;
    before(async function () {
      this.timeout(180_000);
      c = await sharedCluster();
    });

    it('is Kubernetes v1.34.4 with one Ready, untainted kwok node', async () => {
      const v = JSON.parse(await kubectl('version', '-o', 'json')) as { serverVersion: { gitVersion: string } };
      assert.equal(v.serverVersion.gitVersion, 'v1.34.4');
      const node = JSON.parse(await kubectl('get', 'node', c.nodeName, '-o', 'json')) as {
        metadata: { annotations: Record<string, string> };
        spec: { taints?: unknown[] };
        status: { conditions: { type: string; status: string }[] };
      };
      assert.equal(node.metadata.annotations['kwok.x-k8s.io/node'], 'fake');
      assert.equal(node.spec.taints, undefined);
      assert.ok(node.status.conditions.some((x) => x.type === 'Ready' && x.status === 'True'));
    });

    it('serves the Chaos Mesh kinds faultline creates', async () => {
      const names = (await kubectl('api-resources', '--api-group=chaos-mesh.org', '-o', 'name')).split('\n');
      for (const kind of ['podchaos', 'networkchaos', 'stresschaos', 'httpchaos', 'workflows'])
        assert.ok(names.includes(`${kind}.chaos-mesh.org`), names.join(' '));
    });

    it('issues real service-account tokens (TokenRequest) that RBAC then judges', async () => {
      const ns = 'sa-token-probe';
      await kubectl('create', 'namespace', ns);
      try {
        await kubectl('-n', ns, 'create', 'serviceaccount', 'probe');
        const token = (await kubectl('-n', ns, 'create', 'token', 'probe', '--duration=10m')).trim();
        assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
        const asProbe = ['--kubeconfig=/dev/null', `--server=${c.server}`, `--certificate-authority=${c.caPath}`];
        const who = JSON.parse(
          (await run(path.join(c.binDir, 'kubectl'), [...asProbe, `--token=${token}`, 'auth', 'whoami', '-o', 'json']))
            .stdout,
        ) as { status: { userInfo: { username: string } } };
        assert.equal(who.status.userInfo.username, `system:serviceaccount:${ns}:probe`);
        await assert.rejects(
          run(path.join(c.binDir, 'kubectl'), [...asProbe, `--token=${token}`, '-n', 'kube-system', 'get', 'pods']),
          /forbidden: User "system:serviceaccount:sa-token-probe:probe" cannot list resource "pods"/,
        );
      } finally {
        await kubectl('delete', 'namespace', ns, '--wait=false');
      }
    });

    it('exports kube-state-metrics for the node', async () => {
      const text = await (await fetch(c.ksmUrl)).text();
      assert.match(
        text,
        new RegExp(`kube_node_status_condition\\{node="${c.nodeName}",condition="Ready",status="true"\\} 1`),
      );
    });
  });
});
