import { PollenError } from '@pollen/fl-core';
import { buildCoordinator } from './app.ts';
import { dataDirToken } from './auth.ts';
import { loadConfig } from './config.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(err instanceof PollenError ? 2 : 1);
  }
  let generatedToken: string | null = null;
  if (config.operatorTokens.length === 0) {
    generatedToken = dataDirToken(config.dataDir);
    config = { ...config, operatorTokens: [generatedToken] };
  }
  const { app } = await buildCoordinator(config);
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info(
    { address, dataDir: config.dataDir },
    `Pollen is up: contributor page ${address}/, dashboard ${address}/dashboard`,
  );
  if (generatedToken) {
    process.stdout.write(
      `Operator token (dashboard, operator API): ${generatedToken}\n  kept in ${config.dataDir}/operator-token\n`,
    );
  }
  // A line tests and scripts can wait for, whatever the log level.
  process.stdout.write(`POLLEN_LISTENING ${address}\n`);

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`pollen-coordinator failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
