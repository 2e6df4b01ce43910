import { parseArgs } from 'node:util';
import { BUILTIN_TASKS, type BuiltinTask } from '@pollen/coordinator';
import type { CompressionSettings, HeldOutSplit, PrivacySettings, StrategyConfig } from '@pollen/fl-core';
import { BenchError } from '../lib/errors.ts';
import { parseCompression } from './compression-option.ts';
import { DATA_USAGE, type OpenTaskOptions, parseOpenTask, type SimPartition } from './data-option.ts';
import { DP_DEFAULTS, parsePrivacy } from './privacy-option.ts';
import { parseStrategy } from './strategy-option.ts';
import { parseTrainable, type TrainableChoice } from './trainable-option.ts';

/** How a selected client that drops out leaves its round. */
export type DropoutMode = 'vanish' | 'withdraw' | 'silent';

export type ModelChoice =
  | { readonly kind: 'mlp'; readonly hidden: readonly number[] }
  | { readonly kind: 'cnn' };

/** Everything one `pnpm sim` run is configured with, validated. */
export interface SimOptions {
  readonly mode: 'node' | 'browser';
  readonly clients: number;
  /** Committed rounds to run; the coordinator completes the task after them. */
  readonly rounds: number;
  /** Clients the coordinator aims to aggregate per round (resolved from a fraction or a count). */
  readonly cohortSize: number;
  readonly overSelection: number;
  readonly minReports: number;
  readonly partition: SimPartition;
  /** `--task FILE --data FILE`: any task on any data file; null: the built-in digits task. */
  readonly open: OpenTaskOptions | null;
  /** `--task next-char|spam` (no --data): a built-in task on its built-in data (docs/tasks.md). */
  readonly builtin: BuiltinTask | null;
  /** The flags given: with --task, the task file keeps its own fields unless a flag overrides them. */
  readonly given: readonly string[];
  /** Shards the training split is cut into (one per client by default). */
  readonly shards: number;
  readonly dropout: number;
  readonly dropoutMode: DropoutMode;
  readonly churn: number;
  /** Added delay before each upload: log-normal with this median and 95th percentile, or none. */
  readonly latency: { readonly medianMs: number; readonly p95Ms: number } | null;
  /**
   * How the coordinator schedules rounds: synchronous, `maxInFlight` at once (1 by default), or
   * FedBuff's buffered mode committing every `bufferSize` updates with `concurrency` clients
   * holding the model.
   */
  readonly schedule:
    | { readonly mode: 'sync'; readonly maxInFlight: number }
    | { readonly mode: 'buffered'; readonly bufferSize: number; readonly concurrency: number };
  readonly model: ModelChoice;
  readonly backend: 'wasm' | 'webgl' | 'webgpu';
  readonly codec: 'f32' | 'f16';
  /** The task's upload compression, validated by fl-core (none by default). */
  readonly compression: CompressionSettings;
  /** The task's strategy block, validated by fl-core (FedAvg by default). */
  readonly strategy: StrategyConfig;
  /** The task's privacy block, validated by fl-core (mode 'off' by default). */
  readonly privacy: PrivacySettings;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly optimizer: 'sgd' | 'adam';
  /** What the task trains (`--trainable`); null: the task's own (every weight by default). */
  readonly trainable: TrainableChoice | null;
  readonly deadlineMs: number;
  readonly seed: number;
  /** Stop as soon as a committed round reaches this held-out accuracy. */
  readonly target: number | null;
  /** Share of each client's examples held out to score the global model on (the task's `evaluation`); 0: none. */
  readonly deviceHeldOut: number;
  /** Which examples a client holds out (`--held-out-split hash | newest:GAP`, the task's `evaluation.heldOutSplit`). */
  readonly heldOutSplit: HeldOutSplit;
  /** Evaluation rounds every N committed versions (`--federated-eval N`, needs --device-held-out); 0: none. */
  readonly federatedEvery: number;
  readonly timeoutMs: number;
  /** Where report.json, plot.html and rounds.csv go; null: bench/results/sim/<run name>. */
  readonly outDir: string | null;
  /** Tabs (or Node clients) started at once. */
  readonly startConcurrency: number;
  readonly quiet: boolean;
  /** SecAgg+ (`--secagg`, the task's defaults): the coordinator sees only each round's sum. */
  readonly secureAggregation: boolean;
}

/**
 * Defaults, tuned for the reference run (`--browser --clients 20 --rounds 15`,
 * Dirichlet(0.5), MLP) on a 2-core machine; see bench/README.md.
 */
