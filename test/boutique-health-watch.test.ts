import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { BoutiqueGrpcServer } from '../infra/local/boutique/grpc-server';
import { healthCheck } from '../infra/local/boutique/grpc-client';
import { loadProtos } from '../infra/local/boutique/proto';
import { freePort, waitUntil } from './helpers/ports';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A Watch stream's statuses as they arrive, and whether (and how) it ended. */
function watch(address: string, service: string) {
  const Ctor = loadProtos().health;
  const client = new Ctor(address, grpc.credentials.createInsecure());
  const seen: string[] = [];
  const ended: { status?: grpc.StatusObject } = {};
  const fn = (client as unknown as Record<string, (req: unknown) => grpc.ClientReadableStream<unknown>>)['Watch']!;
  const call = fn.call(client, { service });
  call.on('data', (m: { status?: unknown }) => seen.push(String(m.status)));
  call.on('status', (st: grpc.StatusObject) => (ended.status = st));
  call.on('error', () => undefined); // the status event carries it
  return { seen, ended, call, close: () => client.close() };
}

describe('grpc.health.v1 Watch on a boutique gRPC server', () => {
  it('streams the status at once and each change; SERVICE_UNKNOWN for an unknown name; ends on shutdown', async function () {
    this.timeout(20_000);
    let serving = true;
    const port = await freePort();
    const server = new BoutiqueGrpcServer({
      host: '127.0.0.1',
      port,
      registry: new Registry(),
      logger: quiet,
      isServing: () => serving,
    });
    await server.start();
    const address = `127.0.0.1:${port}`;
    const w = watch(address, '');
    const unknown = watch(address, 'nope.Service');
    try {
      await waitUntil(() => w.seen.length === 1, 5000, 'first status');
      assert.deepEqual(w.seen, ['SERVING']);
      await waitUntil(() => unknown.seen.length === 1, 5000, 'unknown service status');
      assert.deepEqual(unknown.seen, ['SERVICE_UNKNOWN']);
      assert.equal(unknown.ended.status, undefined, 'an unknown service keeps the stream open');

      // a change is sent once, within a poll (the final sequence below has no repeats)
      serving = false;
      await waitUntil(() => w.seen.length === 2, 5000, 'NOT_SERVING');
      assert.equal(await healthCheck(address, 2000), 'NOT_SERVING', 'Check agrees');
      serving = true;
      await waitUntil(() => w.seen.length === 3, 5000, 'SERVING again');
      assert.deepEqual(w.seen, ['SERVING', 'NOT_SERVING', 'SERVING']);

      // shutdown: NOT_SERVING, then the stream ends OK, and the open watches do not hold the grace period
      const t0 = Date.now();
      await server.shutdown(10_000);
      assert.ok(Date.now() - t0 < 5000, `shutdown took ${Date.now() - t0} ms`);
      await waitUntil(() => w.ended.status !== undefined, 5000, 'watch ended');
      assert.deepEqual(w.seen, ['SERVING', 'NOT_SERVING', 'SERVING', 'NOT_SERVING']);
      assert.equal(w.ended.status!.code, grpc.status.OK);
    } finally {
      w.close();
      unknown.close();
      await server.shutdown(0);
    }
  });
});
