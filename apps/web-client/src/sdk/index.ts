export type { ClientOptions } from './client.ts';
export { createClient, PollenClient } from './client.ts';
export type { ClientEvents, ClientStatus } from './events.ts';
