import { createClient, RESP_TYPES } from 'redis';

export type Redis = ReturnType<typeof createClient>;

/** Connect to Redis; the client reconnects by itself, and errors in between are logged, not thrown. */
export async function connectRedis(url: string, onError: (err: Error) => void): Promise<Redis> {
  const client = createClient({ url });
  client.on('error', onError);
  await client.connect();
  return client;
}

/** GET returning the value's bytes as they are (partial sums are binary). */
export async function getBytes(redis: Redis, key: string): Promise<Buffer | null> {
  const value = await redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(key);
  return (value as Buffer | null) ?? null;
}
