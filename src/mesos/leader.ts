// Where the scheduler finds the leading Mesos master. `scheduler.mesos_master` is either
// host:port[,host:port...] (any master redirects to the leader, so the list is only tried in
// turn) or, as Mesos's own daemons take it, zk://host:2181[,...]/path: the masters' ZooKeeper
// group, whose member with the lowest sequence number leads (Mesos's LeaderDetector). ZooKeeper
// is asked again at every subscription, so a scheduler follows a new leader after a failover.
import zookeeper from 'node-zookeeper-client';
import { validPort } from '../inventory/values.js';
import { HOSTNAME_RE, IPV4_RE } from '../shell.js';

export type MasterSpec = { masters: string[] } | { zk: { servers: string; path: string } };

function hostPort(s: string): boolean {
  const m = /^([^:]+):(\d{1,5})$/.exec(s);
  return !!m && (IPV4_RE.test(m[1]!) || (HOSTNAME_RE.test(m[1]!) && !/^[0-9.]+$/.test(m[1]!))) && validPort(Number(m[2]));
}

/** The spec of `scheduler.mesos_master`, or why it is not one. */
export function parseMasterSpec(spec: string): MasterSpec | { problem: string } {
  const zk = /^zk:\/\/([^/]+)(\/.*)$/.exec(spec);
  if (zk) {
    const servers = zk[1]!.split(',');
    if (!servers.every(hostPort)) return { problem: `its ZooKeeper servers ${JSON.stringify(zk[1])} are not host:port[,host:port...]` };
    if (!/^(\/[A-Za-z0-9._-]+)+$/.test(zk[2]!) || zk[2]!.split('/').some((p) => p === '.' || p === '..')) return { problem: `its ZooKeeper path ${JSON.stringify(zk[2])} is not a path of plain names` };
    return { zk: { servers: zk[1]!, path: zk[2]! } };
  }
  if (spec.startsWith('zk://')) return { problem: 'a zk:// address needs a path after the servers (zk://h1:2181,h2:2181/mesos)' };
  const masters = spec.split(',');
  if (!masters.every(hostPort)) return { problem: 'it is neither host:port[,host:port...] nor zk://host:port[,...]/path' };
  return { masters };
}

/** The masters' group members are json.info_<sequence>; the lowest sequence leads. */
export function leadingMember(children: string[]): string | undefined {
  const seq = (c: string) => Number(/^json\.info_(\d+)$/.exec(c)?.[1] ?? NaN);
  return children.filter((c) => !Number.isNaN(seq(c))).sort((a, b) => seq(a) - seq(b))[0];
}

/** host:port from a member's MasterInfo (JSON): its address, else its pid (master@ip:port). */
export function masterAddress(info: string): string | undefined {
  try {
    const m = JSON.parse(info) as { address?: { ip?: string; hostname?: string; port?: number }; pid?: string };
    const addr = m.address?.port && (m.address.ip || m.address.hostname) ? `${m.address.ip || m.address.hostname}:${m.address.port}` : /@([^:]+:\d+)$/.exec(m.pid ?? '')?.[1];
    // Only what the scheduler can put in a URL (an IPv6 master is not supported).
    return addr !== undefined && hostPort(addr) ? addr : undefined;
  } catch {
    return undefined;
  }
}

/** host:port of the master leading now, read from ZooKeeper; throws with the reason. */
export function zkLeadingMaster(servers: string, path: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = zookeeper.createClient(servers, { sessionTimeout: timeoutMs, spinDelay: 500, retries: 1 });
    const done = (err: Error | undefined, addr?: string) => {
      clearTimeout(timer);
      client.close();
      if (err) reject(err);
      else resolve(addr!);
    };
    const timer = setTimeout(() => done(new Error(`ZooKeeper ${servers} did not answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    // The library calls back from its socket's handlers: a throw there would end the process.
    const guarded =
      <A extends unknown[]>(f: (...a: A) => void) =>
      (...a: A) => {
        try {
          f(...a);
        } catch (e) {
          done(e as Error);
        }
      };
    client.once('connected', guarded(() => {
      client.getChildren(path, guarded((err, children) => {
        if (err) return done(new Error(`ZooKeeper ${servers}: reading ${path}: ${String(err)}`));
        const leader = leadingMember(children);
        if (!leader) return done(new Error(`no Mesos master leads: ${path} on ZooKeeper ${servers} has no json.info_ member`));
        client.getData(`${path}/${leader}`, guarded((e, data) => {
          if (e) return done(new Error(`ZooKeeper ${servers}: reading ${path}/${leader}: ${String(e)}`));
          const addr = masterAddress(data?.toString('utf8') ?? '');
          if (!addr) return done(new Error(`${path}/${leader} on ZooKeeper ${servers} holds no master address ovl can use`));
          done(undefined, addr);
        }));
      }));
    }));
    client.connect();
  });
}

/** The master to subscribe to at the n-th attempt. */
export function masterLocator(spec: MasterSpec): (attempt: number) => Promise<string> {
  if ('zk' in spec) return () => zkLeadingMaster(spec.zk.servers, spec.zk.path);
  return async (attempt) => spec.masters[attempt % spec.masters.length]!;
}
