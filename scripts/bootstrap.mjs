#!/usr/bin/env node
// One entry point for a fresh machine that has only Node 20 and npm:
//   npm start  → install what is missing, build, serve the embedded default
//   npm test   → install what is missing, typecheck, run every test
//   npm run bench → install, run the benchmarks
//   npm run rotate-keys / npm run rebuild-index → operations (see README)
// It brings pnpm itself (through npm) and points native builds at the local Node headers when they exist.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager.split('@')[1];
const command = process.argv[2] ?? 'start';

function fail(message) {
  console.error(`pai: ${message}`);
  process.exit(1);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) fail(`Node.js >= 20.18 is needed (this is ${process.version}).`);

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', COREPACK_ENABLE_STRICT: '0' };
// node-gyp (better-sqlite3) downloads headers unless told where this Node's headers are.
const prefix = dirname(dirname(process.execPath));
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;

function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8', env });
  if (probe.status === 0 && probe.stdout.trim() === PNPM_VERSION) return ['pnpm', []];
  // npm fetches the pinned pnpm into its cache; nothing is installed globally.
  return ['npm', ['exec', '--yes', `--package=pnpm@${PNPM_VERSION}`, '--', 'pnpm']];
}

const [pnpmBin, pnpmPrefix] = pnpmCommand();

function run(bin, args, options = {}) {
  const result = spawnSync(bin, args, { cwd: ROOT, stdio: 'inherit', env, ...options });
  if (result.error) fail(`${bin} ${args.join(' ')}: ${result.error.message}`);
  return result.status ?? 1;
}

function pnpm(...args) {
  const status = run(pnpmBin, [...pnpmPrefix, ...args]);
  if (status !== 0) fail(`pnpm ${args.join(' ')} failed (exit ${status}).`);
}

pnpm('install', '--frozen-lockfile', '--prefer-offline');

switch (command) {
  case 'start': {
    pnpm('exec', 'turbo', 'run', 'build', '--filter=@pai/embedded...', '--output-logs=errors-only');
    const child = spawn(process.execPath, [join(ROOT, 'apps', 'embedded', 'dist', 'server.js')], { cwd: ROOT, stdio: 'inherit', env });
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    break;
  }
  case 'test': {
    pnpm('exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only');
    pnpm('exec', 'tsc', '-p', 'tsconfig.test.json');
    pnpm('exec', 'tap');
    break;
  }
  case 'rotate-keys': {
    pnpm('exec', 'turbo', 'run', 'build', '--filter=@pai/memory...', '--output-logs=errors-only');
    process.exitCode = run(process.execPath, [join(ROOT, 'apps', 'memory', 'dist', 'rotate-keys.js')]);
    break;
  }
  case 'rebuild-index': {
    pnpm('exec', 'turbo', 'run', 'build', '--filter=@pai/search...', '--output-logs=errors-only');
    process.exitCode = run(process.execPath, [join(ROOT, 'apps', 'search', 'dist', 'rebuild-index.js')]);
    break;
  }
  case 'bench': {
    pnpm('--filter', '@pai/bench', 'run', 'all');
    break;
  }
  default:
    fail(`unknown command '${command}' (start, test, bench, rotate-keys, rebuild-index)`);
}
