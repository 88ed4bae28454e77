// `ovl doctor`: what a fleet needs before anything else works, one line each: the inventory valid,
// the SSH keys readable, every host reachable over SSH (host key verified), etcd answering, and the
// cache versions of the inventory present on every cache host. Exit 0 when every line is ok.
import { accessSync, constants } from 'node:fs';
import { fleetCapacity } from '../cluster/capacity.js';
import { loadFleet } from '../inventory/fleet.js';
import { hostsOf, type HostSpec } from '../inventory/types.js';
import { Remote } from '../ssh/remote.js';
import { etcdAccess, etcdReason, openEtcd } from '../state/etcd.js';
import { mapLimit } from '../util/semaphore.js';
import { plural } from '../util/plural.js';

type Line = { ok: boolean; text: string };

async function reach(h: HostSpec): Promise<Line> {
  const t0 = Date.now();
  try {
    const r = await Remote.connect(h, { acceptNewHostKeys: false, timeoutMs: 5000 });
    try {
      await r.run('true');
    } finally {
      r.close();
    }
    return { ok: true, text: `host ${h.name} (${h.address}): reachable over SSH (${Date.now() - t0} ms)` };
  } catch (e) {
    return { ok: false, text: `host ${h.name} (${h.address}): NOT reachable: ${(e as Error).message.split('\n')[0]}` };
  }
}

export async function doctor(path: string, out: (line: string) => void): Promise<number> {
  const lines: Line[] = [];
  const say = (l: Line) => {
    lines.push(l);
    out(`${l.ok ? 'ok  ' : 'FAIL'}  ${l.text}`);
  };
  // An invalid inventory is the whole answer: it throws InventoryError with every problem.
  const inv = loadFleet(path);
  say({ ok: true, text: `inventory ${inv.file}: valid (${plural(inv.hosts.length, 'host')}; ${inv.components.join(', ')})` });
  for (const key of new Set(inv.hosts.map((h) => h.ssh.key))) {
    try {
      accessSync(key, constants.R_OK);
      say({ ok: true, text: `ssh key ${key}: readable` });
    } catch (e) {
      say({ ok: false, text: `ssh key ${key}: NOT readable (${(e as NodeJS.ErrnoException).code})` });
    }
  }
  for (const l of await mapLimit(inv.hosts, 16, reach)) say(l);
  const access = etcdAccess(inv);
  let etcd;
  try {
    etcd = await openEtcd(access, 3000);
    const members = await etcd.cluster.memberList({});
    say({ ok: true, text: `etcd: answers at ${access.endpoints.join(', ')} (${plural(members.members.length, 'member')})` });
  } catch (e) {
    say({ ok: false, text: `etcd: does NOT answer at ${access.endpoints.join(', ')} (${etcdReason((e as Error).message)}): ovl bootstrap ${inv.file}` });
  }
  if (etcd) {
    try {
      const { hosts } = await fleetCapacity(etcd);
      const cache = hostsOf(inv, 'cache-binaries').map((h) => h.name);
      for (const [type, artifacts] of [['redis', inv.artifacts.redis ?? []], ['memcache', inv.artifacts.memcache ?? []]] as const) {
        for (const a of artifacts) {
          const missing = cache.filter((n) => !hosts.find((h) => h.name === n)?.versions[type]?.includes(a.version));
          say(missing.length
            ? { ok: false, text: `${type} ${a.version}: missing on ${missing.join(', ')} (ovl bootstrap ${inv.file} --only cache-binaries)` }
            : { ok: true, text: `${type} ${a.version}: on ${plural(cache.length, 'cache host')}` });
        }
      }
    } finally {
      etcd.close();
    }
  }
  const failed = lines.filter((l) => !l.ok).length;
  out(failed ? `${plural(failed, 'check')} failed` : 'all good');
  return failed ? 1 : 0;
}
