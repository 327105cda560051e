import { loadConfig } from './config';
import { Supervisor } from './supervisor';

/** `node lib/infra/local/supervisor/main.js --config <json>`: runs until SIGTERM/SIGINT, then stops every pod. */
async function main(): Promise<void> {
  const i = process.argv.indexOf('--config');
  const file = i >= 0 ? process.argv[i + 1] : undefined;
  if (!file) {
    process.stderr.write('usage: node lib/infra/local/supervisor/main.js --config <file.json>\n');
    process.exit(2);
  }
  const supervisor = new Supervisor(loadConfig(file));
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`supervisor: ${sig}, stopping pods\n`);
    supervisor.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`supervisor: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => undefined); // detached: a closing terminal must not take the pods down
  await supervisor.start();
  process.stderr.write(`supervisor: started (pid ${process.pid}, config ${file})\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`supervisor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