export const SIM_DEFAULTS = {
  clients: 10,
  rounds: 10,
  cohort: '1.0',
  overSelection: 1.3,
  partition: 'dirichlet:0.5',
  model: 'mlp:128',
  backend: 'wasm',
  codec: 'f32',
  epochs: 3,
  batchSize: 16,
  learningRate: 0.2,
  optimizer: 'sgd',
  deadlineS: 60,
  seed: 1,
  timeoutS: 900,
} as const;

export const MAX_NODE_CLIENTS = 1000;
export const MAX_BROWSER_CLIENTS = 64;
const MAX_ROUNDS = 1000;

const USAGE = `pnpm sim (--node | --browser) [N] [options]
  --clients N            simulated devices (default ${SIM_DEFAULTS.clients}; --node N / --browser N also work)
  --rounds R             committed rounds to run (default ${SIM_DEFAULTS.rounds})
  --cohort C             per round: a fraction of the clients (0.5, 1.0, 25%) or a count (10)
  --over-selection X     select ceil(cohort * X) to absorb drop-outs (default ${SIM_DEFAULTS.overSelection})
  --min-reports M        fewer reports abandon the round (default half the cohort)
  --partition P          iid | dirichlet:ALPHA | shards:K | column:NAME | natural (default ${SIM_DEFAULTS.partition};
                         with --data: iid by default, dirichlet and shards for class targets only)
  --shards S             shards the training split is cut into (default: one per client)
  --dropout P            a selected client drops out of its round with probability P
  --dropout-mode M       vanish (connection closes, then comes back) | withdraw | silent (node only)
  --churn P              after each round every client leaves with probability P and returns 1-5 s later
  --latency MED,P95      added delay before upload, log-normal, in seconds (e.g. 1,10)
  --in-flight N          synchronous rounds in flight at once (default 1)
  --async K[,C]          FedBuff: commit every K updates, C clients training at once
                         (default C: the cohort times --over-selection)
  --model M              mlp:128 | mlp:256,64 | cnn (browser --backend webgl/webgpu only)
  --backend B            wasm | webgl | webgpu (browser; default wasm; webgpu adds --enable-unsafe-webgpu)
  --compression C        f32 | f16 | KIND:FRACTION[:BITS] (topk, randomk, shared; bits 32, 8, 4, 2) | JSON block
  --strategy S           fedavg | fedavgm | fedadam | fedyogi | fedadagrad, + fedprox:MU, + scaffold,
                         + median | trimmed-mean:B | krum:F | multi-krum:F | norm-bound:N, or JSON
  --secagg               secure aggregation (SecAgg+, the task's defaults): the coordinator sees
                         only each round's sum; with --compression, shared:FRACTION only
  --dp P                 distributed:Z | local:EPSILON | clip:C | a JSON privacy block
  --clip-norm C --dp-delta D --epsilon-budget E   for the --dp shorthands (defaults ${DP_DEFAULTS.clipNorm}, ${DP_DEFAULTS.delta}, ${DP_DEFAULTS.epsilonBudget})
  --trainable T          all | head | layers:A,B | lora:RANK:ALPHA:A,B | JSON: fine-tune only that part
                         of a pretrained model (next-char-finetune), the rest frozen and sent once
  --epochs E --batch B --lr LR --optimizer sgd|adam   local training (defaults ${SIM_DEFAULTS.epochs}, ${SIM_DEFAULTS.batchSize}, ${SIM_DEFAULTS.learningRate}, ${SIM_DEFAULTS.optimizer})
  --deadline S           round deadline in seconds (default ${SIM_DEFAULTS.deadlineS})
  --target A             stop once the held-out accuracy reaches A
  --device-held-out F    each client keeps F (at most 0.5) of its examples apart and scores the
                         global model on them before training; the report gives the spread
                         across clients (the task's evaluation block, docs/tasks.md)
  --held-out-split S     which ones: hash (default; by a hash of each example) or newest:GAP
                         (a client's newest examples, the GAP before them not trained on either:
                         for text windows, GAP = the window's length)
  --federated-eval N     evaluation rounds every N committed versions: idle clients score the
                         global model on their held-out examples, metrics only (needs
                         --device-held-out); the report gives each round's federatedEvaluation
  --timeout S            give up after S seconds (default ${SIM_DEFAULTS.timeoutS})
  --seed N               seed of partitions, drop-outs, churn and latency (default ${SIM_DEFAULTS.seed})
  --out DIR              where report.json, plot.html, rounds.csv go (default bench/results/sim/<run>)
  --quiet                no progress lines on stderr
  --task next-char|next-char-finetune|spam
                         a built-in text task on its own data (Node clients), its task file's
                         training unless flags say otherwise; --partition natural | iid
${DATA_USAGE}`;

