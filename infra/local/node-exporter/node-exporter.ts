export const NODE_EXPORTER_BIN = '/usr/bin/prometheus-node-exporter';

/**
 * Only the collectors the dataset uses (the reference feature set: load, CPU, memory, disk, network,
 * filesystem, plus pressure/vmstat/stat for context). The defaults include slow or noisy ones on a shared
 * machine (hwmon, thermal, rapl, nfs, zfs, btrfs, textfile, systemd, ...), so start from none.
 */
export const NODE_EXPORTER_COLLECTORS = [
  'cpu',
  'loadavg',
  'meminfo',
  'diskstats',
  'filesystem',
  'netdev',
  'stat',
  'vmstat',
  'pressure',
  'uname',
];

export function nodeExporterArgs(port: number): string[] {
  return [
    `--web.listen-address=127.0.0.1:${port}`,
    '--collector.disable-defaults',
    ...NODE_EXPORTER_COLLECTORS.map((c) => `--collector.${c}`),
    '--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys|var/lib/docker/.+)($|/)',
    '--collector.netdev.device-exclude=^(veth.*|docker.*|br-.*)$',
    '--log.level=warn',
  ];
}
