import { createHash, randomBytes } from 'node:crypto';
import type { ContributorAuth } from '@pollen/fl-core';

/** One random salt per process: a simulated device's secret is stable across its reconnections. */
const salt = randomBytes(16).toString('hex');

/** A simulated device's handshake auth (its id and the secret a browser keeps in IndexedDB). */
export function deviceAuth(clientId: string): ContributorAuth {
  return { clientId, secret: createHash('sha256').update(`${salt}:${clientId}`).digest('base64url') };
}
