// A single etcd member on loopback in a temporary directory (Debian's etcd-server), for tests
// and benchmarks of what ovl keeps in etcd without a sandbox fleet.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { openEtcd } from '../../src/state/etcd.js';
import { freePort, until } from '../../bench/local.js';

export interface LocalEtcd {
  url: string;
  /** ovl's own client (its message size limit, deadlines and retries). */
  client: Etcd3;
  stop(): Promise<void>;
}

export async function startLocalEtcd(): Promise<LocalEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const p = spawn('etcd', [
    '--name', 'local', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `local=http://127.0.0.1:${peer}`,
    // As ovl's etcd runbook: requests up to 10 MiB; room for a benchmark's gigabyte.
    '--max-request-bytes', String(10 << 20), '--quota-backend-bytes', String(8 * 2 ** 30),
  ], { stdio: 'ignore' });
  const c = await openEtcd({ endpoints: [url] }, 10000);
  await until(async () => (await c.get('/').string(), true), 20000, 'local etcd');
  return {
    url,
    client: c,
    async stop() {
      c.close();
      p.kill();
      await new Promise((r) => p.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
