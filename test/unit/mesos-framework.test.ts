// The scheduler as a Mesos framework, end to end but for Mesos itself: a real etcd (Debian's
// /usr/bin/etcd on 127.0.0.1, temp data dir, free ports), real redis-server and memcached
// processes, and the scheduler as `ovl scheduler` runs it (runScheduler with an inventory whose
// scheduler.resources is mesos). The Mesos master is the one fake (Mesos cannot be installed
// here): a local HTTP server speaking the v1 scheduler API's JSON over RecordIO, with a tiny
// allocator over four agents (h1..h4 of the inventory at 127.0.12.1..4, named as agents would
// be: short name, FQDN, bare IP) and a stranger agent no inventory host matches. When it
// launches a task it does what the agent's command executor would: it starts the instance from
// the plan in etcd (as a local process, test/helpers/local-redis.ts), then reports TASK_STARTING
// and TASK_RUNNING. The hosts are stand-ins too (StandInFleet): the install scripts the scheduler
// sends before a launch are recorded and answered. The scheduler is pointed at a second, non-leading master that
// answers 307 to the leader.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { instanceMemMB } from '../../src/cluster/placement.js';
import { getTask, newTask } from '../../src/cluster/task-store.js';
import { EXECUTOR_MEM_MB } from '../../src/mesos/offers.js';
import { runScheduler } from '../../src/cluster/scheduler.js';
import { addrOf, getPlan, listInstances, type ClusterConfig } from '../../src/cluster/store.js';
import type { ClusterRequest } from '../../src/cluster/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { recordIO, type MesosOffer, type MesosResource, type TaskInfo } from '../../src/mesos/api.js';
import { FRAMEWORK_ID_KEY } from '../../src/mesos/framework.js';
import { Fleet } from '../../src/cluster/fleet.js';
import { foregroundCommand, instanceSetup } from '../../src/cluster/hostops.js';
import type { Remote } from '../../src/ssh/remote.js';
import { openEtcd } from '../../src/state/etcd.js';
import { capacityKey, configKey } from '../../src/state/keys.js';
import { LocalRig } from '../helpers/local-redis.js';

// ---------------------------------------------------------------------------------------------
// A real etcd

