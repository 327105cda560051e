import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ModelConfig } from '../../schemas/model';
import type { TrainInput, TrainResult } from './types';

export interface TrainingDeps {
  /** faultline home (unused by the trainer itself; kept for parity with the other activity factories). */
  home?: string;
  /** Python with torch + numpy; default env FAULTLINE_PYTHON, else /usr/bin/python3 (Debian's python3-torch). */
  python?: string;
  /** The trainer package dir (PYTHONPATH); default <repo>/workers/training/usad. */
  packageDir?: string;
  /** Heartbeat at least this often besides one per epoch, so a long epoch is not taken for a dead worker. */
  heartbeatIntervalMs?: number;
  /** How long a cancelled trainer gets after SIGTERM before SIGKILL. */
  killGraceMs?: number;
}

/** What a training attempt heartbeats; a retry reads it back to resume. */
export interface TrainHeartbeat {
  outDir: string;
  checkpointPath: string;
  epoch: number;
  epochs: number;
  device?: string;
  loss1?: number;
  loss2?: number;
  val_loss1?: number;
  val_loss2?: number;
  seconds?: number;
  /** pid of the trainer (the leader of its own process group) */
  pid?: number;
}

/** One progress line from `python -m usad train` (see workers/training/usad/usad/__main__.py). */
interface ProgressLine {
  event: 'start' | 'epoch' | 'done';
  [k: string]: unknown;
}

function defaultPackageDir(): string {
  for (const p of [
    join(__dirname, '..', '..', '..', 'workers', 'training', 'usad'),
    join(__dirname, '..', '..', 'workers', 'training', 'usad'),
  ]) {
    if (existsSync(join(p, 'usad', '__main__.py'))) return p;
  }
  return resolve('workers', 'training', 'usad');
}

/** The CLI flags for a model config (defaults applied by schemas/model.ts before this point). */
export function trainerArgs(dataDir: string, outDir: string, m: ModelConfig, resume: boolean): string[] {
  const a = ['-m', 'usad', 'train', '--data', dataDir, '--out', outDir];
  a.push('--epochs', String(m.epochs), '--batch-size', String(m.batchSize), '--latent-size', String(m.latentSize));
  a.push('--lr', String(m.learningRate), '--seed', String(m.seed), '--device', m.device);
  a.push('--alpha', String(m.alpha), '--beta', String(m.beta));
  a.push('--patience', String(m.patience), '--min-delta', String(m.minDelta), '--threads', String(m.threads));
  a.push('--update', m.update);
  if (resume) a.push('--resume');
  return a;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Trains USAD in a Python subprocess: each JSON progress line becomes a heartbeat, a retry resumes from the
 * last checkpoint, cancellation kills the trainer's whole process group, and `--device auto` picks CUDA
 * when torch sees one (the device used is in the result).
 */
export async function runTraining(deps: TrainingDeps, input: TrainInput): Promise<TrainResult> {
  const ctx = Context.current();
  const python = deps.python ?? process.env.FAULTLINE_PYTHON ?? '/usr/bin/python3';
  const pkg = deps.packageDir ?? defaultPackageDir();
  const dataDir = isAbsolute(input.dataset.dir) ? input.dataset.dir : join(input.dataDir, input.dataset.dir);
  const prev = ctx.info.heartbeatDetails as Partial<TrainHeartbeat> | undefined;
  const outDir = prev?.outDir ?? join(input.dataDir, 'model');
  const checkpointPath = join(outDir, 'checkpoint.pt');
  await mkdir(outDir, { recursive: true });
  // Resume only on a retry of this activity: a first attempt must not pick up a checkpoint left by an
  // earlier, possibly differently configured, run in the same campaign dir.
  const resume = (ctx.info.attempt > 1 || prev !== undefined) && existsSync(checkpointPath);
  const args = trainerArgs(dataDir, outDir, input.model, resume);
  const env = {
    ...process.env,
    PYTHONPATH: [pkg, process.env.PYTHONPATH].filter(Boolean).join(':'),
    PYTHONUNBUFFERED: '1',
  };
  const child = spawn(python, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid;
  let details: TrainHeartbeat = { outDir, checkpointPath, epoch: prev?.epoch ?? 0, epochs: input.model.epochs, pid };
  ctx.heartbeat(details);
  ctx.log.info('trainer started', { pid, resume, device: input.model.device, outDir });

  let done: ProgressLine | undefined;
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    let p: ProgressLine;
    try {
      p = JSON.parse(line) as ProgressLine;
    } catch {
      return; // not a progress line (a library printing to stdout)
    }
    if (p.event === 'epoch') {
      details = {
        ...details,
        epoch: num(p.epoch) ?? details.epoch,
        device: typeof p.device === 'string' ? p.device : details.device,
        loss1: num(p.loss1),
        loss2: num(p.loss2),
        val_loss1: num(p.val_loss1),
        val_loss2: num(p.val_loss2),
        seconds: num(p.seconds),
      };
      ctx.heartbeat(details);
    } else if (p.event === 'start') {
      details = { ...details, device: typeof p.device === 'string' ? p.device : undefined };
      ctx.heartbeat(details);
      ctx.log.info('trainer running', {
        device: p.device,
        deviceName: p.device_name,
        resumedFromEpoch: p.resumed_from_epoch,
      });
    } else if (p.event === 'done') {
      done = p;
    }
  });
  const timer = setInterval(() => ctx.heartbeat(details), deps.heartbeatIntervalMs ?? 5_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
    child.once('error', rej);
    child.once('close', (code, signal) => res({ code, signal }));
  });
  try {
    const { code, signal } = await Promise.race([exited, ctx.cancelled.then(() => ({ code: null, signal: null }))]);
    if (code !== 0 || !done) {
      const tail = stderrTail.slice(-15).join('\n');
      if (code === 3) throw ApplicationFailure.nonRetryable(`trainer refused the dataset: ${tail}`, 'DataError');
      if (/ModuleNotFoundError|No module named/.test(tail)) {
        throw ApplicationFailure.nonRetryable(
          `${python} lacks the trainer's packages (torch, numpy): ${tail}`,
          'NotAvailable',
        );
      }
      throw ApplicationFailure.retryable(`trainer exited with ${signal ?? code}: ${tail}`, 'TrainerFailed');
    }
    const d = done;
    return {
      onnxPath: String(d.onnxPath),
      checkpointPath: String(d.checkpointPath),
      historyPath: String(d.historyPath),
      device: String(d.device),
      epochs: num(d.epochs) ?? 0,
      seconds: num(d.seconds) ?? 0,
    };
  } catch (err) {
    if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) {
      await killGroup(child.pid, exited, deps.killGraceMs ?? 5_000);
    }
    throw err;
  } finally {
    clearInterval(timer);
    if (child.exitCode === null && child.signalCode === null)
      await killGroup(child.pid, exited, deps.killGraceMs ?? 5_000);
  }
}

/** SIGTERM the trainer's process group (it was spawned detached, so it leads one), SIGKILL after a grace. */
async function killGroup(pid: number | undefined, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (pid === undefined) return;
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-pid, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((res) => {
    timer = setTimeout(res, graceMs);
  });
  await Promise.race([
    exited.then(
      () => undefined,
      () => undefined,
    ),
    grace,
  ]);
  if (timer) clearTimeout(timer);
  signal('SIGKILL');
}
