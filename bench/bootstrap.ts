// Benchmark: `ovl bootstrap` against the equivalent Ansible playbook (bench/ansible/bootstrap.yml)
// on sandbox fleets of 5 and 20 hosts (real sshds on this machine, see src/sandbox/sandbox.ts).
//
//   npx tsx bench/bootstrap.ts [--hosts 5,20] [--ovl-only-hosts 100] [--noop-runs 3] [--trace] [--cli dist|build]
//
// Per fleet size N, on its own sandbox (bench<N>, on 127.0.6.x, 127.0.7.x, ...):
//   1. ovl: a fresh `ovl bootstrap <inventory>` (CI=1, plain output), then no-op re-runs with
//      --json (median of --noop-runs), whose "changed" count must be 0;
//   2. the sandbox is reset and step 1 again with etcd on plain HTTP (`etcd_tls: false`): what
//      etcd's mutual TLS costs a no-op (goal: within 1.3x);
//   3. the sandbox is reset (processes killed, /data emptied), then Ansible: a fresh run of the
//      playbook and one no-op re-run (its PLAY RECAP "changed" must be 0);
//   4. the sandbox is taken down.
// Then per --ovl-only-hosts size (100 by default), ovl alone: fresh and no-op runs; its no-op must
// stay within 2.5x of the 20-host no-op (cost sub-linear in hosts).
// Every run is timed from process start to exit, as a user sees it. A table and the goals
// (pass/miss) are printed; JSON and every run's output go to bench/results/.
//
// --trace: ovl runs with OVL_TRACE=1 -v (per-step ms in the logs), Ansible with profile_tasks.
// --cli build (default): compile the CLI into bench/results/.build (tsc --outDir), so edits
// others make to dist/ meanwhile do not matter; --cli dist: use bin/ovl.js as it is.
//
// Everything it starts is stopped when it ends, fails, or gets SIGINT/SIGTERM: the sandboxes are
// taken down and Ansible's SSH control masters closed.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DATA_LAYOUT } from '../runbooks/data-layout.js';
import { projectRoot } from '../src/paths.js';
import { ensurePeers } from './peers.js';
import { sandboxDown, sandboxReset, sandboxUp, type SandboxInfo } from '../src/sandbox/sandbox.js';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  hosts: number[];
  /** Fleet sizes measured for ovl alone (Ansible would take tens of minutes there). */
  ovlOnly: number[];
  noopRuns: number;
  trace: boolean;
  cli: 'build' | 'dist';
}

