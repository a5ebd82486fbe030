// The process entry: config, model, listen, signals. Everything else is in buildApp.
import cluster from 'node:cluster';
import pino from 'pino';
import { loadArtifact } from '../model/artifact.js';
import { buildApp, loadedModel } from './app.js';
import { loadConfig, type Config } from './config.js';

/** In-flight work gets this long after SIGTERM before the process gives up and exits non-zero. */
const SHUTDOWN_DEADLINE_MS = 10_000;

function die(message: string): never {
  process.stderr.write(`leadscore: ${message}\n`);
  process.exit(1);
}

async function serve(config: Config): Promise<void> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  let model;
  try {
    const { file, artifact } = await loadArtifact(config.modelPath);
    model = loadedModel(artifact);
    logger.info({ file, model_version: artifact.model_version, sha256: artifact.sha256 }, 'model loaded');
  } catch (error) {
    die(`cannot load the model: ${(error as Error).message}`);
  }

  const app = await buildApp({ config, model, logger });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drain_ms: config.shutdownDrainMs }, 'shutting down: readiness now 503');
    app.beginShutdown();
    setTimeout(() => {
      logger.error('in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    // Keep serving while load balancers notice the 503, then stop taking connections and let in-flight requests finish.
    setTimeout(() => {
      app.close().then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'error while closing');
          process.exit(1);
        },
      );
    }, config.shutdownDrainMs);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    die(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
  }
}

/** With WORKERS > 1 the primary only forks workers that share the port, and relays signals to them. */
function superviseWorkers(config: Config): void {
  let stopping = false;
  for (let i = 0; i < config.workers; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (!stopping) {
      process.stderr.write(`leadscore: worker ${worker.process.pid} exited with ${code}; starting another\n`);
      cluster.fork();
    } else if (Object.keys(cluster.workers ?? {}).length === 0) {
      process.exit(0);
    }
  });
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

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
