import type { ClientToServerEvents, ServerToClientEvents } from '@pollen/fl-core';
import type { Server, Socket } from 'socket.io';
import type { ContributorSocketData } from './admission/handshake.ts';
import type { ClusterServerEvents } from './cluster/events.ts';

/**
 * The coordinator's Socket.io server, typed once: the contributor protocol both ways, the
 * cluster's server-side events, and what the handshake proved about each connection.
 */
export type PollenServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  ClusterServerEvents,
  ContributorSocketData
>;

/** A contributor's connection. */
export type PollenSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  ClusterServerEvents,
  ContributorSocketData
>;
