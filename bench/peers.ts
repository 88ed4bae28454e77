// What a benchmark compares ovl with must be on the machine: the peer's command is looked up on
// the PATH, and a missing one is installed the way scripts/setup.sh installs everything else (as
// root, Debian packages, only what is missing), or named with the command that installs it.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { projectRoot } from '../src/paths.js';

export interface Peer {
  /** The command the benchmark runs. */
  command: string;
  /** The Debian package that brings it. */
  pkg: string;
}

function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The packages to install for the peers whose command is not found (each package once). */
export function missingPackages(peers: readonly Peer[], found: (command: string) => boolean = onPath): string[] {
  return [...new Set(peers.filter((p) => !found(p.command)).map((p) => p.pkg))];
}

/** Install what is missing through scripts/setup.sh, or say what to install and exit 2. */
export function ensurePeers(bench: string, peers: readonly Peer[]): void {
  const missing = missingPackages(peers);
  if (!missing.length) return;
  const how = `OVL_EXTRA_PACKAGES="${missing.join(' ')}" bash scripts/setup.sh`;
  if (process.getuid?.() !== 0) {
    console.error(`${bench}: needs ${missing.join(', ')} (Debian), which is not installed: run as root, or install it first: ${how}`);
    process.exit(2);
  }
  console.log(`${bench}: installing ${missing.join(', ')} (${how})`);
  const r = spawnSync('bash', ['scripts/setup.sh'], { cwd: projectRoot, stdio: 'inherit', env: { ...process.env, OVL_EXTRA_PACKAGES: missing.join(' ') } });
  const still = missingPackages(peers);
  if (r.status !== 0 || still.length) {
    console.error(`${bench}: could not install ${still.join(', ') || missing.join(', ')} (setup exited ${r.status}); install it by hand: apt-get install ${missing.join(' ')}`);
    process.exit(2);
  }
}

/** Run a command to its end: seconds it took, exit code, stdout and stderr together. */
/** `stamp`: each line of its output begins with its time since the start ("[12.3s] "). */
export function timed(cmd: string, argv: string[], stamp = false): Promise<{ s: number; code: number; out: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(cmd, argv, { env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const at = () => `[${((performance.now() - t0) / 1000).toFixed(1)}s] `;
    p.stdout.on('data', (d: Buffer) => (out += stamp ? String(d).replace(/^(?=.)/gm, at) : d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ s: (performance.now() - t0) / 1000, code: code ?? -1, out }));
  });
}
