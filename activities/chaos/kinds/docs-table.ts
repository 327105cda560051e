/** The table of fault kinds in docs/fault-kinds.md, generated from the registry (test/fault-kinds.test.ts checks it). */
import type { z } from 'zod';
import { FAULT_KINDS } from './registry';

export const KINDS_TABLE_START = '<!-- fault-kinds-table:start (generated from activities/chaos/kinds/registry.ts) -->';
export const KINDS_TABLE_END = '<!-- fault-kinds-table:end -->';

/** `name=default` for each parameter with a default, `name?` for the optional ones, `name` (required) otherwise. */
function paramsCell(kind: (typeof FAULT_KINDS)[number]): string {
  const shape = kind.params.shape as Record<string, z.ZodType>;
  const cells = Object.entries(shape).map(([name, field]) => {
    const d = field.safeParse(undefined);
    if (!d.success) return `${name} (required)`;
    return d.data === undefined ? `${name}?` : `${name}=${JSON.stringify(d.data)}`;
  });
  return cells.length ? cells.map((c) => `\`${c}\``).join(' ') : '—';
}

export function faultKindsTable(): string {
  const rows = FAULT_KINDS.map((k) => {
    const local = [k.local.oneShot ? 'one-shot' : 'held', k.local.timed ? 'trigger thread' : 'engine loop'];
    return `| \`${k.type}\` | ${k.doc} | ${paramsCell(k)} | ${k.services} | ${k.chaosMesh.kind} (${k.chaosMesh.recovery}) | ${local.join(', ')} | ${k.report.label} |`;
  });
  return [
    '| kind | what it does | params (defaults) | services | Chaos Mesh (recovery) | local | report label |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
