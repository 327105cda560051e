import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseCampaignConfig, type CampaignConfig } from '../schemas/campaign';
import { CliError, EXIT } from './errors';

/** Reads a YAML or JSON campaign config and validates it; every problem is reported with its field path. */
export function loadCampaignConfig(file: string): CampaignConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      EXIT.usage,
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new CliError(`${file} is not valid YAML/JSON: ${(err as Error).message}`, EXIT.usage);
  }
  try {
    return parseCampaignConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`${file}: ${err.message}`, EXIT.usage);
    throw err;
  }
}
