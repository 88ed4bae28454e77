// The one way a component's members are restarted after a change: once every host of the
// component has its new configuration, the members that owe a restart go one at a time, each
// serving again before the next, the leader last (one election instead of several). A handler
// only records the debt (a marker file on the host, kept across failed runs); the engine pays it
// here. Restarting each host at the end of its own checklist would restart members side by
// side (hosts run in parallel) and could take a quorum away.
import { change, ok, type Fact, type Handler, type HandlerOperation, type HostContext, type OpResult, type Status } from '../ops/types.js';
import { restartMarker, restartOwed, servicePidfile, startScript, stopScript, type ServiceSpec } from '../ops/service.js';
import { pollUntil } from '../ops/wait.js';
import { shq } from '../shell.js';

/** What a runbook tells the engine about restarting its members. */
export interface RollingSpec {
  service(h: HostContext): ServiceSpec;
  /** Whether this member leads now: it goes last. */
  leads?(h: HostContext): Promise<boolean>;
  /** Whether the member serves again (polled after its restart until serveTimeoutMs). */
  serves(h: HostContext): Promise<boolean>;
  serveTimeoutMs: number;
  /** Whether a restarted member can be expected to serve now (ZooKeeper: only with a quorum of
   * the new configuration running); when not, the roll goes on without waiting. Default: yes. */
  canServe?(): Promise<boolean>;
  /** Members not running are started after the restarts (ZooKeeper's new members must not start
   * before the old ones run the new member list). */
  startStopped?: boolean;
}

/** The handler a rolling component declares: it records the debt, the roll pays it. */
export function owedRestart(spec: ServiceSpec): Handler {
  const operation: HandlerOperation = {
    title: `restart ${spec.name}`,
    fact: restartOwed(spec),
    plan(owed) {
      if (!owed) return ok('no restart pending');
      return change('queued: the members restart one at a time, leader last, once every member has its new config', []);
    },
  };
  return { marker: restartMarker(spec), operation };
}

type Action = 'none' | 'restart' | 'start';

/** One round trip per host: the debt, and whether the service's process runs. */
export function memberState(spec: ServiceSpec, systemd: boolean): Fact<{ owed: boolean; running: boolean }> {
  return {
    probe: [
      restartOwed(spec).probe,
      systemd
        ? `systemctl is-active --quiet ${shq(`ovl-${spec.name}.service`)} && echo running || echo stopped`
        : `[ -s ${shq(servicePidfile(spec))} ] && kill -0 "$(cat ${shq(servicePidfile(spec))})" 2>/dev/null && echo running || echo stopped`,
    ].join('\n'),
    parse(out) {
      const [owed, running] = out.split('\n');
      return { owed: owed === 'pending', running: running === 'running' };
    },
  };
}

function actionOf({ owed, running }: { owed: boolean; running: boolean }, startStopped: boolean): Action {
  if (!running) return startStopped ? 'start' : owed ? 'restart' : 'none';
  return owed ? 'restart' : 'none';
}

/**
 * Pay the restarts owed on `hosts` (those of the component that did not fail in this run), in
 * turn. Reports one result per host under `title`, and returns each host's outcome.
 */
export async function rollingRestart(component: string, hosts: HostContext[], spec: RollingSpec, report: (r: OpResult) => void): Promise<Map<string, Status>> {
  const title = `${component} (re)started in turn: running members one at a time, leader last${spec.startStopped ? ', then new members' : ''}`;
  const t0 = Date.now();
  const outcome = new Map<string, Status>();
  const say = (h: HostContext, status: Status, reason: string, error?: string) => {
    outcome.set(h.host.name, status);
    report({ component, host: h.host.name, title, status, reason, error, ms: Date.now() - t0 });
  };
  const actions = await Promise.all(
    hosts.map(async (h) => {
      const state = memberState(spec.service(h), h.facts.systemd);
      return actionOf(state.parse(await h.remote.run(state.probe)), !!spec.startStopped);
    }),
  );
  const of = (a: Action) => hosts.filter((_, i) => actions[i] === a);
  const leading = await Promise.all(of('restart').map(async (h) => (spec.leads ? spec.leads(h).catch(() => false) : false)));
  // Followers (and members not serving) first, the leader last.
  const restarts = of('restart')
    .map((h, i) => ({ h, leader: leading[i]! }))
    .sort((a, b) => Number(a.leader) - Number(b.leader));
  for (const h of of('none')) say(h, 'ok', 'no restart owed');
  const wait = restarts.length ? await (spec.canServe?.() ?? Promise.resolve(true)) : true;
  let blocked: string | undefined;
  for (const [i, { h, leader }] of restarts.entries()) {
    if (blocked) {
      say(h, 'failed', 'not restarted', `not restarted: ${blocked} did not serve again after its restart; fix it and re-run (the restart is still owed)`);
      continue;
    }
    const svc = spec.service(h);
    try {
      await h.remote.run(`${stopScript(svc, h.facts.systemd)}\n${startScript(svc, h.facts.systemd)}\nrm -f ${shq(restartMarker(svc))}`);
      if (wait) await pollUntil(() => spec.serves(h), spec.serveTimeoutMs, `${component} on ${h.host.name} to serve again`, 500);
      say(h, 'changed', `restarted (${i + 1} of ${restarts.length}${leader ? ', the leader' : ''})`);
    } catch (e) {
      blocked = h.host.name;
      say(h, 'failed', 'restart failed', (e as Error).message);
    }
  }
  await Promise.all(
    of('start').map(async (h) => {
      if (blocked) {
          say(h, 'failed', 'not started', `not started: ${blocked} did not serve again after its restart, and a new member must not start before the old ones run the new configuration`);
        return;
      }
      const svc = spec.service(h);
      try {
        await h.remote.run(`${startScript(svc, h.facts.systemd)}\nrm -f ${shq(restartMarker(svc))}`);
        say(h, 'changed', 'started (after the running members had the new configuration)');
      } catch (e) {
          say(h, 'failed', 'start failed', (e as Error).message);
      }
    }),
  );
  return outcome;
}
