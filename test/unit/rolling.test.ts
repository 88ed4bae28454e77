// The engine's rolling restart with fake hosts (no SSH): the order members restart in, the
// leader last, a member that does not serve again stopping the roll, and the debt kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rollingRestart, type RollingSpec } from '../../src/engine/rolling.js';
import type { HostContext, OpResult } from '../../src/ops/types.js';
import type { ServiceSpec } from '../../src/ops/service.js';

/** A host that owes a restart (or not), runs its service (or not), and logs what it was told. */
interface FakeHost {
  name: string;
  owed: boolean;
  running: boolean;
  leader?: boolean;
  /** Serves again after a restart. */
  comesBack?: boolean;
}

function rig(fakes: FakeHost[]) {
  const events: string[] = [];
  const hosts = fakes.map((f) => {
    const remote = {
      async run(script: string): Promise<string> {
        if (script.includes('echo pending || echo none')) return `${f.owed ? 'pending' : 'none'}\n${f.running ? 'running' : 'stopped'}\n`;
        // A restart (stop, start, marker removed) or a start (start, marker removed).
        events.push(`${script.includes('kill') && f.running ? 'restart' : 'start'} ${f.name}`);
        if (script.includes('rm -f')) f.owed = false;
        f.running = true;
        return '';
      },
    };
    return { host: { name: f.name, address: '127.0.0.1' }, facts: { systemd: false }, remote } as unknown as HostContext;
  });
  const fake = (h: HostContext) => fakes.find((f) => f.name === h.host.name)!;
  const spec = (o: Partial<RollingSpec> = {}): RollingSpec => ({
    service: (h) => ({ name: 'svc', command: ['/bin/true'], dir: `/data/${h.host.name}`, log: '/dev/null' }) as ServiceSpec,
    leads: async (h) => !!fake(h).leader,
    async serves(h) {
      const ok = fake(h).comesBack !== false;
      if (ok) events.push(`serves ${h.host.name}`);
      return ok;
    },
    serveTimeoutMs: 50,
    ...o,
  });
  const results: OpResult[] = [];
  return { hosts, events, spec, results, report: (r: OpResult) => results.push(r) };
}

test('members that owe a restart go one at a time, each serving before the next, the leader last', async () => {
  const r = rig([
    { name: 'h1', owed: true, running: true, leader: true },
    { name: 'h2', owed: true, running: true },
    { name: 'h3', owed: false, running: true },
    { name: 'h4', owed: true, running: true },
  ]);
  const outcome = await rollingRestart('etcd', r.hosts, r.spec(), r.report);
  assert.deepEqual(r.events, ['restart h2', 'serves h2', 'restart h4', 'serves h4', 'restart h1', 'serves h1']);
  assert.deepEqual(Object.fromEntries(outcome), { h1: 'changed', h2: 'changed', h3: 'ok', h4: 'changed' });
  assert.match(r.results.find((x) => x.host === 'h1')!.reason, /^restarted \(3 of 3, the leader\)$/);
});

test('a member that does not serve again stops the roll; the others keep their debt and a re-run pays it', async () => {
  const fakes: FakeHost[] = [
    { name: 'h1', owed: true, running: true, leader: true },
    { name: 'h2', owed: true, running: true, comesBack: false },
    { name: 'h3', owed: true, running: true },
  ];
  const r = rig(fakes);
  const outcome = await rollingRestart('etcd', r.hosts, r.spec(), r.report);
  assert.deepEqual(r.events, ['restart h2'], 'nothing after the member that did not come back');
  assert.deepEqual(Object.fromEntries(outcome), { h1: 'failed', h2: 'failed', h3: 'failed' });
  assert.match(r.results.find((x) => x.host === 'h3')!.error!, /h2 did not serve again.*still owed/);
  assert.deepEqual(fakes.map((f) => f.owed), [true, false, true]);

  fakes[1]!.comesBack = true;
  const again = rig(fakes);
  await rollingRestart('etcd', again.hosts, again.spec(), again.report);
  assert.deepEqual(again.events, ['restart h3', 'serves h3', 'restart h1', 'serves h1']);
  assert.deepEqual(fakes.map((f) => f.owed), [false, false, false]);
});

test('new members (not running) start only after the running ones restarted, when the component says so', async () => {
  const r = rig([
    { name: 'h1', owed: true, running: true },
    { name: 'h2', owed: false, running: false },
    { name: 'h3', owed: false, running: false },
  ]);
  const outcome = await rollingRestart('zookeeper', r.hosts, r.spec({ startStopped: true, canServe: async () => false }), r.report);
  // Without a quorum of the new configuration the restarted member is not waited for.
  assert.deepEqual(r.events.slice(0, 1), ['restart h1']);
  assert.deepEqual(r.events.slice(1).sort(), ['start h2', 'start h3']);
  assert.deepEqual(Object.fromEntries(outcome), { h1: 'changed', h2: 'changed', h3: 'changed' });
  assert.equal(r.results[0]!.title, 'zookeeper (re)started in turn: running members one at a time, leader last, then new members');
});