function parseArgs(argv: string[]): Options {
  const o: Options = { hosts: [5, 20], ovlOnly: [100], noopRuns: 3, trace: false, cli: 'build' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--hosts' || a.startsWith('--hosts=')) {
      o.hosts = value()
        .split(',')
        .map((s) => Number(s.trim()));
      if (o.hosts.some((n) => !Number.isInteger(n) || n < 1 || n > 254)) throw new Error('--hosts: comma-separated numbers from 1 to 254');
    } else if (a === '--ovl-only-hosts' || a.startsWith('--ovl-only-hosts=')) {
      o.ovlOnly = value()
        .split(',')
        .filter((x) => x.trim())
        .map((x) => Number(x.trim()));
      if (o.ovlOnly.some((n) => !Number.isInteger(n) || n < 1 || n > 254)) throw new Error('--ovl-only-hosts: comma-separated numbers from 1 to 254 (or "" for none)');
    } else if (a === '--noop-runs' || a.startsWith('--noop-runs=')) {
      o.noopRuns = Number(value());
      if (!Number.isInteger(o.noopRuns) || o.noopRuns < 1) throw new Error('--noop-runs: a whole number of at least 1');
    } else if (a === '--trace') {
      o.trace = true;
    } else if (a === '--cli' || a.startsWith('--cli=')) {
      const v = value();
      if (v !== 'build' && v !== 'dist') throw new Error('--cli: build or dist');
      o.cli = v;
    } else if (a === '-h' || a === '--help') {
      console.log('usage: npx tsx bench/bootstrap.ts [--hosts 5,20] [--ovl-only-hosts 100] [--noop-runs 3] [--trace] [--cli build|dist]');
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${a} (see --help)`);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Interruption and children

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

let interrupted = false;
let current: ChildProcess | null = null;

function onSignal(sig: NodeJS.Signals): void {
  if (interrupted) {
    console.error(`\n${sig} again: still cleaning up (stopping the sandboxes), please wait`);
    return;
  }
  interrupted = true;
  console.error(`\n${sig}: stopping the current run and cleaning up`);
  const c = current;
  if (c && c.exitCode === null && c.signalCode === null && c.pid) {
    // The whole process group: ansible-playbook's forked workers hold its stdout open.
    const pid = c.pid;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), 3000).unref();
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

function checkInterrupted(): void {
  if (interrupted) throw new Interrupted();
}

interface Run {
  /** Wall time from spawn to exit, seconds. */
  s: number;
  code: number | null;
  signal: string | null;
  stdout: string;
  /** Output lines (stdout and stderr) with the second each arrived at, from spawn. */
  lines: { t: number; line: string }[];
  /** File holding stdout and stderr, each line prefixed with its arrival time. */
  log: string;
}

/** Runs a command to completion, timed; stdout is kept, stdout and stderr go to `log`. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: string): Promise<Run> {
  checkInterrupted();
  return new Promise((resolve, reject) => {
    const fd = openSync(log, 'w');
    writeFileSync(fd, `$ ${cmd} ${args.join(' ')}\n(each line: seconds since the command started)\n`);
    let stdout = '';
    const lines: Run['lines'] = [];
    const t0 = process.hrtime.bigint();
    const now = () => Number(process.hrtime.bigint() - t0) / 1e9;
    // Its own process group, so an interruption can stop it and everything it forked.
    const child = spawn(cmd, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    current = child;
    const lineWriter = () => {
      let partial = '';
      return (chunk: string, flush = false) => {
        const parts = (partial + chunk).split('\n');
        partial = flush ? '' : parts.pop()!;
        const t = now();
        for (const line of parts) {
          if (flush && line === '') continue;
          lines.push({ t, line });
          writeFileSync(fd, `${t.toFixed(3).padStart(8)} ${line}\n`);
        }
      };
    };
    const out = lineWriter();
    const err = lineWriter();
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
      out(d.toString('utf8'));
    });
    child.stderr!.on('data', (d: Buffer) => err(d.toString('utf8')));
    child.on('error', (e) => {
      current = null;
      closeSync(fd);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const s = now();
      out('', true);
      err('', true);
      writeFileSync(fd, `${s.toFixed(3).padStart(8)} (exit ${code ?? signal})\n`);
      current = null;
      closeSync(fd);
      resolve({ s, code, signal, stdout, lines, log });
    });
  });
}

/**
 * Where an ovl run spent its time, from the arrival of its "== <component> on ..." lines:
 * start-up (process start, inventory, SSH connections, facts), each component, then the recap.
 */
function phasesOf(r: Run): Record<string, number> {
  const marks = r.lines.flatMap(({ t, line }) => {
    const m = /^== (\S+) on /.exec(line);
    return m ? [{ t, name: m[1]! }] : [];
  });
  const out: Record<string, number> = {};
  let prev = { t: 0, name: 'start-up, connect, facts' };
  for (const m of [...marks, { t: r.s, name: '' }]) {
    out[prev.name] = Math.round((m.t - prev.t) * 1000) / 1000;
    prev = m;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The fleet, read from the inventory `ovl sandbox up` wrote

interface Fleet {
  name: string;
  inventory: string;
  knownHosts: string;
  fleetKey: string;
  hosts: { name: string; address: string; dataDir: string }[];
  etcd: string[];
  token: string;
  clientPort: number;
  peerPort: number;
  cachePorts: { from: number; to: number };
  artifacts: Record<string, { version: string; files: Record<string, string> }[]>;
}

function fleetOf(info: SandboxInfo): Fleet {
  const inv = parseYaml(readFileSync(info.inventory, 'utf8')) as {
    vars?: Record<string, unknown>;
    hosts: { name: string; address: string }[];
    server: Record<string, string[] | 'all'>;
    artifacts: Fleet['artifacts'];
  };
  const vars = inv.vars ?? {};
  const etcd = inv.server['etcd'];
  const ports = vars['cache_ports'] as { from: number; to: number } | undefined;
  return {
    name: info.name,
    inventory: info.inventory,
    knownHosts: info.knownHosts,
    fleetKey: info.fleetKey,
    hosts: inv.hosts.map((h) => ({ ...h, dataDir: join(info.hosts.find((x) => x.name === h.name)!.dir, 'data') })),
    etcd: etcd === 'all' ? inv.hosts.map((h) => h.name) : (etcd ?? []),
    token: String(vars['etcd_cluster_token'] ?? `ovl-${basename(info.inventory).replace(/\.ya?ml$/, '')}`),
    clientPort: Number(vars['etcd_client_port'] ?? 2379),
    peerPort: Number(vars['etcd_peer_port'] ?? 2380),
    cachePorts: ports ?? { from: 7000, to: 7999 },
    artifacts: inv.artifacts,
  };
}

const binPath = (type: string, version: string, name: string) => `/data/lib/${type}/${version}/bin/${name}`;

/**
 * The settings of ovl's etcd.conf.yml template that do not depend on the host (e.g.
 * max-txn-ops), so the playbook's etcd config stays the same as ovl's when the template changes.
 */
function fixedEtcdSettings(): string[] {
  return readFileSync(join(projectRoot, 'templates', 'etcd.conf.yml.hbs'), 'utf8')
    .split('\n')
    .filter((l) => /^[a-z][\w-]*:\s*\S/.test(l) && !l.includes('{{'));
}

/** Ansible inventory (INI) and extra vars for bench/ansible/bootstrap.yml. */
function writeAnsibleInputs(f: Fleet, dir: string): { inventory: string; vars: string } {
  mkdirSync(dir, { recursive: true });
  const line = (h: Fleet['hosts'][number]) => `${h.name} ansible_host=${h.address}`;
  const ini = [
    `# Generated by bench/bootstrap.ts from ${relative(projectRoot, f.inventory)}`,
    '[all:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${f.fleetKey}`,
    `ansible_ssh_common_args='-o UserKnownHostsFile=${f.knownHosts} -o StrictHostKeyChecking=yes'`,
    '',
    '[etcd]',
    ...f.hosts.filter((h) => f.etcd.includes(h.name)).map(line),
    '',
    '[cache]',
    ...f.hosts.filter((h) => !f.etcd.includes(h.name)).map(line),
    '',
  ].join('\n');
  const etcdArt = f.artifacts['etcd']?.[0];
  if (!etcdArt) throw new Error(`${f.inventory}: no etcd artifact`);
  const cacheFiles: { src: string; dest: string }[] = [];
  const cacheVersions: Record<string, string[]> = {};
  for (const type of ['redis', 'memcache']) {
    for (const a of f.artifacts[type] ?? []) {
      (cacheVersions[type] ??= []).push(a.version);
      for (const [name, src] of Object.entries(a.files)) cacheFiles.push({ src, dest: binPath(type, a.version, name) });
    }
  }
  const vars = {
    data_layout: DATA_LAYOUT,
    etcd_version: etcdArt.version,
    etcd_files: etcdArt.files,
    cache_files: cacheFiles,
    cache_versions: cacheVersions,
    cache_ports: f.cachePorts,
    etcd_cluster_token: f.token,
    etcd_client_port: f.clientPort,
    etcd_peer_port: f.peerPort,
    etcd_fixed_settings: fixedEtcdSettings(),
  };
  const inventory = join(dir, 'hosts.ini');
  const varsFile = join(dir, 'vars.json');
  writeFileSync(inventory, ini);
  writeFileSync(varsFile, JSON.stringify(vars, null, 2) + '\n');
  return { inventory, vars: varsFile };
}