const ETCD = process.env.OVL_ETCD ?? '/usr/bin/etcd';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startEtcd(dir: string): Promise<{ proc: ChildProcess; url: string }> {
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const proc = spawn(
    ETCD,
    [
      '--name', 'mesos-test',
      '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', url,
      '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `mesos-test=http://127.0.0.1:${peer}`,
    ],
    { stdio: 'ignore' },
  );
  const c = await openEtcd({ endpoints: [url] }, 1000);
  try {
    for (let i = 0; ; i++) {
      try {
        await c.get('/probe').string();
        break;
      } catch (e) {
        if (i > 100 || proc.exitCode !== null) throw new Error(`etcd did not come up: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    c.close();
  }
  return { proc, url };
}

// ---------------------------------------------------------------------------------------------
// The fake Mesos master

interface FakeAgent {
  id: string;
  /** Inventory host it is (the test's view). */
  host: string;
  hostname: string;
  ip: string;
  cpus: number;
  mem: number;
  ports: [number, number][];
  /** Resources held by its offers and live tasks. */
  usedCpus: number;
  usedMem: number;
  usedPorts: Set<number>;
  offered: boolean;
  refusedUntil: number;
}

interface Recorded {
  type: string;
  body: Record<string, any>;
  streamId?: string;
  /** Which subscription (1-based) was current. */
  sub: number;
}

interface LiveTask {
  info: TaskInfo;
  agent: FakeAgent;
  state: string;
}

type Verdict = 'run' | 'fail';

class FakeMaster {
  readonly server = http.createServer((req, res) => this.handle(req, res));
  readonly calls: Recorded[] = [];
  readonly subscribes: { body: Record<string, any>; headers: http.IncomingHttpHeaders }[] = [];
  readonly updates: { taskId: string; state: string; uuid?: string; sub: number }[] = [];
  readonly declinedOffers = new Map<string, { agent: FakeAgent; refuse?: number }>();
  readonly tasks = new Map<string, LiveTask>();
  readonly mismatchedStreamIds: string[] = [];
  frameworkId?: string;
  heartbeatSeconds = 1;
  /** The next subscription gets SUBSCRIBED (with a short heartbeat) and then silence. */
  silentNext = false;
  decide: (info: TaskInfo, agent: FakeAgent) => Verdict = () => 'run';
  onLaunch: (info: TaskInfo, agent: FakeAgent) => Promise<void> = async () => {};
  private stream?: http.ServerResponse;
  /** This subscription hears nothing after SUBSCRIBED (a master that hangs). */
  private muted = false;
  private streamId?: string;
  private sub = 0;
  private suppressed = false;
  private offers = new Map<string, { agent: FakeAgent; cpus: number; mem: number; ports: number[] }>();
  private heartbeat?: NodeJS.Timeout;
  private timers = new Set<NodeJS.Timeout>();
  private n = 0;

  constructor(readonly agents: FakeAgent[]) {}

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const t of this.timers) clearTimeout(t);
    this.stream?.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  callsOf(type: string): Recorded[] {
    return this.calls.filter((c) => c.type === type);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Write one event, cut in two chunks at an arbitrary byte to exercise the client's framing. */
  private send(ev: Record<string, unknown>): void {
    const s = this.stream;
    if (!s || s.destroyed || this.muted) return;
    const buf = Buffer.from(recordIO(ev));
    const cut = 1 + ((this.n++ * 7919) % (buf.length - 1));
    s.write(buf.subarray(0, cut));
    s.write(buf.subarray(cut));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/v1/scheduler') return void res.writeHead(404).end();
      const body = JSON.parse(text) as Record<string, any>;
      if (body.type === 'SUBSCRIBE') return this.subscribe(body, req, res);
      const sid = req.headers['mesos-stream-id'];
      if (sid !== this.streamId) {
        this.mismatchedStreamIds.push(`${body.type}: ${String(sid)}`);
        return void res.writeHead(400).end("The stream ID included in this request didn't match the stream ID currently associated with framework ID");
      }
      this.calls.push({ type: body.type, body, streamId: sid, sub: this.sub });
      res.writeHead(202).end();
      this.act(body);
    });
  }

  private subscribe(body: Record<string, any>, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.subscribes.push({ body, headers: req.headers });
    const wanted = body.subscribe?.framework_info?.id?.value as string | undefined;
    this.frameworkId = wanted ?? this.frameworkId ?? `fw-${randomUUID()}`;
    // A new subscription replaces the old one; outstanding offers are rescinded.
    this.stream?.destroy();
    clearInterval(this.heartbeat);
    for (const o of this.offers.values()) this.release(o.agent, o);
    this.offers.clear();
    this.suppressed = false;
    this.streamId = randomUUID();
    this.sub++;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Mesos-Stream-Id': this.streamId });
    res.flushHeaders();
    this.stream = res;
    const silent = this.silentNext;
    this.silentNext = false;
    this.muted = false;
    this.send({ type: 'SUBSCRIBED', subscribed: { framework_id: { value: this.frameworkId }, heartbeat_interval_seconds: silent ? 0.3 : this.heartbeatSeconds } });
    this.muted = silent;
    if (silent) return;
    this.heartbeat = setInterval(() => this.send({ type: 'HEARTBEAT' }), this.heartbeatSeconds * 1000);
    this.allocate();
  }

  private release(agent: FakeAgent, r: { cpus: number; mem: number; ports: number[] }): void {
    agent.usedCpus = Math.round((agent.usedCpus - r.cpus) * 1000) / 1000;
    agent.usedMem -= r.mem;
    for (const p of r.ports) agent.usedPorts.delete(p);
    agent.offered = false;
  }

  /** Offer every agent's free resources (one offer per agent), unless suppressed or refused. */
  allocate(): void {
    if (this.suppressed || !this.stream) return;
    const offers: MesosOffer[] = [];
    for (const a of this.agents) {
      if (a.offered || a.refusedUntil > Date.now()) continue;
      const ports = a.ports.flatMap(([b, e]) => Array.from({ length: e - b + 1 }, (_, i) => b + i)).filter((p) => !a.usedPorts.has(p));
      const cpus = Math.round((a.cpus - a.usedCpus) * 1000) / 1000;
      const mem = a.mem - a.usedMem;
      if (cpus <= 0 || mem <= 0) continue;
      const id = `offer-${++this.n}`;
      this.offers.set(id, { agent: a, cpus, mem, ports });
      a.usedCpus += cpus;
      a.usedMem += mem;
      for (const p of ports) a.usedPorts.add(p);
      a.offered = true;
      const alloc = { allocation_info: { role: '*' } };
      const resources: MesosResource[] = [
        { name: 'cpus', type: 'SCALAR', scalar: { value: cpus }, role: '*', ...alloc },
        { name: 'mem', type: 'SCALAR', scalar: { value: mem }, role: '*', ...alloc },
        { name: 'disk', type: 'SCALAR', scalar: { value: 10240 }, role: '*', ...alloc },
        { name: 'ports', type: 'RANGES', ranges: { range: toRanges(ports) }, role: '*', ...alloc },
      ];
      offers.push({
        id: { value: id },
        framework_id: { value: this.frameworkId! },
        agent_id: { value: a.id },
        hostname: a.hostname,
        url: { scheme: 'http', address: { hostname: a.hostname, ip: a.ip, port: 5051 }, path: '/slave(1)' },
        resources,
        attributes: [{ name: 'rack', type: 'TEXT', text: { value: `r${a.host}` } }],
        executor_ids: [],
        allocation_info: { role: '*' },
      });
    }
    if (offers.length) this.send({ type: 'OFFERS', offers: { offers } });
  }

  private update(t: LiveTask, state: string, extra: Record<string, unknown> = {}, withUuid = true): void {
    t.state = state;
    const uuid = withUuid ? Buffer.from(randomUUID()).toString('base64') : undefined;
    this.updates.push({ taskId: t.info.task_id.value, state, uuid, sub: this.sub });
    this.send({
      type: 'UPDATE',
      update: {
        status: {
          task_id: t.info.task_id,
          state,
          source: 'SOURCE_EXECUTOR',
          agent_id: { value: t.agent.id },
          executor_id: { value: t.info.task_id.value },
          timestamp: Date.now() / 1000,
          ...(uuid ? { uuid } : {}),
          ...extra,
        },
      },
    });
  }

  private act(body: Record<string, any>): void {
    switch (body.type) {
      case 'REVIVE':
        this.suppressed = false;
        for (const a of this.agents) a.refusedUntil = 0;
        this.later(20, () => this.allocate());
        break;
      case 'SUPPRESS':
        this.suppressed = true;
        break;
      case 'DECLINE':
        for (const { value } of body.decline.offer_ids) {
          const o = this.offers.get(value);
          if (!o) continue;
          this.offers.delete(value);
          this.release(o.agent, o);
          const refuse = body.decline.filters?.refuse_seconds as number | undefined;
          this.declinedOffers.set(value, { agent: o.agent, refuse });
          o.agent.refusedUntil = Date.now() + (refuse ?? 5) * 1000;
          this.later((refuse ?? 5) * 1000 + 10, () => this.allocate());
        }
        break;
      case 'ACCEPT':
        void this.accept(body);
        break;
      case 'RECONCILE':
        // Implicit reconciliation: the latest state of every task, without a uuid.
        for (const t of this.tasks.values()) this.update(t, t.state, { reason: 'REASON_RECONCILIATION' }, false);
        break;
      default:
        break;
    }
  }

  private async accept(body: Record<string, any>): Promise<void> {
    const held = (body.accept.offer_ids as { value: string }[]).map(({ value }) => [value, this.offers.get(value)] as const);
    for (const [id, o] of held) {
      if (!o) throw new Error(`ACCEPT of unknown offer ${id}`);
      this.offers.delete(id);
      this.release(o.agent, o);
    }
    const agent = held[0]![1]!.agent;
    for (const op of body.accept.operations) {
      for (const info of op.launch.task_infos as TaskInfo[]) {
        const t: LiveTask = { info, agent, state: 'TASK_STAGING' };
        this.tasks.set(info.task_id.value, t);
        // The task holds what it asked for.
        for (const r of info.resources) {
          if (r.name === 'cpus') agent.usedCpus += r.scalar!.value;
          if (r.name === 'mem') agent.usedMem += r.scalar!.value;
          if (r.name === 'ports') for (const x of r.ranges!.range) for (let p = x.begin; p <= x.end; p++) agent.usedPorts.add(p);
        }
      }
    }
    this.later(50, () => this.allocate());
    for (const op of body.accept.operations) {
      for (const info of op.launch.task_infos as TaskInfo[]) {
        const t = this.tasks.get(info.task_id.value)!;
        this.update(t, 'TASK_STARTING');
        if (this.decide(info, agent) === 'fail') {
          this.update(t, 'TASK_FAILED', { message: 'Command exited with status 1', reason: 'REASON_COMMAND_EXECUTOR_FAILED' });
          this.freeTask(t);
          continue;
        }
        await this.onLaunch(info, agent);
        this.update(t, 'TASK_RUNNING');
      }
    }
  }

  private freeTask(t: LiveTask): void {
    for (const r of t.info.resources) {
      if (r.name === 'cpus') t.agent.usedCpus = Math.round((t.agent.usedCpus - r.scalar!.value) * 1000) / 1000;
      if (r.name === 'mem') t.agent.usedMem -= r.scalar!.value;
      if (r.name === 'ports') for (const x of r.ranges!.range) for (let p = x.begin; p <= x.end; p++) t.agent.usedPorts.delete(p);
    }
    this.later(20, () => this.allocate());
  }
}

function toRanges(ports: number[]): { begin: number; end: number }[] {
  const out: { begin: number; end: number }[] = [];
  for (const p of [...ports].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last.end === p - 1) last.end = p;
    else out.push({ begin: p, end: p });
  }
  return out;
}

/** A master that is not leading: every request is redirected to the leader. */
function standbyMaster(leaderPort: number, seen: string[]): http.Server {
  return http.createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      seen.push((JSON.parse(text) as { type: string }).type);
      // As Mesos writes it: protocol-relative, to the leader's /api/v1/scheduler.
      res.writeHead(307, { Location: `//127.0.0.1:${leaderPort}/api/v1/scheduler` }).end();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The setup: etcd, masters, inventory, registered capacity

const NET = '127.0.12';
const VERSION = { redis: '7.0.15', memcache: '1.6.18' };
let dir: string;
let etcdProc: ChildProcess | undefined;
let etcdUrl: string;
let etcd: Etcd3;
let master: FakeMaster;
let standby: http.Server;
const standbySeen: string[] = [];
let inv: Inventory;
const rig = new LocalRig();
let fleet: StandInFleet;
const logs: string[] = [];

function agent(host: string, hostname: string, ip: string): FakeAgent {
  return { id: `agent-${host}-S0`, host, hostname, ip, cpus: 2, mem: 2048, ports: [[21000, 21009], [31000, 31009]], usedCpus: 0, usedMem: 0, usedPorts: new Set(), offered: false, refusedUntil: 0 };
}

function hostSpec(name: string, address: string, etcdPort: number): Inventory['hosts'][number] {
  return {
    name,
    address,
    ssh: { user: 'root', port: 22, key: '/nonexistent', knownHosts: '/nonexistent' },
    vars: { cache_ports: { from: 21000, to: 21009 }, etcd_client_port: etcdPort, etcd_peer_port: 1, etcd_cluster_token: 't', zookeeper_client_port: 2181, etcd_tls: false },
    line: 1,
  };
}

/** What a launch runs: its task's name is "<cluster> <ip:port>". */
function executorArgs(info: TaskInfo): { cluster: string; instance: string } {
  const [cluster, instance] = info.name.split(' ');
  return { cluster: cluster!, instance: instance! };
}

/** The hosts as the scheduler reaches them: every script is recorded, and an install script is
 * answered as a host would (its instances installed); the instances themselves run in the rig. */
class StandInFleet extends Fleet {
  readonly scripts: { host: string; script: string; at: number }[] = [];
  override async remote(name: string): Promise<Remote> {
    return {
      connected: true,
      exec: async (_command: string, stdin?: string | Buffer) => {
        const script = String(stdin ?? '');
        this.scripts.push({ host: name, script, at: master.calls.length });
        const stdout = [...script.matchAll(/echo "@@ovl (\S+) installed"/g)].map((m) => `@@ovl ${m[1]} installed`).join('\n');
        return { code: 0, stdout, stderr: '' };
      },
      close: () => {},
    } as unknown as Remote;
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ovl-mesos-'));
  const e = await startEtcd(dir);
  etcdProc = e.proc;
  etcdUrl = e.url;
  etcd = await openEtcd({ endpoints: [etcdUrl] }, 5000);
  master = new FakeMaster([
    agent('h1', 'h1', `${NET}.1`),
    agent('h2', 'h2.mesos.example.net', `${NET}.2`),
    agent('h3', `${NET}.3`, `${NET}.3`),
    agent('h4', 'h4', `${NET}.4`),
    agent('stranger', 'x9.example.net', `${NET}.99`),
  ]);
  const leaderPort = await master.listen();
  standby = standbyMaster(leaderPort, standbySeen);
  await new Promise<void>((r) => standby.listen(0, '127.0.0.1', r));
  const standbyPort = (standby.address() as { port: number }).port;
  const etcdPort = Number(new URL(etcdUrl).port);
  const hosts = [hostSpec('e1', '127.0.0.1', etcdPort), ...[1, 2, 3, 4].map((i) => hostSpec(`h${i}`, `${NET}.${i}`, etcdPort))];
  inv = {
    file: join(dir, 'mesos.yml'),
    vars: hosts[0]!.vars,
    hosts,
    components: ['etcd'],
    server: { etcd: ['e1'] },
    artifacts: {},
    scheduler: { resources: 'mesos', mesos_master: `127.0.0.1:${standbyPort}` },
  };
  fleet = new StandInFleet(inv);
  // What bootstrap registers: the versions present on each host (the fleet path's capacity).
  for (const h of hosts.slice(1)) {
    await etcd.put(capacityKey(h.name)).value(JSON.stringify({ host: h.name, address: h.address, cpu: 2, memMB: 2048, ports: { from: 21000, to: 21009 }, versions: { redis: [VERSION.redis], memcache: [VERSION.memcache] } }));
  }
  // The agent runs the instance (its files are the rig's own rendering of the plan in etcd).
  master.onLaunch = async (info) => {
    const a = executorArgs(info);
    const plan = (await getPlan(etcd, a.cluster!))!;
    const inst = plan.instances.find((i) => addrOf(i) === a.instance)!;
    rig.startOne(plan, inst);
  };
});

after(async () => {
  if (process.env.OVL_MESOS_LOG) console.error(logs.join('\n'));
  etcd?.close();
  await master?.close().catch(() => undefined);
  await new Promise<void>((r) => (standby ? standby.close(() => r()) : r()));
  await rig.cleanup();
  if (etcdProc && etcdProc.exitCode === null) {
    await new Promise<void>((r) => {
      etcdProc!.once('exit', () => r());
      etcdProc!.kill('SIGKILL');
    });
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run the scheduler until this task ends (with a deadline), as `ovl cluster create --wait` does. */
async function schedule(taskId: string, ms = 120_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      runScheduler({ inv, log: (l) => logs.push(l), until: taskId, fleet }),
      new Promise((_, rej) =>
        (timer = setTimeout(() => {
          // Stop the scheduler as a signal would (it listens for SIGTERM), then fail.
          process.emit('SIGTERM');
          rej(new Error(`task ${taskId} did not end within ${ms} ms:\n${logs.join('\n')}`));
        }, ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const launchesOf = (from: number, to = master.calls.length) =>
  master.calls.slice(from, to).filter((c) => c.type === 'ACCEPT').flatMap((c) => (c.body.accept.operations as { launch: { task_infos: TaskInfo[] } }[]).flatMap((op) => op.launch.task_infos.map((info) => ({ info, offers: c.body.accept.offer_ids as { value: string }[] }))));

const agentOf = (agentId: string) => master.agents.find((a) => a.id === agentId)!;

/** Every update that carried a uuid was acknowledged, with its agent and task; no other. */
function assertAcked(): void {
  const acks = master.callsOf('ACKNOWLEDGE').map((c) => c.body.acknowledge as { uuid: string; task_id: { value: string }; agent_id: { value: string } });
  const acked = new Set(acks.map((a) => a.uuid));
  for (const u of master.updates.filter((x) => x.uuid)) assert.ok(acked.has(u.uuid!), `update ${u.state} of ${u.taskId} was not acknowledged`);
  for (const a of acks) {
    const u = master.updates.find((x) => x.uuid === a.uuid);
    assert.ok(u, 'an ACKNOWLEDGE names a uuid no update carried');
    assert.equal(a.task_id.value, u.taskId);
    assert.equal(a.agent_id.value, master.tasks.get(u.taskId)!.agent.id);
  }
  assert.equal(acks.length, acked.size, 'an update was acknowledged twice');
}

// ---------------------------------------------------------------------------------------------

test('redis_cluster created from Mesos offers: placement, launches, a failed task moved, consistency check', async () => {
  const req: ClusterRequest = { name: 'mc1', type: 'redis_cluster', version: VERSION.redis, masters: 3, replicas: 1, maxmemoryMB: 16 };
  // The first task launched fails on its agent (its command exits 1).
  let failed: { taskId: string; addr: string; agent: string } | undefined;
  master.decide = (info, a) => {
    if (failed) return 'run';
    failed = { taskId: info.task_id.value, addr: executorArgs(info).instance!, agent: a.id };
    return 'fail';
  };
  const task = await newTask(etcd, 'create', req.name, { request: req });
  await schedule(task.id);

  const done = (await getTask(etcd, task.id))!;
  assert.equal(done.state, 'done', `task: ${done.step} ${done.error ?? ''}\n${logs.join('\n')}`);
  const cfg = JSON.parse((await etcd.get(configKey(req.name)).string())!) as ClusterConfig;
  assert.equal(cfg.state, 'running');
  assert.match(done.step, /^running: 6 instances healthy/);

  // Subscribed through the standby's 307, as a new framework, whose id is now in etcd.
  assert.deepEqual(standbySeen, ['SUBSCRIBE']);
  assert.equal(master.subscribes.length, 1);
  const info = master.subscribes[0]!.body.subscribe.framework_info;
  assert.equal(info.user, 'root');
  assert.equal(info.name, 'ovl');
  assert.equal(info.failover_timeout, 7 * 24 * 3600);
  assert.equal(info.id, undefined);
  assert.equal(await etcd.get(FRAMEWORK_ID_KEY).string(), master.frameworkId);

  // Every call went to the leader with the stream id and the framework id.
  assert.deepEqual(master.mismatchedStreamIds, []);
  for (const c of master.calls) assert.equal(c.body.framework_id.value, master.frameworkId);

  // REVIVE while the task waited, before anything was launched.
  const firstAccept = master.calls.findIndex((c) => c.type === 'ACCEPT');
  assert.ok(firstAccept > 0, 'nothing was accepted');
  assert.ok(master.calls.slice(0, firstAccept).some((c) => c.type === 'REVIVE'), 'no REVIVE before the first ACCEPT');

  // The first ACCEPTs (one per agent) launch exactly the planned instances; then one relaunch.
  const plan = (await getPlan(etcd, req.name))!;
  const all = launchesOf(0);
  assert.ok(failed, 'no launch failed');
  assert.equal(all.length, plan.instances.length + 1, 'one launch per instance, plus the relaunch of the failed one');
  const initial = all.slice(0, plan.instances.length);
  const relaunch = all[all.length - 1]!;
  const initialAddrs = initial.map((l) => executorArgs(l.info).instance!);
  assert.deepEqual([...initialAddrs.filter((a) => a !== failed!.addr), executorArgs(relaunch.info).instance!].sort(), plan.instances.map(addrOf).sort());
  assert.equal(new Set(initialAddrs).size, plan.instances.length);
  const acceptAgents = master.callsOf('ACCEPT').map((c) => (c.body.accept.operations[0].launch.task_infos as TaskInfo[]).map((i) => i.agent_id.value));
  for (const ids of acceptAgents) assert.equal(new Set(ids).size, 1, 'one ACCEPT launched on several agents');

  for (const { info: ti, offers } of all) {
    const args = executorArgs(ti);
    assert.equal(args.cluster, req.name);
    // The cache server itself, in its installed directory: nothing of ovl runs in the container.
    const inst = plan.instances.find((i) => addrOf(i) === args.instance) ?? { ...plan.instances[0]!, address: args.instance.split(':')[0]!, port: Number(args.instance.split(':')[1]) };
    // Held at its start gate until every instance runs (a create).
    assert.equal(ti.command.value, foregroundCommand(instanceSetup(plan, inst, { task: task.id }), true));
    assert.equal(ti.command.shell, true);
    // Its files were installed on its host before the ACCEPT that launched it.
    const launchedAt = master.calls.findIndex((c) => c.type === 'ACCEPT' && (c.body.accept.operations[0].launch.task_infos as TaskInfo[]).some((x) => x.task_id.value === ti.task_id.value));
    assert.ok(fleet.scripts.some((s) => s.host === agentOf(ti.agent_id.value).host && s.at <= launchedAt && s.script.includes(`@@ovl ${args.instance} installed`)), `${args.instance} was not installed before its launch`);
    const [address, port] = args.instance!.split(':');
    const a = agentOf(ti.agent_id.value);
    assert.equal(a.ip, address, `${args.instance} launched on agent ${a.id} (${a.ip})`);
    assert.ok(offers.length >= 1);
    const res = (name: string) => ti.resources.filter((r) => r.name === name);
    assert.deepEqual(res('cpus').map((r) => r.scalar!.value), [0.1]);
    // The instance's memory and its executor's: the container runs both.
    assert.deepEqual(res('mem').map((r) => r.scalar!.value), [instanceMemMB(req.maxmemoryMB) + EXECUTOR_MEM_MB]);
    assert.deepEqual(res('ports').flatMap((r) => r.ranges!.range), [
      { begin: Number(port), end: Number(port) },
      { begin: Number(port) + 10000, end: Number(port) + 10000 },
    ]);
    // Resources keep the role and allocation they were offered with.
    for (const r of ti.resources) assert.deepEqual([r.role, r.allocation_info], ['*', { role: '*' }]);
  }

  // Nothing on the stranger, whose offers were declined with a refuse filter.
  assert.ok(all.every(({ info: ti }) => agentOf(ti.agent_id.value).host !== 'stranger'));
  assert.ok([...master.declinedOffers.values()].some((d) => d.agent.host === 'stranger'), "the stranger agent's offer was not declined");
  for (const d of master.declinedOffers.values()) assert.ok(typeof d.refuse === 'number' && d.refuse > 0, 'DECLINE without filters.refuse_seconds');

  // Released once all ran: every host of the plan got the release after the last launch.
  const lastAccept = master.calls.map((c) => c.type).lastIndexOf('ACCEPT');
  const released = new Set(fleet.scripts.filter((x) => x.at > lastAccept && x.script.includes('start.gate') && x.script.includes(': <>')).map((x) => x.host));
  assert.deepEqual([...released].sort(), [...new Set(plan.instances.map((i) => i.host))].sort());

  // Anti-affinity on the agents: no master and its replica on one agent.
  const agentByAddr = new Map([...initial, relaunch].map((l) => [executorArgs(l.info).instance!, l.info.agent_id.value]));
  const byId = new Map(plan.instances.map((i) => [i.id, i]));
  for (const r of plan.instances.filter((i) => i.role === 'replica')) {
    assert.notEqual(agentByAddr.get(addrOf(r)), agentByAddr.get(addrOf(byId.get(r.masterId!)!)), `replica ${addrOf(r)} shares an agent with its master`);
  }

  // The failed task: TASK_FAILED, then its instance (same id) moved to another agent, and running.
  assert.ok(master.updates.some((u) => u.taskId === failed!.taskId && u.state === 'TASK_FAILED'));
  assert.notEqual(relaunch.info.agent_id.value, failed.agent, 'the failed instance was launched on the same agent again');
  assert.ok(!plan.instances.some((i) => addrOf(i) === failed!.addr), 'the failed address is still in the plan');
  assert.ok(master.updates.some((u) => u.taskId === relaunch.info.task_id.value && u.state === 'TASK_RUNNING'));
  const failedRevive = master.calls.findIndex((c, i) => c.type === 'REVIVE' && i > firstAccept);
  assert.ok(failedRevive > firstAccept, 'no REVIVE for the failed instance');

  // Every instance up in etcd; every update with a uuid acknowledged; offers suppressed when idle.
  const infos = await listInstances(etcd, req.name);
  assert.equal(infos.size, plan.instances.length);
  for (const i of infos.values()) assert.equal(i.state, 'up', `${addrOf(i)} is ${i.state}`);
  assertAcked();
  const wants = master.calls.filter((c) => c.type === 'REVIVE' || c.type === 'SUPPRESS').map((c) => c.type);
  assert.equal(wants[wants.length - 1], 'SUPPRESS', `offers are not suppressed at the end: ${wants.join(' ')}`);
});

test('a restarted scheduler fails over to the same framework; heartbeat loss resubscribes; memcache launches', async () => {
  const frameworkId = await etcd.get(FRAMEWORK_ID_KEY).string();
  assert.ok(frameworkId);
  const before = { subs: master.subscribes.length, calls: master.calls.length, updates: master.updates.length };
  master.decide = () => 'run';
  // The first subscription of this scheduler hears SUBSCRIBED (heartbeat 0.3 s) and then nothing.
  master.silentNext = true;
  const req: ClusterRequest = { name: 'mc2', type: 'memcache', version: VERSION.memcache, masters: 1, replicas: 0, nodes: 3, maxmemoryMB: 8 };
  const task = await newTask(etcd, 'create', req.name, { request: req });
  await schedule(task.id);
  const done = (await getTask(etcd, task.id))!;
  assert.equal(done.state, 'done', `task: ${done.step} ${done.error ?? ''}\n${logs.join('\n')}`);

  // Two subscriptions (the silent one, then one after the missed heartbeats), both failing over.
  const subs = master.subscribes.slice(before.subs);
  assert.equal(subs.length, 2, `subscriptions: ${subs.length}`);
  for (const s of subs) {
    assert.equal(s.body.subscribe.framework_info.id.value, frameworkId);
    assert.equal(s.body.framework_id.value, frameworkId);
  }
  assert.equal(master.frameworkId, frameworkId);
  assert.equal(await etcd.get(FRAMEWORK_ID_KEY).string(), frameworkId);
  assert.ok(logs.some((l) => /missed heartbeats/.test(l)), 'the heartbeat loss was not noticed');

  // RECONCILE on subscribing: the master answered with the first cluster's tasks, without uuid,
  // and none of those was acknowledged (acknowledging them is an error in Mesos).
  const calls = master.calls.slice(before.calls);
  assert.ok(calls.some((c) => c.type === 'RECONCILE'));
  const reconciled = master.updates.slice(before.updates).filter((u) => !u.uuid);
  assert.ok(reconciled.length >= 6, 'no reconciliation updates');
  assertAcked();

  // memcache: a port each, no bus port; three nodes on three agents.
  const launches = launchesOf(before.calls);
  const plan = (await getPlan(etcd, req.name))!;
  assert.deepEqual(launches.map((l) => executorArgs(l.info).instance).sort(), plan.instances.map(addrOf).sort());
  for (const { info } of launches) {
    const port = Number(executorArgs(info).instance!.split(':')[1]);
    assert.deepEqual(info.resources.filter((r) => r.name === 'ports').flatMap((r) => r.ranges!.range), [{ begin: port, end: port }]);
  }
  assert.equal(new Set(launches.map((l) => l.info.agent_id.value)).size, 3);
  // Ports the first cluster holds (and its bus ports) were not offered again, so not reused.
  const first = (await getPlan(etcd, 'mc1'))!;
  for (const i of plan.instances) assert.ok(!first.instances.some((f) => f.address === i.address && (f.port === i.port || f.port + 10000 === i.port)));
  const wants = calls.filter((c) => c.type === 'REVIVE' || c.type === 'SUPPRESS').map((c) => c.type);
  assert.equal(wants[wants.length - 1], 'SUPPRESS');
  assert.deepEqual(master.mismatchedStreamIds, []);
});
