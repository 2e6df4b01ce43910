/**
 * An example host page: everything Pollen-specific goes through the SDK's public entry.
 * The site renders labelled digits of its own, adds them with `addExamples`, and starts
 * contributing when the visitor agrees.
 */
import { createClient, inkFromRgba, type PollenClient, toMnist } from '../sdk/index.ts';
import '../styles.css';

declare global {
  interface Window {
    /**
     * The page's SDK client, for trying the SDK from the browser's console and for specs that
     * play the host site with data of their own (e2e/open-task.spec.ts adds float examples).
     */
    pollen?: PollenClient;
  }
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

const FONTS = ['serif', 'sans-serif', 'monospace', 'cursive'];
const SIZES = [150, 190];
const SLANTS = [-0.15, 0.15];

/** The site's data: every digit in a few fonts, sizes and slants, as 28x28 examples. */
function typesetDigits(): { x: Uint8Array; y: number }[] {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 280;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const out: { x: Uint8Array; y: number }[] = [];
  for (let y = 0; y <= 9; y++) {
    for (const font of FONTS) {
      for (const size of SIZES) {
        for (const slant of SLANTS) {
          ctx.setTransform(1, 0, slant, 1, 0, 0);
          ctx.clearRect(-100, 0, 480, 280);
          ctx.font = `${size}px ${font}`;
          ctx.textAlign = 'center';
          ctx.textBaseline = 'middle';
          ctx.fillText(String(y), 140, 140);
          const x = toMnist(inkFromRgba(ctx.getImageData(0, 0, 280, 280).data, 280, 280));
          if (x) out.push({ x, y });
        }
      }
    }
  }
  return out;
}

function preview(examples: readonly { x: Uint8Array }[]): void {
  const strip = $('samples');
  strip.replaceChildren(
    ...examples
      .filter((_, i) => i % FONTS.length === 0)
      .slice(0, 20)
      .map(({ x }) => {
        const c = document.createElement('canvas');
        c.width = c.height = 28;
        const image = new ImageData(28, 28);
        x.forEach((v, i) => {
          image.data.set([31, 35, 40, v], i * 4);
        });
        c.getContext('2d')!.putImageData(image, 0, 0);
        return c;
      }),
  );
}

function log(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').prepend(item);
  while ($('log').childElementCount > 100) $('log').lastElementChild!.remove();
}

async function main(): Promise<void> {
  const tasks = (await (await fetch('/api/tasks')).json()) as { id: string }[];
  const task = params.get('task') ?? tasks[0]?.id;
  if (!task) throw new Error('the coordinator has no task');
  const backend = params.get('backend');
  // A site whose task admits its signed-in users only fetches a join token from its own backend
  // before each connection; this example takes one from its URL.
  const joinToken = params.get('joinToken');
  const client = createClient({
    task,
    ...(joinToken ? { joinToken: async () => joinToken } : {}),
    // The site brings its own data: no demo shard.
    demoData: false,
    ...(backend === 'webgpu' || backend === 'webgl' || backend === 'wasm' || backend === 'cpu'
      ? { backend }
      : {}),
  });

  window.pollen = client;

  const count = async (): Promise<void> => {
    const n = await client.countExamples();
    $('examples').textContent = `${n} examples`;
    document.body.dataset.examples = String(n);
  };
  await count();
  $('add-examples').addEventListener('click', async () => {
    const examples = typesetDigits();
    await client.addExamples(examples, 'host');
    preview(examples);
    log(`addExamples: ${examples.length} typeset digits`);
    await count();
  });
  $('clear-examples').addEventListener('click', async () => {
    await client.clearExamples();
    $('samples').replaceChildren();
    log('clearExamples');
    await count();
  });

  const agree = $<HTMLInputElement>('agree');
  const contribute = $<HTMLButtonElement>('contribute');
  const stop = $<HTMLButtonElement>('stop');
  agree.addEventListener('change', () => {
    contribute.disabled = !agree.checked;
  });
  contribute.addEventListener('click', () => {
    contribute.disabled = true;
    stop.disabled = false;
    client.start().catch((err: unknown) => log(`start failed: ${(err as Error).message}`));
  });
  stop.addEventListener('click', () => {
    client.stop();
    stop.disabled = true;
    contribute.disabled = !agree.checked;
  });

  let uploads = 0;
  client.on('status', ({ status, detail }) => {
    $('status').textContent = detail ? `${status}: ${detail}` : status;
    document.body.dataset.status = status;
  });
  client.on('backend', ({ backend: chosen }) => log(`backend: ${chosen}`));
  client.on('selected', ({ roundId, modelVersion }) =>
    log(`selected for round ${roundId} (model ${modelVersion})`),
  );
  client.on('progress', (p) => {
    const progress = $<HTMLProgressElement>('progress');
    progress.max = p.epochs * p.batches;
    progress.value = p.epoch * p.batches + p.batch;
  });
  client.on('uploaded', (u) => {
    uploads++;
    document.body.dataset.uploads = String(uploads);
    log(
      `uploaded round ${u.roundId}: ${u.bytes} bytes, ${u.numExamples} examples, local ${Object.entries(
        u.metrics,
      )
        .map(([name, value]) => `${name} ${value.toFixed(3)}`)
        .join(', ')}`,
    );
  });
  client.on('roundEnd', (r) => log(`round ${r.roundId} ${r.status}, model version ${r.modelVersion}`));
  client.on('error', (e) => log(`error ${e.code}: ${e.message}`));
  document.body.dataset.ready = 'true';
}

main().catch((err: unknown) => log(`failed to load: ${(err as Error).message}`));
