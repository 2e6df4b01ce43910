import { maxUpdateBytes } from './rounds/intake.ts';
import type { TaskService } from './rounds/task-service.ts';
import type { PollenServer } from './socket.ts';

/** Slack above the largest update frame for the Socket.io envelope and metadata. */
const ENVELOPE_BYTES = 64 * 1024;

/** The heartbeat's timeout for small models. */
export const BASE_PING_TIMEOUT_MS = 10_000;
/**
 * The slowest link a contributor is expected on (about 4 Mbit/s, a weak mobile connection). A
 * heartbeat queues behind the message in flight on the same connection (the weights going
 * down, the update going up): its timeout must outlast the largest message at this rate, or
 * every device on a slow link is dropped mid-transfer once the model is big enough.
 */
const SLOWEST_LINK_BYTES_PER_S = 512 * 1024;

/** The heartbeat timeout for messages of up to `bytes`. */
export function pingTimeoutFor(bytes: number): number {
  return Math.max(BASE_PING_TIMEOUT_MS, Math.ceil((bytes / SLOWEST_LINK_BYTES_PER_S) * 1000));
}

/**
 * The transport's largest message: the largest update any task running here accepts, plus the
 * envelope, and the heartbeat timeout that follows from it. It grows when a task with a larger model starts (created through the API, or by
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

  /** The heartbeat timeout that lets the largest message through a slow link. */
  get pingTimeout(): number {
    return pingTimeoutFor(this.bytes);
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
    // Read by every open connection at its next heartbeat; new ones learn it in the handshake.
    engine.opts.pingTimeout = pingTimeoutFor(bytes);
    // engine.io builds its WebSocket server (and its maxPayload) from `opts` in init(); running
    // it again makes a new one for the next upgrades. Open connections are not touched.
    (engine as unknown as { init(): void }).init();
  }
}