function invalid(message: string): never {
  throw new BenchError('INVALID_OPTION', `${message}\n\n${USAGE}`);
}

function num(flag: string, text: string | undefined, min: number, max: number, integer = false): number {
  const value = Number(text);
  const ok =
    text !== undefined && text.trim() !== '' && Number.isFinite(value) && value >= min && value <= max;
  if (!ok || (integer && !Number.isInteger(value))) {
    invalid(`"--${flag}" expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${text}`);
  }
  return value;
}

/** `--held-out-split`: `hash`, or `newest:GAP` with GAP a whole number of examples. */
export function parseHeldOutSplit(text: string): HeldOutSplit {
  if (text === 'hash') return { kind: 'hash' };
  const newest = /^newest:(\d+)$/.exec(text);
  if (newest) return { kind: 'newest', gap: num('held-out-split', newest[1], 0, 1_000_000, true) };
  return invalid(`"--held-out-split" expected hash or newest:GAP, got ${text}`);
}

export function parsePartition(text: string): SimPartition {
  if (text === 'iid') return { kind: 'iid' };
  if (text === 'natural') return { kind: 'natural' };
  const [kind, arg] = text.split(':');
  if (kind === 'column' && arg) return { kind, column: text.slice('column:'.length) };
  if (kind === 'dirichlet') return { kind, alpha: num('partition dirichlet:ALPHA', arg, 1e-3, 1e3) };
  if (kind === 'shards') return { kind, shardsPerClient: num('partition shards:K', arg, 1, 10, true) };
  return invalid(
    `"--partition" expected iid, dirichlet:ALPHA, shards:K, natural or column:NAME, got ${text}`,
  );
}

export function parseModel(text: string): ModelChoice {
  if (text === 'cnn') return { kind: 'cnn' };
  const [kind, arg] = text.split(':');
  if (kind !== 'mlp') invalid(`"--model" expected mlp:UNITS[,UNITS...] or cnn, got ${text}`);
  const hidden = (arg ?? '128').split(',').map((u) => num('model mlp:UNITS', u, 1, 4096, true));
  if (hidden.length > 8) invalid('"--model" expected at most 8 hidden layers');
  return { kind: 'mlp', hidden };
}

/** A cohort given as a fraction (has a dot or a %) or a count, resolved against the population. */
export function parseCohort(text: string, clients: number): number {
  const percent = text.endsWith('%');
  if (percent || text.includes('.')) {
    const fraction = percent ? num('cohort', text.slice(0, -1), 0, 100) / 100 : num('cohort', text, 0, 1);
    if (fraction <= 0) invalid(`"--cohort" expected a fraction above 0, got ${text}`);
    return Math.max(1, Math.min(clients, Math.round(fraction * clients)));
  }
  return num('cohort', text, 1, clients, true);
}

export function parseLatency(text: string): { medianMs: number; p95Ms: number } {
  const [med, p95] = text.split(',');
  const medianMs = num('latency MEDIAN', med, 0.001, 3600) * 1000;
  const p95Ms = num('latency P95', p95 ?? String(medianMs / 1000), 0.001, 3600) * 1000;
  if (p95Ms < medianMs)
    invalid(`"--latency" expected the 95th percentile at or above the median, got ${text}`);
  return { medianMs, p95Ms };
}

/** `--async K[,C]` (FedBuff) or `--in-flight N` (overlapping synchronous rounds), not both. */
export function parseSchedule(
  async: string | undefined,
  inFlight: string | undefined,
  cohortSize: number,
  overSelection: number,
): SimOptions['schedule'] {
  if (async !== undefined && inFlight !== undefined) {
    invalid('"--async" and "--in-flight" exclude each other: buffered mode has no rounds to overlap');
  }
  if (async === undefined)
    return { mode: 'sync', maxInFlight: num('in-flight', inFlight ?? '1', 1, 16, true) };
  const [k, c] = async.split(',');
  const bufferSize = num('async K', k, 1, 100_000, true);
  const concurrency = num(
    'async C',
    c ?? String(Math.max(bufferSize, Math.ceil(cohortSize * overSelection))),
    1,
    100_000,
    true,
  );
  if (bufferSize > concurrency) invalid(`"--async" expected K <= C, got ${async}`);
  return { mode: 'buffered', bufferSize, concurrency };
}

