/**
 * The Web Lock a tab holds while it contributes. Tabs of one browser share one IndexedDB and
 * so one client id: two of them training at once would say hello as the same client and push
 * each other out (DUPLICATE_CLIENT). Whoever holds the lock trains; the others wait for it.
 */
export const TRAINER_LOCK = 'pollen-trainer';

/** Releases a held lock; calling it twice is harmless. */
export type ReleaseLock = () => void;

/**
 * Take the trainer lock, waiting for it while another tab holds it. `onWait` is called once if
 * it is taken. Resolves with the release function; rejects with an AbortError if `signal`
 * aborts first. Where Web Locks are missing (Node, old browsers) there is nothing to share
 * with, and it resolves at once.
 */
export async function acquireTrainerLock(signal: AbortSignal, onWait: () => void): Promise<ReleaseLock> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return () => {};
  let release: ReleaseLock = () => {};
  const hold = (): Promise<void> =>
    new Promise<void>((resolve) => {
      release = resolve;
    });
  // The callback's promise keeps the lock until it settles, so it resolves only on release.
  const taken = await new Promise<boolean>((resolve, reject) => {
    locks
      .request(TRAINER_LOCK, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock ? hold() : undefined;
      })
      .catch(reject);
  });
  if (taken) return () => release();
  onWait();
  await new Promise<void>((resolve, reject) => {
    locks
      .request(TRAINER_LOCK, { signal }, () => {
        resolve();
        return hold();
      })
      .catch(reject);
  });
  return () => release();
}
