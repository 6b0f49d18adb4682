// Node edge: the process's peak resident memory. On Linux VmHWM from /proc (a spawned child's
// getrusage maxRSS can start from its parent's size); elsewhere process.resourceUsage().

import { readFileSync } from 'node:fs';

export function peakRssBytes(): number {
  if (process.platform === 'linux') {
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) return Number(m[1]) * 1024;
    } catch {
      // no /proc: fall back below
    }
  }
  return process.resourceUsage().maxRSS * 1024;
}
