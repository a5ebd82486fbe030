// The process entry: config, model, listen, signals, workers. Everything else is in buildApp.
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { loadArtifact } from '../model/artifact.js';
import { findArtifact } from '../model/catalog.js';
import { describeLocation, openStore, scheduleRetention, type Store } from '../store/index.js';
import { loadConfig, type Config } from './config.js';
import { mergeCounts, type ObservedCounts } from '../model/drift.js';
import { DriftCounter } from './drift.js';
import { ServiceMetrics } from './metrics.js';
import { ModelHolder, oneAtATime, servingModel, type ModelChange, type ReloadOutcome } from './models.js';

/** After the drain, in-flight work gets this long to finish before the process gives up and exits non-zero. */
const SHUTDOWN_DEADLINE_MS = 10_000;
/** A worker that has not answered the primary (a reload, its drift counts) by then is reported as failed. */
const WORKER_TASK_TIMEOUT_MS = 30_000;
/** A scrape gives up sooner than other questions: Prometheus's own scrape timeout is 10 s by default. */
const WORKER_METRICS_TIMEOUT_MS = 5_000;
/** A new worker waits this long for the primary to bring it up to date before it listens anyway. */
const WORKER_CATCH_UP_TIMEOUT_MS = 10_000;
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
    models = new ModelHolder(
      servingModel(artifact),
      () => loadArtifact(config.modelPath),
      (version) => findArtifact(config.modelPath, version),
    );
    logger.info({ file, model_version: artifact.model_version, sha256: artifact.sha256 }, 'model loaded');
  } catch (error) {
    die(`cannot load the model: ${(error as Error).message}`);
  }
  if (config.challenger) {
    const outcome = await models.apply({ kind: 'challenger', version: config.challenger });
    if (!outcome.ok) die(`cannot load the challenger CHALLENGER=${config.challenger}: ${outcome.error}`);
    // After the challenger is promoted, the deployment's CHALLENGER may still name it: run, without one.
    if (outcome.model_version === 'none') logger.warn({ challenger: config.challenger }, 'CHALLENGER names the champion\'s own version: running without a challenger');
    else logger.info({ file: outcome.file, model_version: outcome.model_version }, 'challenger loaded: every lead is also scored by it, in the shadow');
  }

  let store: Store | null = null;
  try {
    store = await openStore(config.store, { outcomeHorizonDays: config.outcomeHorizonDays, readTimeoutMs: config.storeReadTimeoutMs, onBackgroundError: (err) => logger.warn({ err }, 'store connection error; it reconnects by itself') });
    logger.info({ store: describeLocation(config.store) }, store ? 'store open' : 'store off: scores are not kept');
  } catch (error) {
    die(`cannot open the store ${describeLocation(config.store)}: ${(error as Error).message}`);
  }
  const retention =
    store && config.storeRetentionDays
      ? scheduleRetention(store, {
          days: config.storeRetentionDays,
          onPass: (deleted) => deleted && logger.info({ deleted, retention_days: config.storeRetentionDays }, 'old scores deleted'),
          onError: (err) => logger.warn({ err }, 'retention pass failed; the next one tries again'),
        })
      : null;

  const changeHere = async (change: ModelChange) => {
    const outcome = await models.apply(change);
    const what = change.kind === 'challenger' ? 'challenger change' : change.kind === 'champion' ? "change to the siblings' model" : 'model reload';
    if (outcome.ok) logger.info({ file: outcome.file, model_version: outcome.model_version, previous_version: outcome.previous_version }, `${what} done`);
    else logger.error({ error: outcome.error, model_version: outcome.model_version }, `${what} refused; the previous model keeps serving`);
    return outcome;
  };

  // A worker reloads when the primary says so. What concerns the whole process group (a reload
  // asked of one worker, a metrics scrape) is asked of the primary, which answers for all workers.
  const pending = new Map<string, (answer: unknown) => void>();
  const askPrimary = <T>(question: Question): Promise<T> =>
    new Promise<T>((resolve) => {
      const id = randomUUID();
      pending.set(id, (answer) => {
        pending.delete(id);
        resolve(answer as T);
      });
      process.send!({ type: 'leadscore:ask', id, question });
    });
  const metrics = config.metrics ? new ServiceMetrics() : null;
  const driftCounter = new DriftCounter();
  // A worker listens only once the primary has given it the model changes made while it started
  // (a reload, the challenger the others run): until then it would score with what it read at start.
  let caughtUp = () => {};
  const upToDate = cluster.isWorker
    ? new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn({ waited_ms: WORKER_CATCH_UP_TIMEOUT_MS }, 'the primary has not brought this worker up to date; listening with the model it loaded');
          resolve();
        }, WORKER_CATCH_UP_TIMEOUT_MS);
        caughtUp = () => {
          clearTimeout(timer);
          resolve();
        };
      })
    : Promise.resolve();
  if (cluster.isWorker) {
    const work = (task: Task): Promise<unknown> => {
      if (task.kind === 'change') return changeHere(task.change);
      if (task.kind === 'metrics') return metrics ? metrics.registry.getMetricsAsJSON() : Promise.resolve([]);
      return Promise.resolve(driftCounter.counts(task.sinceMs));
    };
    process.on('message', (message: ClusterMessage) => {
      if (message?.type === 'leadscore:task') {
        const { task, id } = message;
        // A task that fails is answered with its error: unanswered, it would hold the primary's question until its timeout.
        void work(task).then(
          (result) => process.send!({ type: 'leadscore:done', id, result }),
          (error: Error) => process.send!({ type: 'leadscore:done', id, error: error.message }),
        );
      }
      if (message?.type === 'leadscore:answer') pending.get(message.id)?.(message.answer);
      if (message?.type === 'leadscore:current') caughtUp();
    });
    process.send!({ type: 'leadscore:ready', version: models.champion.artifact.model_version }); // from now on, the primary's tasks are heard
  } else {
    process.on('SIGHUP', () => void changeHere({ kind: 'reload' }));
  }
  const changeAll = cluster.isWorker ? (change: ModelChange) => askPrimary<ReloadOutcome[]>({ kind: 'change', change }) : async (change: ModelChange) => [await changeHere(change)];
  const collectMetrics = cluster.isWorker ? () => askPrimary<string>({ kind: 'metrics' }) : undefined;
  const collectDriftCounts = cluster.isWorker ? (sinceMs: number) => askPrimary<ObservedCounts>({ kind: 'drift', sinceMs }) : undefined;

  // The HTTP stack (Fastify, its plugins, the routes' schemas) is loaded only now: a process that
  // cannot load its model or open its store refuses to start without it, and the cluster's primary,
  // which serves no HTTP, never loads it.
  const { buildApp } = await import('./app.js');
  const app = await buildApp({ config, model: models, logger, changeAll, metrics, collectMetrics, collectDriftCounts, driftCounter, store });
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
      await retention?.stop();
      await store?.close(); // after the last request: its scores are committed before this resolves
      logger.info('stopped');
    },
  );

  await upToDate;
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
    // askWorkers() listens on a worker once per question in flight and stops when it is answered:
    // a dashboard asking for drift a dozen times at once is not a leak, and warning of one would mislead.
    worker.setMaxListeners(0);
    worker.once('listening', () => {
      (worker as Worker & { started?: boolean }).started = true;
      failedStarts = 0;
    });
    reloadsAtFork.set(worker, reloads);
  };
  // Workers that listen to the primary's tasks. A message sent before a worker listens is lost, and
  // a question asked of a replacement still loading its model went unanswered: a dashboard's
  // /model/drift waited the full WORKER_TASK_TIMEOUT_MS, a scrape prom-client's 5 s, and a shutdown
  // behind them. A worker not yet ready has served nothing to count or to report.
  const ready = new WeakSet<Worker>();
  // Model changes reach the workers one at a time, each asked of the workers ready when it starts.
  // A worker that becomes ready meanwhile is brought up to date after it, in the same queue: it is
  // given the challenger the others run at that moment, and a reload if there was one since it was
  // forked (it may have read latest.json before the reload's promotion rewrote it).
  const inTurn = oneAtATime();
  let challenger: ModelChange | undefined;
  let reloads = 0;
  // The version the workers serve: the first ready worker's, then each reload's. A worker that
  // replaces a dead one reads latest.json anew, and latest.json may have moved since the others
  // loaded it (training makes its model the default; so does a promotion whose reload failed):
  // without this, one port served two models at random, 38 and 22 of 60 requests.
  let served: string | undefined;
  const reloadsAtFork = new WeakMap<Worker, number>();
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

  /** Sends a task to every worker and collects each one's result; a worker that exits or stays silent gets `failed`. */
  const askWorkers = <T>(task: Task, failed: (pid: number, error: string) => T, only?: Worker[], timeoutMs = WORKER_TASK_TIMEOUT_MS): Promise<T[]> => {
    const id = randomUUID();
    const workers = only ?? Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && ready.has(worker));
    return Promise.all(
      workers.map(
        (worker) =>
          new Promise<T>((resolve) => {
            const pid = worker.process.pid ?? 0;
            const timer = setTimeout(() => finish(failed(pid, `did not answer within ${timeoutMs} ms`)), timeoutMs);
            const onMessage = (message: ClusterMessage) => {
              if (message?.type === 'leadscore:done' && message.id === id) finish(message.error === undefined ? (message.result as T) : failed(pid, message.error));
            };
            const onExit = () => finish(failed(pid, 'exited before answering'));
            const finish = (result: T) => {
              clearTimeout(timer);
              worker.off('message', onMessage);
              worker.off('exit', onExit);
              resolve(result);
            };
            worker.on('message', onMessage);
            worker.once('exit', onExit);
            // A worker can die between being listed and being written to: without a callback, the
            // closed channel's error would be an 'error' event nobody listens to, and would take the
            // primary down with it (exit 1, the whole cluster gone).
            worker.send({ type: 'leadscore:task', id, task }, (error: Error | null) => {
              if (error) finish(failed(pid, `could not be asked: ${error.message}`));
            });
          }),
      ),
    );
  };
  const askChange = (change: ModelChange, workers?: Worker[]) =>
    askWorkers<ReloadOutcome>({ kind: 'change', change }, (pid, error) => ({ pid, ok: false, model_version: 'unknown', previous_version: 'unknown', error }), workers);
  const refused = (what: string) => (outcomes: ReloadOutcome[]) => {
    for (const outcome of outcomes.filter((o) => !o.ok)) process.stderr.write(`leadscore: worker ${outcome.pid} refused ${what}: ${outcome.error}\n`);
  };
  const changeWorkers = (change: ModelChange) =>
    inTurn(async () => {
      if (change.kind === 'reload') reloads++;
      const outcomes = await askChange(change);
      // With no worker ready to reload (all being replaced), what they will serve is not known yet:
      // the first to be brought up to date (reloading, as it was forked before this) sets it.
      if (change.kind === 'reload') served = outcomes.length === 0 ? undefined : (outcomes.find((outcome) => outcome.ok)?.model_version ?? served);
      if (change.kind === 'challenger' && outcomes.some((outcome) => outcome.ok)) challenger = change; // a refused one changed nothing
      return outcomes;
    });
  const bringUpToDate = (worker: Worker, loaded: string) =>
    inTurn(async () => {
      if (!worker.isConnected()) return;
      let version = loaded;
      if (reloads > (reloadsAtFork.get(worker) ?? 0)) {
        const outcomes = await askChange({ kind: 'reload' }, [worker]);
        refused('the reload')(outcomes);
        if (outcomes[0]?.ok) version = outcomes[0].model_version;
      }
      served ??= version;
      if (version !== served) {
        const outcomes = await askChange({ kind: 'champion', version: served }, [worker]);
        for (const outcome of outcomes.filter((o) => !o.ok)) {
          process.stderr.write(`leadscore: worker ${outcome.pid} serves ${version} while the others serve ${served}, whose artifact it could not load: ${outcome.error}\n`);
        }
      }
      if (challenger) refused('the challenger change')(await askChange(challenger, [worker]));
    }).finally(() => worker.isConnected() && worker.send({ type: 'leadscore:current' }, () => {}));
  const collectMetrics = async () => {
    const failures: string[] = [];
    const registries = await askWorkers<MetricObjectWithValues<MetricValue<string>>[]>(
      { kind: 'metrics' },
      (pid, error) => (failures.push(`worker ${pid} ${error}`), []),
      undefined,
      WORKER_METRICS_TIMEOUT_MS,
    );
    // All or nothing, as prom-client's own cluster scrape: a sum missing one worker's counters
    // would read to Prometheus as a counter reset, a scrape with no series as a gap.
    if (failures.length) throw new Error(failures.join('; '));
    return AggregatorRegistry.aggregate(registries).metrics();
  };
  const answer = async (question: Question): Promise<unknown> => {
    if (question.kind === 'change') return changeWorkers(question.change);
    if (question.kind === 'drift') return mergeCounts(...(await askWorkers<ObservedCounts>({ kind: 'drift', sinceMs: question.sinceMs }, () => ({}))));
    return collectMetrics().catch((error: Error) => `# the workers' metrics could not be collected: ${error.message}\n`);
  };
  cluster.on('message', (worker, message: ClusterMessage) => {
    // The asking worker may have died meanwhile: there is no one left to answer, and nothing to do.
    if (message?.type === 'leadscore:ask') void answer(message.question).then((result) => worker.send({ type: 'leadscore:answer', id: message.id, answer: result }, () => {}));
    if (message?.type === 'leadscore:ready') {
      ready.add(worker);
      void bringUpToDate(worker, message.version);
    }
  });
  process.on('SIGHUP', () => void changeWorkers({ kind: 'reload' }).then(refused('the reload')));
}

/** What a worker asks the primary to do for the whole process group. */
type Question = { kind: 'change'; change: ModelChange } | { kind: 'metrics' } | { kind: 'drift'; sinceMs: number };
/** What the primary asks of each worker. */
type Task = { kind: 'change'; change: ModelChange } | { kind: 'drift'; sinceMs: number } | { kind: 'metrics' };
type ClusterMessage =
  | { type: 'leadscore:task'; id: string; task: Task }
  | { type: 'leadscore:done'; id: string; result?: unknown; error?: string }
  | { type: 'leadscore:ask'; id: string; question: Question }
  | { type: 'leadscore:answer'; id: string; answer: unknown }
  | { type: 'leadscore:ready'; version: string }
  | { type: 'leadscore:current' }
  | undefined;

// A function, not top-level await: the server ships as one CommonJS script, which V8 can cache
// compiled (scripts/bundle.mjs, src/server/launch.ts).
async function main(): Promise<void> {
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
}

main().catch((error: unknown) => die(error instanceof Error ? error.message : String(error)));
