// The benchmark peers' packages (bench/peers/node_modules): installed on first use from the npm registry, with a
// line saying so, unless the caller runs without peers.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, peerList } from './results-files.js';

export const PEERS_DIR = join(BENCH_DIR, 'peers');

/** True when the peers are installed, after installing them if they were not; false (said why) when that failed. */
export function ensurePeersInstalled(): boolean {
  if (existsSync(join(PEERS_DIR, 'node_modules'))) return true;
  const manifest = JSON.parse(readFileSync(join(PEERS_DIR, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  console.error(`bench: installing the peers with \`npm ci\` from the npm registry into ${join(PEERS_DIR, 'node_modules')} (run with --no-peers to skip): ${peerList(manifest)}`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEERS_DIR, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  if (r.status === 0) return true;
  console.error('bench: npm ci in bench/peers failed; running without peers');
  return false;
}
