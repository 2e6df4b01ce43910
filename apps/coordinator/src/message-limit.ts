import { maxUpdateBytes } from './rounds/intake.ts';
import type { TaskService } from './rounds/task-service.ts';
import type { PollenServer } from './socket.ts';

/** Slack above the largest update frame for the Socket.io envelope and metadata. */
const ENVELOPE_BYTES = 64 * 1024;

/**
 * The transport's largest message: the largest update any task running here accepts, plus the
 * envelope. It grows when a task with a larger model starts (created through the API, or by
 * another node of a cluster), so that task's uploads reach the round's own size check
 * (PAYLOAD_TOO_LARGE) instead of being cut off by the WebSocket. Connections opened before
 * keep the limit they were opened with; a new task's contributors connect after it exists.
 */
export class MessageLimit {
  private bytes = ENVELOPE_BYTES;
  private io: PollenServer | null = null;

  /** Follow the coordinator's tasks; call before they start so every task is counted. */
  constructor(tasks: TaskService) {
    tasks.on('taskStarted', (task) => this.grow(maxUpdateBytes(task) + ENVELOPE_BYTES));
  }

  get current(): number {
    return this.bytes;
  }

  /** Apply later growth to this server (created with `maxHttpBufferSize: current`). */
  attach(io: PollenServer): void {
    this.io = io;
  }

  private grow(bytes: number): void {
    if (bytes <= this.bytes) return;
    this.bytes = bytes;
    const engine = this.io?.engine;
    if (!engine) return;
    engine.opts.maxHttpBufferSize = bytes;
    // engine.io builds its WebSocket server (and its maxPayload) from `opts` in init(); running
    // it again makes a new one for the next upgrades. Open connections are not touched.
    (engine as unknown as { init(): void }).init();
  }
}