// ---------------------------------------------------------------------------------------------
// What a fresh run left on the hosts, to check both tools did the same work

/** Paths under /data both tools should create: dirs, binaries, etcd config (not logs, data, pid files, scripts). */
function layoutOf(dataDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const abs = join(dir, e);
      const rel = `/data/${relative(dataDir, abs)}`;
      if (rel === '/data/etcd/data' || rel === '/data/var/ovl/pending') continue;
      if (/^\.[^/]*\.ovl-[^/]*$/.test(e)) continue; // ovl's own bookkeeping next to a file (e.g. .etcd.ovl-sha256)
      const st = statSync(abs);
      if (st.isDirectory()) {
        out.push(`d ${(st.mode & 0o7777).toString(8)} ${rel}`);
        walk(abs);
      } else if (rel.startsWith('/data/lib/')) {
        out.push(`f ${(st.mode & 0o7777).toString(8)} ${rel} ${st.size}`);
      } else if (rel === '/data/etcd/etcd.conf.yml') {
        // The settings, not the comments (each tool says who rendered it).
        const settings = readFileSync(abs, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
        out.push(`f ${(st.mode & 0o7777).toString(8)} ${rel} ${createHash('sha256').update(settings.join('\n')).digest('hex').slice(0, 12)}`);
      }
    }
  };
  walk(dataDir);
  return out.sort();
}

