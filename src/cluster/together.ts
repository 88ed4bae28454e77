// Starting instances on many hosts so that they come up together: one session per host runs
// startTogetherScript (install, launch held, report ready), and once every host is ready the
// same word goes to all of them at once. A separate release round trip per host would let the
// first hosts' nodes run (and load the machines) while later hosts' sessions are still opening.
import type { Remote, Session } from '../ssh/remote.js';
import { READY, parseReports, startTogetherScript, type HostReport, type InstanceSetup } from './hostops.js';

export interface HostStart {
  host: string;
  remote: () => Promise<Remote>;
  setups: InstanceSetup[];
}

export interface TogetherOptions {
  /** Lets the ready hosts go by calling go(host) for each; default: all at once. The fault
   * point of the resume tests releases one host first and pauses. */
  release?: (go: (host: string) => void, hosts: string[]) => Promise<void>;
  /** Called as the word goes out, with what the hosts have said so far (held or running). */
  onReleased?: (releasedAt: number, reports: Map<string, HostReport>) => void;
}

export interface TogetherResult {
  /** By ip:port: held and then started or failed, or running (was already). */
  reports: Map<string, HostReport>;
  /** Date.now() when the word went out. */
  releasedAt: number;
  /** Milliseconds until every host was ready. */
  readyMs: number;
}

export async function startTogether(groups: HostStart[], opts: TogetherOptions = {}): Promise<TogetherResult> {
  const t0 = Date.now();
  const reports = new Map<string, HostReport>();
  const sessions = new Map<string, Session>();
  const settled = (addr: string) => ['started', 'running', 'failed'].includes(reports.get(addr)?.status ?? '');
  /** Every instance of the host without an outcome failed, for this reason. */
  const fail = (g: HostStart, detail: string) => {
    for (const s of g.setups) if (!settled(s.addr)) reports.set(s.addr, { addr: s.addr, status: 'failed', detail });
  };

  const runHost = async (g: HostStart, ready: () => void): Promise<void> => {
    try {
      const remote = await g.remote();
      let out = '\n';
      const session = remote.open('exec /bin/sh -s', (text) => {
        out += text;
        if (!sessions.has(g.host) && out.includes(`\n${READY}\n`)) {
          for (const rep of parseReports(out)) reports.set(rep.addr, rep);
          sessions.set(g.host, session);
          ready();
        }
      });
      session.write(startTogetherScript(g.setups));
      const r = await session.done;
      for (const rep of parseReports(r.stdout)) reports.set(rep.addr, rep);
      fail(g, r.code !== 0 ? `exit ${r.code}: ${r.stderr.trim().slice(-300)}` : 'no report from the host');
    } catch (e) {
      fail(g, (e as Error).message);
    } finally {
      // A host that ended without getting ready (install failed, connection lost) has
      // nothing to release: the others need not wait for it.
      ready();
    }
  };

  const readiness: Promise<void>[] = [];
  const runs = groups.map((g) => {
    let ready!: () => void;
    readiness.push(new Promise<void>((r) => (ready = r)));
    return runHost(g, ready);
  });
  await Promise.all(readiness);
  const readyMs = Date.now() - t0;
  const go = (host: string) => {
    const s = sessions.get(host);
    s?.write('go\n');
    s?.end();
  };
  const releasedAt = Date.now();
  opts.onReleased?.(releasedAt, new Map(reports));
  await (opts.release ?? (async (release, hosts) => hosts.forEach(release)))(go, [...sessions.keys()]);
  await Promise.all(runs);
  return { reports, releasedAt, readyMs };
}
