import { stringify } from 'yaml';
import { formatDuration, parseDuration } from '../../../schemas/duration';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PrometheusConfigInput {
  scrapeInterval: string;
  nodeExporterPort: number;
  supervisorPort: number;
}

/**
 * prometheus.yml for the local stack. The boutique's pods come from the supervisor's HTTP SD endpoint
 * (`/sd/pods`, refreshed every scrape interval) so a replacement pod on the same port is scraped under its new
 * `pod` label right away. Pod metrics already carry `pod` (the services' default label): honor_labels keeps it.
 */
export function prometheusConfig(input: PrometheusConfigInput): string {
  const interval = formatDuration(parseDuration(input.scrapeInterval));
  const intervalMs = parseDuration(input.scrapeInterval);
  const timeout = formatDuration(Math.min(intervalMs, 10_000));
  const supervisor = `127.0.0.1:${input.supervisorPort}`;
  return stringify({
    global: { scrape_interval: interval, scrape_timeout: timeout, evaluation_interval: interval },
    scrape_configs: [
      {
        job_name: 'node',
        static_configs: [{ targets: [`127.0.0.1:${input.nodeExporterPort}`], labels: { node: 'local' } }],
      },
      { job_name: 'supervisor', honor_labels: true, static_configs: [{ targets: [supervisor] }] },
      {
        job_name: 'boutique',
        honor_labels: true,
        http_sd_configs: [{ url: `http://${supervisor}/sd/pods`, refresh_interval: interval }],
      },
    ],
  });
}

export function prometheusArgs(opts: {
  configFile: string;
  tsdbPath: string;
  port: number;
  retention: string;
}): string[] {
  return [
    `--config.file=${opts.configFile}`,
    `--storage.tsdb.path=${opts.tsdbPath}`,
    `--storage.tsdb.retention.time=${formatDuration(parseDuration(opts.retention))}`,
    `--web.listen-address=127.0.0.1:${opts.port}`,
    '--web.enable-lifecycle',
    '--web.enable-admin-api',
    '--log.level=warn',
  ];
}