function layoutDiff(a: string[], b: string[]): { onlyOvl: string[]; onlyAnsible: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { onlyOvl: a.filter((x) => !sb.has(x)), onlyAnsible: b.filter((x) => !sa.has(x)) };
}

// ---------------------------------------------------------------------------------------------
// The two tools

interface Ctx {
  opts: Options;
  cli: string[];
  logDir: string;
  /** Short directory for Ansible's SSH control sockets (socket paths have a length limit). */
  cpDir: string;
}

function baseEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', NO_COLOR: '1' };
}

async function ovl(ctx: Ctx, f: Fleet, label: string, json: boolean): Promise<Run & { changed?: number; ms?: number }> {
  const env = { ...baseEnv(), CI: '1', ...(ctx.opts.trace ? { OVL_TRACE: '1' } : {}) };
  const args = [...ctx.cli.slice(1), 'bootstrap', f.inventory, ...(json ? ['--json'] : []), ...(ctx.opts.trace ? ['-v'] : [])];
  const r = await timed(ctx.cli[0]!, args, env, join(ctx.logDir, `${f.name}-ovl-${label}.log`));
  checkInterrupted();
  if (r.code !== 0) throw new Error(`ovl bootstrap (${label}, ${f.name}) exited ${r.code ?? r.signal}; see ${r.log}`);
  if (!json) return r;
  const j = JSON.parse(r.stdout) as { ok: boolean; ms: number; hosts: { changed: number; failed: number }[] };
  return { ...r, changed: j.hosts.reduce((n, h) => n + h.changed, 0), ms: j.ms };
}

/** Closes the SSH control masters Ansible left behind (ControlPersist keeps them 60 s). */
async function closeControlMasters(cpDir: string): Promise<void> {
  if (!existsSync(cpDir)) return;
  for (const s of readdirSync(cpDir)) {
    await new Promise<void>((done) => {
      const c = spawn('ssh', ['-o', `ControlPath=${join(cpDir, s)}`, '-O', 'exit', 'bench-control-master'], { stdio: 'ignore' });
      c.on('error', () => done());
      c.on('close', () => done());
    });
  }
}

interface AnsibleRun extends Run {
  changed: number;
  failed: number;
  unreachable: number;
}

async function ansible(ctx: Ctx, f: Fleet, label: string, inputs: { inventory: string; vars: string }): Promise<AnsibleRun> {
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    ANSIBLE_CONFIG: join(projectRoot, 'bench', 'ansible', 'ansible.cfg'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: ctx.cpDir,
    ANSIBLE_NOCOLOR: '1',
    ...(ctx.opts.trace ? { ANSIBLE_CALLBACKS_ENABLED: 'profile_tasks' } : {}),
  };
  const args = ['-i', inputs.inventory, '-f', String(f.hosts.length), '-e', `@${inputs.vars}`, join(projectRoot, 'bench', 'ansible', 'bootstrap.yml')];
  let r: Run;
  try {
    r = await timed('ansible-playbook', args, env, join(ctx.logDir, `${f.name}-ansible-${label}.log`));
  } finally {
    // Each run starts without warm connections, as ovl's runs do.
    await closeControlMasters(ctx.cpDir);
  }
  checkInterrupted();
  const recap = [...r.stdout.matchAll(/^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)];
  if (r.code !== 0 || recap.length !== f.hosts.length) {
    throw new Error(`ansible-playbook (${label}, ${f.name}) exited ${r.code ?? r.signal} with ${recap.length} recap line(s); see ${r.log}`);
  }
  const sum = (i: number) => recap.reduce((n, m) => n + Number(m[i]), 0);
  return { ...r, changed: sum(2), unreachable: sum(3), failed: sum(4) };
}

