import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, parseCampaignConfig } from '../schemas/campaign';
import { parseDuration } from '../schemas/duration';
import { campaignJsonSchema } from '../cli/commands/config';
import { getTestTemporal, uniqueId } from './helpers/temporal';

const CLI = join(__dirname, '..', 'cli', 'main.js');

/** [what is wrong, config, expected "path: message" fragment] */
const BAD: [string, unknown, RegExp][] = [
  ['not an object', 'campaign', /\(config\): /],
  ['missing name', {}, /- name: required field is missing/],
  ['name with spaces and capitals', { name: 'My Campaign' }, /name: must be lowercase letters, digits and dashes/],
  ['unknown top-level field', { name: 'a', duraton: {} }, /\(config\): unknown field\(s\) "duraton"/],
  [
    'duration without unit',
    { name: 'a', durations: { chaos: '10' } },
    /durations\.chaos: must be a duration such as "90s"/,
  ],
  [
    'duration in words',
    { name: 'a', durations: { baseline: 'ten minutes' } },
    /durations\.baseline: must be a duration/,
  ],
  ['unknown target type', { name: 'a', target: { type: 'docker' } }, /target\.type: /],
  [
    'unknown feature set',
    { name: 'a', features: { set: 'mesh' } },
    /features\.set: must be one of "service-level", "stock-cluster"/,
  ],
  [
    'request metrics on the local default (service-level) set',
    { name: 'a', features: { requestMetrics: 'app' } },
    /features\.requestMetrics: applies to the stock-cluster feature set only, and this campaign uses service-level \(the default for target\.type local\)/,
  ],
  [
    'kubernetes without namespace',
    { name: 'a', target: { type: 'kubernetes', prometheusUrl: 'http://p:9090' } },
    /target\.namespace: /,
  ],
  [
    'kubernetes prometheus not a URL',
    { name: 'a', target: { type: 'kubernetes', namespace: 'shop', prometheusUrl: 'prom' } },
    /target\.prometheusUrl: /,
  ],
  ['unknown phase', { name: 'a', phases: ['deploy', 'explode'] }, /phases\[1\]: must be one of "deploy"/],
  [
    'phases out of order',
    { name: 'a', phases: ['chaos', 'deploy'] },
    /phases: phases must be listed once each in pipeline order/,
  ],
  ['zero virtual users', { name: 'a', traffic: { users: 0 } }, /traffic\.users: /],
  ['negative epochs', { name: 'a', model: { epochs: -3 } }, /model\.epochs: /],
  ['unknown browser profile', { name: 'a', browser: { profile: 'tablet' } }, /browser\.profile: /],
  ['window size zero', { name: 'a', dataset: { window: { size: 0 } } }, /dataset\.window\.size: /],
  ['local port out of range', { name: 'a', target: { type: 'local', basePort: 80 } }, /target\.basePort: /],
];

describe('campaign config validation', () => {
  it('accepts a minimal config and fills the local demo defaults', () => {
    const cfg = parseCampaignConfig({ name: 'demo' });
    assert.equal(cfg.target.type, 'local');
    assert.equal(cfg.durations.baseline, '2m');
    assert.equal(cfg.traffic.enabled, true);
    assert.ok(cfg.phases.length >= 1);
  });

  for (const [what, input, expected] of BAD) {
    it(`rejects ${what} with an error naming the field`, () => {
      assert.throws(
        () => parseCampaignConfig(input),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, expected);
          return true;
        },
      );
    });
  }

  it('parses durations as strings with units', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.throws(() => parseDuration('10'), /not a duration/);
  });

  it('exports a JSON Schema for editors and the Temporal UI', () => {
    const schema = campaignJsonSchema() as { properties?: Record<string, unknown>; required?: string[] };
    assert.ok(schema.properties?.name && schema.properties.target && schema.properties.durations);
    assert.deepEqual(schema.required, ['name']);
  });

  it('the CLI refuses each bad config with exit code 2 and starts no workflow', async function () {
    this.timeout(180_000);
    const t = await getTestTemporal();
    const dir = mkdtempSync(join(tmpdir(), 'faultline-badcfg-'));
    // Each CLI process costs a Node start-up; a representative sample covers the CLI path, the loop above
    // covers every kind of error.
    for (const [i, [what, input]] of BAD.entries()) {
      if (i % 4 !== 1) continue;
      const file = join(dir, `bad-${i}.yaml`);
      writeFileSync(file, typeof input === 'string' ? input : stringify(input));
      const id = uniqueId('bad-config');
      const r = spawnSync(
        process.execPath,
        [CLI, '--address', t.address, 'campaign', 'start', '-f', file, '--id', id],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 2, `${what}: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, /invalid campaign config/, what);
      await assert.rejects(t.client.workflow.getHandle(id).describe(), /not found/i, `${what}: a workflow was started`);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
