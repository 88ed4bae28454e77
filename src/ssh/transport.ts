import { spawn } from 'node:child_process';
import type { ExecResult } from './remote.js';

/** Where a sh script runs: over SSH on a host (Remote), or right here (the Mesos executor). */
export interface Transport {
  exec(script: string, stdin?: string | Buffer): Promise<ExecResult>;
}

export const localTransport: Transport = {
  exec(script, stdin) {
    return new Promise((resolve, reject) => {
      const p = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
      p.stdin.end(stdin ?? '');
    });
  },
};

/**
 * Run a (possibly large) script: it goes on stdin, since a command line argument is limited
 * to 128 KiB by the kernel and a host's instance files can be larger.
 */
export function runScript(t: Transport, script: string): Promise<ExecResult> {
  return t.exec('exec /bin/sh -s', script);
}