// ---------------------------------------------------------------------------------------------
// One fleet size

interface SizeResult {
  hosts: number;
  sandbox: string;
  net: string;
  ovl: {
    fresh: { s: number; phases: Record<string, number>; log: string };
    noop: { s: number; runs: number[]; internalMs: number[]; changed: number[]; phases: Record<string, number>[]; log: string };
    noopPlain: { s: number; runs: number[]; changed: number[] };
  };
  ansible: {
    fresh: { s: number; changed: number; log: string };
    noop: { s: number; changed: number; log: string };
  };
  ratio: { fresh: number; noop: number; tls: number };
  loadavg: Record<string, number[]>;
  /** Differences between what the fresh runs left on the first and last host (expected: none). */
  layout: Record<string, { onlyOvl: string[]; onlyAnsible: string[] }>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const la = () => loadavg().map((x) => Math.round(x * 100) / 100);
const say = (s: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${s}`);

async function benchSize(ctx: Ctx, n: number, net: string, up: Set<string>): Promise<SizeResult> {
  const name = `bench${n}`;
  const sandboxLog = join(ctx.logDir, `${name}-sandbox.log`);
  const slog = (line: string) => writeFileSync(sandboxLog, `${line}\n`, { flag: 'a' });
  const loads: Record<string, number[]> = {};

  say(`${name}: sandbox up (${n} hosts on ${net}.x)`);
  await sandboxDown(name, undefined, slog); // a sandbox left by an earlier, killed run
  up.add(name);
  const info = await sandboxUp({ name, hosts: n, net, inventory: join(projectRoot, 'bench', 'results', `${name}.yml`), log: slog });
  checkInterrupted();
  const f = fleetOf(info);
  const probe = [f.hosts[0]!, f.hosts[f.hosts.length - 1]!];

  loads['ovl fresh'] = la();
  say(`${name}: ovl fresh`);
  const fresh = await ovl(ctx, f, 'fresh', false);
  say(`${name}: ovl fresh ${fresh.s.toFixed(2)} s`);
  const ovlLayout = Object.fromEntries(probe.map((h) => [h.name, layoutOf(h.dataDir)]));
  const noops: Awaited<ReturnType<typeof ovl>>[] = [];
  loads['ovl no-op'] = la();
  for (let i = 1; i <= ctx.opts.noopRuns; i++) {
    const r = await ovl(ctx, f, `noop${i}`, true);
    say(`${name}: ovl no-op #${i} ${r.s.toFixed(2)} s (ovl's own ms: ${r.ms}, changed: ${r.changed})`);
    noops.push(r);
  }

  // The same fleet with etcd on plain HTTP (etcd_tls: false), from fresh: what TLS costs a no-op.
  say(`${name}: sandbox reset, then ovl with etcd_tls: false`);
  await sandboxReset(name, undefined, slog);
  checkInterrupted();
  const plainInv = `${info.inventory.replace(/\.yml$/, '')}-plain.yml`;
  writeFileSync(plainInv, readFileSync(info.inventory, 'utf8').replace(/^vars:\n/m, 'vars:\n  etcd_tls: false\n'));
  const plain = { ...f, inventory: plainInv };
  await ovl(ctx, plain, 'plain-fresh', false);
  const plainNoops: Awaited<ReturnType<typeof ovl>>[] = [];
  for (let i = 1; i <= ctx.opts.noopRuns; i++) {
    const r = await ovl(ctx, plain, `plain-noop${i}`, true);
    say(`${name}: ovl no-op without TLS #${i} ${r.s.toFixed(2)} s (changed: ${r.changed})`);
    plainNoops.push(r);
  }
  rmSync(plainInv, { force: true });

