import { Worker } from 'node:worker_threads';
import { type ColumnsSpec, PollenError, type PollenErrorCode, type TaskSpec } from '@pollen/fl-core';
import type { DataFormat } from '@pollen/ml/data';

/** What the reading thread is given: the task's shapes, the body's text, how to read it. */
export interface ReadRequest {
  readonly id: number;
  readonly task: Pick<TaskSpec, 'input' | 'target'>;
  readonly text: string;
  readonly format: DataFormat;
  readonly columns: ColumnsSpec | undefined;
}

/** Its answer: the examples encoded (@pollen/ml's example codec), or why the file was refused. */
export type ReadReply =
  | { readonly id: number; readonly ok: true; readonly count: number; readonly bytes: Uint8Array }
  | { readonly id: number; readonly ok: false; readonly code: PollenErrorCode; readonly message: string };

type Pending = (reply: ReadReply) => void;

/**
 * The reading thread, started on the first upload and kept (unref'd: an idle one holds the
 * process open for nothing); a thread that failed is replaced on the next upload.
 */
let thread: { readonly worker: Worker; readonly pending: Map<number, Pending> } | null = null;
let nextId = 1;

function readerThread(): NonNullable<typeof thread> {
  if (thread) return thread;
  const worker = new Worker(new URL('./held-out-read-worker.mjs', import.meta.url));
  const pending = new Map<number, Pending>();
  const current = { worker, pending };
  worker.on('message', (reply: ReadReply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
  });
  const fail = (message: string): void => {
    if (thread === current) thread = null;
    for (const [id, resolve] of pending) resolve({ id, ok: false, code: 'INTERNAL', message });
    pending.clear();
  };
  worker.on('error', (err) => fail(`the held-out reader failed: ${err.message}`));
  worker.on('exit', (code) => fail(`the held-out reader exited with ${code}`));
  worker.unref();
  thread = current;
  return current;
}

/**
 * Read a held-out upload against its task on a thread of its own (node:worker_threads): a
 * 64 MiB CSV takes seconds to parse and check row by row, which the event loop (hellos,
 * updates, round deadlines) must not wait for. Uploads are read one after another. Resolves
 * with the encoded examples; a bad row rejects with INVALID_DATA naming its line and field,
 * as `readDataFile` words it.
 */
export function readHeldOut(
  task: Pick<TaskSpec, 'input' | 'target' | 'columns'>,
  text: string,
  format: DataFormat,
): Promise<{ readonly count: number; readonly bytes: Uint8Array }> {
  const { worker, pending } = readerThread();
  const id = nextId++;
  // The text is copied to the thread once (tens of milliseconds for 64 MiB); the reading is not here.
  const request: ReadRequest = {
    id,
    task: { input: task.input, target: task.target },
    text,
    format,
    columns: task.columns,
  };
  return new Promise((resolve, reject) => {
    pending.set(id, (reply) => {
      if (reply.ok) resolve({ count: reply.count, bytes: reply.bytes });
      else reject(new PollenError(reply.code, reply.message));
    });
    worker.ref();
    worker.postMessage(request);
  });
}