/** `--browser 20` and `--node=5` are shorthands for the mode plus `--clients N`. */
function expandModeCounts(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = /^--(browser|node)=(\d+)$/.exec(arg);
    if (eq) {
      out.push(`--${eq[1]}`, '--clients', eq[2]!);
    } else if ((arg === '--browser' || arg === '--node') && /^\d+$/.test(argv[i + 1] ?? '')) {
      out.push(arg, '--clients', argv[++i]!);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parse and validate `pnpm sim` arguments; refuses unknown and malformed options. */
export function parseSimArgs(argv: readonly string[]): SimOptions {
  const args = expandModeCounts(argv.filter((a) => a !== '--'));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        node: { type: 'boolean' },
        browser: { type: 'boolean' },
        clients: { type: 'string' },
        rounds: { type: 'string' },
        cohort: { type: 'string' },
        'over-selection': { type: 'string' },
        'min-reports': { type: 'string' },
        partition: { type: 'string' },
        shards: { type: 'string' },
        dropout: { type: 'string' },
        'dropout-mode': { type: 'string' },
        churn: { type: 'string' },
        latency: { type: 'string' },
        'in-flight': { type: 'string' },
        async: { type: 'string' },
        model: { type: 'string' },
        backend: { type: 'string' },
        compression: { type: 'string' },
        strategy: { type: 'string' },
        dp: { type: 'string' },
        'clip-norm': { type: 'string' },
        'dp-delta': { type: 'string' },
        'epsilon-budget': { type: 'string' },
        epochs: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        optimizer: { type: 'string' },
        trainable: { type: 'string' },
        deadline: { type: 'string' },
        target: { type: 'string' },
        'device-held-out': { type: 'string' },
        'held-out-split': { type: 'string' },
        'federated-eval': { type: 'string' },
        timeout: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        concurrency: { type: 'string' },
        task: { type: 'string' },
        data: { type: 'string' },
        'held-out-fraction': { type: 'string' },
        columns: { type: 'string' },
        quiet: { type: 'boolean' },
        secagg: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    return invalid((err as Error).message);
  }
  if (values.help) throw new BenchError('INVALID_OPTION', USAGE);
  const str = (name: string): string | undefined => values[name] as string | undefined;
  if (values.node === values.browser) invalid('choose one of --node and --browser');
  const mode = values.browser ? 'browser' : 'node';

  const maxClients = mode === 'node' ? MAX_NODE_CLIENTS : MAX_BROWSER_CLIENTS;
  const clients = num('clients', str('clients') ?? String(SIM_DEFAULTS.clients), 1, maxClients, true);
  const cohortSize = parseCohort(str('cohort') ?? SIM_DEFAULTS.cohort, clients);

  const backend = str('backend') ?? SIM_DEFAULTS.backend;
  if (backend !== 'wasm' && backend !== 'webgl' && backend !== 'webgpu') {
    invalid(`"--backend" expected wasm, webgl or webgpu, got ${backend}`);
  }
  if (mode === 'node' && str('backend') !== undefined && backend !== 'wasm') {
    invalid('"--backend" applies to --browser; Node clients train on tfjs-backend-wasm');
  }
  const model = parseModel(str('model') ?? SIM_DEFAULTS.model);
  if (model.kind === 'cnn' && (mode === 'node' || backend === 'wasm')) {
    invalid(
      '"--model cnn" needs --browser with --backend webgl or webgpu: tfjs-backend-wasm has no Conv2D gradient',
    );
  }

  const dropoutMode = str('dropout-mode') ?? 'vanish';
  if (dropoutMode !== 'vanish' && dropoutMode !== 'withdraw' && dropoutMode !== 'silent') {
    invalid(`"--dropout-mode" expected vanish, withdraw or silent, got ${dropoutMode}`);
  }
  if (mode === 'browser' && dropoutMode === 'silent') {
    invalid('"--dropout-mode silent" is for --node: a tab cannot be told to go quiet without leaving');
  }
  const optimizer = str('optimizer') ?? SIM_DEFAULTS.optimizer;
  if (optimizer !== 'sgd' && optimizer !== 'adam')
    invalid(`"--optimizer" expected sgd or adam, got ${optimizer}`);

  const target = str('target');
  const minReports = num(
    'min-reports',
    str('min-reports') ?? String(Math.ceil(cohortSize / 2)),
    1,
    cohortSize,
    true,
  );
  const strategy = parseStrategy(str('strategy') ?? 'fedavg', { minReports, optimizer });
  const optional = (flag: string, min: number, max: number): number | undefined =>
    str(flag) === undefined ? undefined : num(flag, str(flag), min, max);
  const privacy = parsePrivacy(
    str('dp'),
    {
      clipNorm: optional('clip-norm', 1e-6, 1e6),
      delta: optional('dp-delta', 1e-12, 0.999),
      epsilonBudget: optional('epsilon-budget', 1e-6, 1e9),
    },
    strategy,
  );
  // A built-in task by name (no --data) runs on its built-in data, partitioned as its task file
  // says unless --partition is given.
  const task = str('task');
  const builtin =
    task !== undefined && str('data') === undefined && (BUILTIN_TASKS as readonly string[]).includes(task)
      ? (task as BuiltinTask)
      : null;
  if (builtin === null && str('partition') === 'natural') {
    invalid('"--partition natural" splits a built-in task\'s data by its groups: --task next-char or spam');
  }
  // Any task's data may have no classes to skew: IID unless asked otherwise. A built-in task
  // keeps its task file's partition (both split naturally), which the report then names.
  const partition = parsePartition(
    str('partition') ?? (builtin ? 'natural' : task ? 'iid' : SIM_DEFAULTS.partition),
  );
  const open = builtin ? null : parseOpenTask((name) => str(name), partition, mode, num);
  if (str('federated-eval') !== undefined && str('device-held-out') === undefined) {
    invalid('"--federated-eval" needs held-out examples on the devices: add --device-held-out F');
  }
  const { codec, compression } = parseCompression(
    str('compression') ?? SIM_DEFAULTS.codec,
    strategy,
    privacy,
  );
  return {
    mode,
    clients,
    rounds: num('rounds', str('rounds') ?? String(SIM_DEFAULTS.rounds), 1, MAX_ROUNDS, true),
    cohortSize,
    overSelection: num('over-selection', str('over-selection') ?? String(SIM_DEFAULTS.overSelection), 1, 10),
    minReports,
    partition,
    open,
    builtin,
    given: Object.keys(values).filter((k) => values[k] !== undefined),
    shards: num('shards', str('shards') ?? String(clients), 1, 8000, true),
    dropout: num('dropout', str('dropout') ?? '0', 0, 0.95),
    dropoutMode,
    churn: num('churn', str('churn') ?? '0', 0, 0.95),
    latency: str('latency') ? parseLatency(str('latency')!) : null,
    schedule: parseSchedule(
      str('async'),
      str('in-flight'),
      cohortSize,
      num('over-selection', str('over-selection') ?? String(SIM_DEFAULTS.overSelection), 1, 10),
    ),
    model,
    backend,
    codec,
    compression,
    strategy,
    privacy,
    epochs: num('epochs', str('epochs') ?? String(SIM_DEFAULTS.epochs), 1, 100, true),
    batchSize: num('batch', str('batch') ?? String(SIM_DEFAULTS.batchSize), 1, 4096, true),
    learningRate: num('lr', str('lr') ?? String(SIM_DEFAULTS.learningRate), 1e-6, 10),
    optimizer,
    trainable: str('trainable') === undefined ? null : parseTrainable(str('trainable')!),
    deadlineMs: num('deadline', str('deadline') ?? String(SIM_DEFAULTS.deadlineS), 1, 3600) * 1000,
    seed: num('seed', str('seed') ?? String(SIM_DEFAULTS.seed), 0, 0xffffffff, true),
    target: target === undefined ? null : num('target', target, 0, 1),
    deviceHeldOut: num('device-held-out', str('device-held-out') ?? '0', 0, 0.5),
    heldOutSplit: parseHeldOutSplit(str('held-out-split') ?? 'hash'),
    federatedEvery: num('federated-eval', str('federated-eval') ?? '0', 0, 1_000_000, true),
    timeoutMs: num('timeout', str('timeout') ?? String(SIM_DEFAULTS.timeoutS), 5, 6 * 3600) * 1000,
    outDir: str('out') ?? null,
    startConcurrency: num('concurrency', str('concurrency') ?? (mode === 'node' ? '8' : '4'), 1, 64, true),
    quiet: values.quiet === true,
    secureAggregation: values.secagg === true,
  };
}