  say(`${name}: sandbox reset (processes stopped, /data emptied)`);
  await sandboxReset(name, undefined, slog);
  checkInterrupted();
  const inputs = writeAnsibleInputs(f, join(projectRoot, 'bench', 'results', `ansible-${name}`));
  loads['ansible fresh'] = la();
  say(`${name}: ansible fresh`);
  const afresh = await ansible(ctx, f, 'fresh', inputs);
  say(`${name}: ansible fresh ${afresh.s.toFixed(2)} s (changed: ${afresh.changed})`);
  const ansibleLayout = Object.fromEntries(probe.map((h) => [h.name, layoutOf(h.dataDir)]));
  loads['ansible no-op'] = la();
  say(`${name}: ansible no-op`);
  const anoop = await ansible(ctx, f, 'noop', inputs);
  say(`${name}: ansible no-op ${anoop.s.toFixed(2)} s (changed: ${anoop.changed})`);

  say(`${name}: sandbox down`);
  await sandboxDown(name, undefined, slog);
  up.delete(name);

  const noopS = median(noops.map((r) => r.s));
  const plainS = median(plainNoops.map((r) => r.s));
  return {
    hosts: n,
    sandbox: name,
    net,
    ovl: {
      fresh: { s: fresh.s, phases: phasesOf(fresh), log: relative(projectRoot, fresh.log) },
      noop: {
        s: noopS,
        runs: noops.map((r) => r.s),
        internalMs: noops.map((r) => r.ms!),
        changed: noops.map((r) => r.changed!),
        phases: noops.map(phasesOf),
        log: relative(projectRoot, noops[0]!.log),
      },
      noopPlain: { s: plainS, runs: plainNoops.map((r) => r.s), changed: plainNoops.map((r) => r.changed!) },
    },
    ansible: {
      fresh: { s: afresh.s, changed: afresh.changed, log: relative(projectRoot, afresh.log) },
      noop: { s: anoop.s, changed: anoop.changed, log: relative(projectRoot, anoop.log) },
    },
    ratio: { fresh: afresh.s / fresh.s, noop: anoop.s / noopS, tls: noopS / plainS },
    loadavg: loads,
    layout: Object.fromEntries(probe.map((h) => [h.name, layoutDiff(ovlLayout[h.name]!, ansibleLayout[h.name]!)])),
  };
}

interface OvlOnlyResult {
  hosts: number;
  fresh: number;
  noop: { s: number; runs: number[]; changed: number[]; phases: Record<string, number>[] };
}

/** A large fleet, ovl alone: a fresh bootstrap and no-op re-runs (the sub-linear growth goal). */
async function benchOvlOnly(ctx: Ctx, n: number, net: string, up: Set<string>): Promise<OvlOnlyResult> {
  const name = `bench${n}`;
  const slog = (line: string) => writeFileSync(join(ctx.logDir, `${name}-sandbox.log`), `${line}\n`, { flag: 'a' });
  say(`${name}: sandbox up (${n} hosts on ${net}.x), ovl only`);
  await sandboxDown(name, undefined, slog);
  up.add(name);
  const info = await sandboxUp({ name, hosts: n, net, inventory: join(projectRoot, 'bench', 'results', `${name}.yml`), log: slog });
  checkInterrupted();
  const f = fleetOf(info);
  const fresh = await ovl(ctx, f, 'fresh', false);
  say(`${name}: ovl fresh ${fresh.s.toFixed(2)} s`);
  const noops: Awaited<ReturnType<typeof ovl>>[] = [];
  for (let i = 1; i <= ctx.opts.noopRuns; i++) {
    const r = await ovl(ctx, f, `noop${i}`, true);
    say(`${name}: ovl no-op #${i} ${r.s.toFixed(2)} s (ovl's own ms: ${r.ms}, changed: ${r.changed})`);
    noops.push(r);
  }
  say(`${name}: sandbox down`);
  await sandboxDown(name, undefined, slog);
  up.delete(name);
  return { hosts: n, fresh: fresh.s, noop: { s: median(noops.map((r) => r.s)), runs: noops.map((r) => r.s), changed: noops.map((r) => r.changed!), phases: noops.map(phasesOf) } };
}

// ---------------------------------------------------------------------------------------------
// Report

