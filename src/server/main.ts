// The process entry: config, model, listen, signals, workers. Everything else is in buildApp.
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { loadArtifact } from '../model/artifact.js';
import { buildApp, servingModel } from './app.js';
import { loadConfig, type Config } from './config.js';
import { ModelHolder, type ReloadOutcome } from './models.js';

/** After the drain, in-flight work gets this long to finish before the process gives up and exits non-zero. */
const SHUTDOWN_DEADLINE_MS = 10_000;
/** A worker that has not answered a reload by then is reported as failed. */
const WORKER_RELOAD_TIMEOUT_MS = 30_000;
/** A worker that dies before it listens is replaced after 100 ms, 200 ms, 400 ms, …; after this many in a row the primary gives up. */
const WORKER_RESTART_BASE_MS = 100;
const WORKER_MAX_FAILED_STARTS = 5;

function die(message: string): never {
  process.stderr.write(`leadscore: ${message}\n`);
  process.exit(1);
}

async function serve(config: Config): Promise<void> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  let models: ModelHolder;
  try {
    const { file, artifact } = await loadArtifact(config.modelPath);
    models = new ModelHolder(servingModel(artifact), () => loadArtifact(config.modelPath));
    logger.info({ file, model_version: artifact.model_version, sha256: artifact.sha256 }, 'model loaded');
  } catch (error) {
    die(`cannot load the model: ${(error as Error).message}`);
  }
  const reloadHere = async () => {
    const outcome = await models.reload();
    if (outcome.ok) logger.info({ file: outcome.file, model_version: outcome.model_version, previous_version: outcome.previous_version }, 'model reloaded');
    else logger.error({ error: outcome.error, model_version: outcome.model_version }, 'model reload refused; the previous model keeps serving');
    return outcome;
  };

  // A worker reloads when the primary says so; a reload asked of one worker goes through the
  // primary, which tells every worker and answers with all of their outcomes.
  const pending = new Map<string, (outcomes: ReloadOutcome[]) => void>();
  if (cluster.isWorker) {
    process.on('message', (message: ClusterMessage) => {
      if (message?.type === 'leadscore:reload') void reloadHere().then((outcome) => process.send!({ type: 'leadscore:reloaded', id: message.id, outcome }));
      if (message?.type === 'leadscore:reload-done') pending.get(message.id)?.(message.outcomes);
    });
  } else {
    process.on('SIGHUP', () => void reloadHere());
  }
  const reloadAll = cluster.isWorker
    ? () =>
        new Promise<ReloadOutcome[]>((resolve) => {
          const id = randomUUID();
          pending.set(id, (outcomes) => {
            pending.delete(id);
            resolve(outcomes);
          });
          process.send!({ type: 'leadscore:reload-all', id });
        })
    : async () => [await reloadHere()];

  const app = await buildApp({ config, model: models, logger, reloadAll });
  // close-with-grace: a second signal or an error during shutdown exits at once, and an
  // uncaught error shuts down as gracefully as SIGTERM does (then exits 1).
  closeWithGrace(
    {
      delay: config.shutdownDrainMs + SHUTDOWN_DEADLINE_MS,
      skip: ['SIGHUP'],
      logger: { error: (message: unknown) => logger.error(message instanceof Error ? { err: message } : { detail: message }, 'shutdown') },
      onTimeout: () => logger.error('in-flight requests did not finish in time; exiting'),
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'uncaught error; shutting down');
      logger.info({ signal, drain_ms: config.shutdownDrainMs }, 'shutting down: readiness now 503');
      // Keep serving while load balancers notice the 503 (each response closing its keep-alive
      // connection), then stop taking connections and let in-flight requests finish.
      app.beginShutdown();
      await sleep(config.shutdownDrainMs);
      await app.close();
      logger.info('stopped');
    },
  );

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    die(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
  }
}

/**
 * With WORKERS > 1 the primary only forks workers that share the port and relays signals to
 * them. A worker that dies is replaced; one that keeps dying before it listens (a model
 * corrupted on disk, say) is retried with exponential backoff, then the primary exits 1 so the
 * orchestrator sees the failure instead of a process spinning at full CPU.
 */
function superviseWorkers(config: Config): void {
  let stopping = false;
  let failedStarts = 0;
  const fork = () => {
    const worker = cluster.fork();
    worker.once('listening', () => {
      (worker as Worker & { started?: boolean }).started = true;
      failedStarts = 0;
    });
  };
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failedStarts >= WORKER_MAX_FAILED_STARTS ? 1 : 0);
      return;
    }
    const started = (worker as Worker & { started?: boolean }).started === true;
    if (!started) failedStarts++;
    if (failedStarts >= WORKER_MAX_FAILED_STARTS) {
      process.stderr.write(`leadscore: ${failedStarts} workers in a row exited before listening; giving up\n`);
      stop('SIGTERM');
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
      return;
    }
    const delay = started ? 0 : WORKER_RESTART_BASE_MS * 2 ** (failedStarts - 1);
    process.stderr.write(`leadscore: worker ${worker.process.pid} exited with ${code ?? signal}; starting another${delay ? ` in ${delay} ms` : ''}\n`);
    setTimeout(fork, delay);
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const reloadWorkers = (): Promise<ReloadOutcome[]> => {
    const id = randomUUID();
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    return Promise.all(
      workers.map(
        (worker) =>
          new Promise<ReloadOutcome>((resolve) => {
            const failed = (error: string): ReloadOutcome => ({ pid: worker.process.pid ?? 0, ok: false, model_version: 'unknown', previous_version: 'unknown', error });
            const timer = setTimeout(() => finish(failed(`did not answer within ${WORKER_RELOAD_TIMEOUT_MS} ms`)), WORKER_RELOAD_TIMEOUT_MS);
            const onMessage = (message: ClusterMessage) => {
              if (message?.type === 'leadscore:reloaded' && message.id === id) finish(message.outcome);
            };
            const onExit = () => finish(failed('exited during the reload'));
            const finish = (outcome: ReloadOutcome) => {
              clearTimeout(timer);
              worker.off('message', onMessage);
              worker.off('exit', onExit);
              resolve(outcome);
            };
            worker.on('message', onMessage);
            worker.once('exit', onExit);
            worker.send({ type: 'leadscore:reload', id });
          }),
      ),
    );
  };
  cluster.on('message', (worker, message: ClusterMessage) => {
    if (message?.type === 'leadscore:reload-all') void reloadWorkers().then((outcomes) => worker.send({ type: 'leadscore:reload-done', id: message.id, outcomes }));
  });
  process.on('SIGHUP', () => {
    void reloadWorkers().then((outcomes) => {
      for (const outcome of outcomes.filter((o) => !o.ok)) process.stderr.write(`leadscore: worker ${outcome.pid} refused the reload: ${outcome.error}\n`);
    });
  });
}

type ClusterMessage =
  | { type: 'leadscore:reload'; id: string }
  | { type: 'leadscore:reloaded'; id: string; outcome: ReloadOutcome }
  | { type: 'leadscore:reload-all'; id: string }
  | { type: 'leadscore:reload-done'; id: string; outcomes: ReloadOutcome[] }
  | undefined;

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  die((error as Error).message);
}
if (config.workers > 1 && cluster.isPrimary) {
  // Check the model once up front, so a bad artifact fails the start instead of a fork loop.
  await loadArtifact(config.modelPath).catch((error: Error) => die(`cannot load the model: ${error.message}`));
  superviseWorkers(config);
} else {
  await serve(config);
}
