import type { FastifyBaseLogger } from 'fastify';
import { type Clock, systemClock } from '../clock.ts';
import type { PollenServer } from '../socket.ts';
import type { Store } from '../store/types.ts';
import { ContributorGateway } from './gateway.ts';
import { type EngineOptions, TaskService } from './task-service.ts';
import type { UploadSlots } from './upload-slots.ts';

export { maxUpdateBytes } from './intake.ts';
export { RECONNECT_GRACE_MS } from './reconnect-grace.ts';
export type { EngineOptions, TaskEvents } from './task-service.ts';
export type { PollenServer };

/**
 * The coordinator's core (docs/design.md, "Rounds in the coordinator"): the task service
 * (tasks, their runners and models, task-service.ts) and the contributor gateway serving the
 * protocol over them (gateway.ts).
 */
export class Engine extends TaskService {
  private readonly gateway: ContributorGateway;

  constructor(store: Store, log: FastifyBaseLogger, clock: Clock = systemClock, options: EngineOptions = {}) {
    super(store, log, clock, options);
    this.gateway = new ContributorGateway(this, log, clock, options.uploadBudgetBytes);
  }

  /** The flow control on uploads (upload-slots.ts): what is in flight, what waits. */
  get uploadSlots(): UploadSlots {
    return this.gateway.slots;
  }

  /** Serve the contributor protocol on a Socket.io server. */
  attach(io: PollenServer): void {
    this.gateway.attach(io);
  }

  /** Stop the gateway's reconnect graces, then every runner (rounds in flight are abandoned). */
  override async close(): Promise<void> {
    this.gateway.close();
    await super.close();
  }
}