function table(results: SizeResult[]): string {
  const head = ['hosts', 'ovl fresh', 'ovl no-op', 'no-op, etcd without TLS', 'ansible fresh', 'ansible no-op', 'ratio fresh', 'ratio no-op', 'TLS / plain no-op'];
  const rows = results.map((r) => [
    String(r.hosts),
    `${r.ovl.fresh.s.toFixed(2)} s`,
    `${r.ovl.noop.s.toFixed(2)} s`,
    `${r.ovl.noopPlain.s.toFixed(2)} s`,
    `${r.ansible.fresh.s.toFixed(1)} s`,
    `${r.ansible.noop.s.toFixed(1)} s`,
    `${r.ratio.fresh.toFixed(1)}x`,
    `${r.ratio.noop.toFixed(1)}x`,
    `${r.ratio.tls.toFixed(2)}`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  return [fmt(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(fmt)].join('\n');
}

interface Goal {
  goal: string;
  value: string;
  pass: boolean | null;
}

function goals(results: SizeResult[], large: OvlOnlyResult[]): Goal[] {
  const r20 = results.find((r) => r.hosts === 20);
  if (!r20) return [{ goal: 'the goals are about 20 hosts', value: 'not measured (add 20 to --hosts)', pass: null }];
  return [
    ...large.map((l) => ({
      goal: `${l.hosts}-host no-op within 2.5x the 20-host no-op (sub-linear in hosts: ${(l.hosts / 20).toFixed(0)}x the hosts)`,
      value: `${l.noop.s.toFixed(2)} s = ${(l.noop.s / r20.ovl.noop.s).toFixed(2)}x`,
      pass: l.noop.s / r20.ovl.noop.s <= 2.5,
    })),
    { goal: '20-host no-op < 1.5 s', value: `${r20.ovl.noop.s.toFixed(2)} s`, pass: r20.ovl.noop.s < 1.5 },
    { goal: "20-host no-op >= 30x faster than Ansible's no-op", value: `${r20.ratio.noop.toFixed(1)}x`, pass: r20.ratio.noop >= 30 },
    { goal: '20-host fresh < 10 s', value: `${r20.ovl.fresh.s.toFixed(2)} s`, pass: r20.ovl.fresh.s < 10 },
    { goal: '20-host no-op with etcd over TLS within 1.3x of the no-op without', value: r20.ratio.tls.toFixed(2), pass: r20.ratio.tls <= 1.3 },
  ];
}

// ---------------------------------------------------------------------------------------------
// Main

async function versionLine(cmd: string, args: string[]): Promise<string> {
  return new Promise((done) => {
    let out = '';
    const c = spawn(cmd, args, { env: baseEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', () => done('missing'));
    c.on('close', () => done(out.split('\n')[0]!.trim()));
  });
}

async function prepareCli(opts: Options, logDir: string): Promise<string[]> {
  if (opts.cli === 'dist') {
    const bin = join(projectRoot, 'bin', 'ovl.js');
    if (!existsSync(join(projectRoot, 'dist', 'src', 'cli.js'))) throw new Error('dist/ is not built: npx tsc -p . (or use --cli build)');
    return [process.execPath, bin];
  }
  const out = join(projectRoot, 'bench', 'results', '.build');
  say(`compiling the CLI into ${relative(projectRoot, out)} (tsc --outDir)`);
  rmSync(out, { recursive: true, force: true });
  const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await timed(process.execPath, [tsc, '-p', '.', '--outDir', out], baseEnv(), join(logDir, 'tsc.log'));
  const cli = join(out, 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`tsc did not emit ${cli}; see ${r.log}`);
  if (r.code !== 0) say(`warning: tsc reported errors (it emitted anyway; see ${relative(projectRoot, r.log)})`);
  return [process.execPath, cli];
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the sandbox needs root');
  ensurePeers('bench/bootstrap', [{ command: 'ansible-playbook', pkg: 'ansible' }]);
  const stamp = new Date().toISOString().replace(/:/g, '').replace(/\..*/, '');
  const resultsDir = join(projectRoot, 'bench', 'results');
  const logDir = join(resultsDir, `bootstrap-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'ovl-bench-'));
  const ctx: Ctx = { opts, cli: [], logDir, cpDir: join(tmp, 'cp') };
  mkdirSync(ctx.cpDir);
  const up = new Set<string>();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: SizeResult[] = [];
  const large: OvlOnlyResult[] = [];
  let failure: unknown;
  try {
    ctx.cli = await prepareCli(opts, logDir);
    const nets = opts.hosts.map((_, i) => `127.0.${6 + i}`);
    for (const [i, n] of opts.hosts.entries()) results.push(await benchSize(ctx, n, nets[i]!, up));
    for (const [i, n] of opts.ovlOnly.entries()) large.push(await benchOvlOnly(ctx, n, `127.0.${6 + opts.hosts.length + i}`, up));
  } catch (e) {
    failure = e;
  } finally {
    await closeControlMasters(ctx.cpDir);
    for (const name of up) {
      try {
        say(`${name}: sandbox down (cleanup)`);
        await sandboxDown(name, undefined, (l) => writeFileSync(join(logDir, `${name}-sandbox.log`), `${l}\n`, { flag: 'a' }));
      } catch (e) {
        console.error(`cleanup: sandbox down ${name} failed: ${(e as Error).message} (run: node bin/ovl.js sandbox down --name ${name})`);
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  }

  if (results.length) {
    const g = goals(results, large);
    console.log(`\n${table(results)}\n`);
    const fmtPhases = (ph: Record<string, number>) => Object.entries(ph).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
    for (const l of large) {
      console.log(`${l.hosts} hosts (ovl only): fresh ${l.fresh.toFixed(2)} s, no-op ${l.noop.s.toFixed(2)} s (runs ${l.noop.runs.map((x) => x.toFixed(2)).join(', ')}; changed ${l.noop.changed.join('/')})`);
      console.log(`  no-op, seconds per phase: ${fmtPhases(l.noop.phases[Math.max(0, l.noop.runs.indexOf(l.noop.s))]!)}`);
    }
    console.log('ovl no-op: median of', opts.noopRuns, 'run(s); ratio = Ansible time / ovl time; times include process start.');
    for (const r of results) {
      const ch = r.ovl.noop.changed.every((c) => c === 0) && r.ansible.noop.changed === 0;
      console.log(
        `${r.hosts} hosts: no-op changed: ovl ${r.ovl.noop.changed.join('/')}, ansible ${r.ansible.noop.changed}${ch ? '' : '  <- should be 0'}; ` +
          `load average before the runs: ${Object.entries(r.loadavg).map(([k, v]) => `${k} ${v[0]}`).join(', ')}`,
      );
      const fmt = (ph: Record<string, number>) => Object.entries(ph).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
      const mid = r.ovl.noop.runs.indexOf(r.ovl.noop.s);
      console.log(`  ovl fresh, seconds per phase: ${fmt(r.ovl.fresh.phases)}`);
      console.log(`  ovl no-op${mid >= 0 ? ` #${mid + 1}` : ''}, seconds per phase: ${fmt(r.ovl.noop.phases[Math.max(mid, 0)]!)}`);
      for (const [host, d] of Object.entries(r.layout)) {
        if (d.onlyOvl.length || d.onlyAnsible.length) {
          console.log(`  ${host}: the fresh runs left different /data trees: only ovl: ${d.onlyOvl.join('; ') || '-'}; only ansible: ${d.onlyAnsible.join('; ') || '-'}`);
        }
      }
    }
    console.log('\nGoals:');
    for (const x of g) console.log(`  ${x.pass === null ? 'n/a ' : x.pass ? 'PASS' : 'MISS'}  ${x.goal}: ${x.value}`);
    const file = join(resultsDir, `bootstrap-${stamp}.json`);
    const ansibleVersion = await versionLine('ansible-playbook', ['--version']);
    writeFileSync(
      file,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          complete: failure === undefined,
          machine: { cpus: cpus().length, node: process.version, ansible: ansibleVersion, loadavgAtEnd: la() },
          options: opts,
          cli: ctx.cli.map((p) => relative(projectRoot, p) || p),
          results,
          large,
          goals: g,
        },
        null,
        2,
      ) + '\n',
    );
    console.log(`\nresults: ${relative(projectRoot, file)}\nlogs:    ${relative(projectRoot, logDir)}/`);
  }
  if (failure) {
    console.error(`\nbench/bootstrap: ${failure instanceof Interrupted ? 'interrupted' : (failure as Error).message}`);
    return failure instanceof Interrupted ? 130 : 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench/bootstrap: ${(e as Error).message}`);
    process.exit(1);
  },
);
