import { afterEach } from 'vitest';
import {
  type NodeContributor,
  removeDir,
  startTestCoordinator,
  type TestCoordinator,
  type TestSettings,
} from './harness.ts';

/** What one test file's tests open, and everything that is closed after each of them. */
export interface TestSession {
  /** Clients of the test running now: closed, and the list emptied, after it. */
  readonly clients: NodeContributor[];
  /**
   * Start a coordinator for the test running now (see startTestCoordinator). After the test it
   * is closed, unless the test closed it itself, and its data directory removed.
   */
  start(task?: Record<string, unknown>, dataDir?: string, settings?: TestSettings): Promise<TestCoordinator>;
}

/**
 * The set-up every coordinator test file repeated: call once at a file's top level; it
 * registers its own afterEach, so a failed test leaves no coordinator, socket or directory
 * behind for the next.
 */
export function testSession(): TestSession {
  const clients: NodeContributor[] = [];
  const coordinators: { coordinator: TestCoordinator; closed: boolean }[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const entry of coordinators.splice(0)) {
      if (!entry.closed) await entry.coordinator.close();
      removeDir(entry.coordinator.dataDir);
    }
  });
  return {
    clients,
    async start(task = {}, dataDir, settings) {
      const started = await startTestCoordinator(task, dataDir, settings);
      const entry = { coordinator: started, closed: false };
      coordinators.push(entry);
      // A test may close it itself (a restart, say); closing twice is not asked of Fastify.
      const coordinator: TestCoordinator = {
        ...started,
        close: async () => {
          if (entry.closed) return;
          entry.closed = true;
          await started.close();
        },
      };
      entry.coordinator = coordinator;
      return coordinator;
    },
  };
}
