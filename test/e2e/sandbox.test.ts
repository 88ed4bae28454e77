// End-to-end test of `ovl sandbox`: real sshds in their own namespaces, reached with the real ssh
// client. Needs root, openssh-server, etcd-server/etcd-client, redis-server/redis-tools, memcached.
// Run: node --import tsx --test test/e2e/sandbox.test.ts

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { FLEET } from '../helpers/fleet.js';
import {
  defaultStateDir,
  sandboxDown,
  sandboxReset,
  sandboxStartHost,
  sandboxStatus,
  sandboxStopHost,
  sandboxUp,
  type SandboxInfo,
} from '../../src/sandbox/sandbox.js';

// Its own sandbox beside the shared fleet; a second checkout (OVL_E2E_NAME/NET, see
// test/helpers/fleet.ts) gets its own name and net here too (the fleet's third octet + 7).
const NAME = FLEET.name === 'e2e' ? 'sbtest' : `sbtest-${FLEET.name}`;
const NET = FLEET.name === 'e2e' ? '127.0.9' : `127.0.${Number(FLEET.net.split('.')[2]) + 7}`;
const STATE_DIR = defaultStateDir(NAME);
const tmp = mkdtempSync(join(tmpdir(), 'ovl-sbtest-'));
const INVENTORY = join(tmp, `${NAME}.yml`);
const quiet = () => {};
let info: SandboxInfo;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command on a sandbox host with the real ssh client, trusting only the written known_hosts. */
function ssh(address: string, command: string): Promise<Result> {
  const args = [
    '-F', '/dev/null',
    '-i', info.fleetKey,
    '-o', `UserKnownHostsFile=${info.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=5',
    `root@${address}`,
    command,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function sshOk(address: string, command: string): Promise<string> {
  const r = await ssh(address, command);
  assert.equal(r.code, 0, `ssh ${address} ${command}: exit ${r.code}\n${r.stderr}`);
  return r.stdout.trim();
}

/** Start a process in the background on a host, detached from the SSH session; returns its pid. */
async function startBackground(address: string, command: string): Promise<number> {
  const pid = Number(await sshOk(address, `setsid ${command} </dev/null >/dev/null 2>&1 & echo $!`));
  assert.ok(Number.isInteger(pid) && pid > 0, `no pid for ${command}`);
  return pid;
}

/** Alive as `ps` would show it, not counting zombies: PID 1 here does not reap orphans. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text) && running(pid);
      } catch {
        return false;
      }
    });
}

function port22Answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port: 22 });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function sshdPids(): Promise<Record<string, number | null>> {
  const st = await sandboxStatus(NAME);
  return Object.fromEntries(st.hosts.map((h) => [h.name, h.pid]));
}

const h1 = `${NET}.1`;
const h2 = `${NET}.2`;
const token = randomBytes(4).toString('hex');

before(async () => {
  await sandboxDown(NAME, undefined, quiet); // leftovers of an interrupted run
  info = await sandboxUp({ name: NAME, hosts: 2, net: NET, inventory: INVENTORY, log: quiet });
});

after(async () => {
  await sandboxDown(NAME, undefined, quiet);
  rmSync(tmp, { recursive: true, force: true });
});

test('up writes an inventory of the hosts and a known_hosts that vouches for their keys', () => {
  const inv = parse(readFileSync(INVENTORY, 'utf8'));
  assert.deepEqual(inv.hosts, [
    { name: 'h1', address: h1 },
    { name: 'h2', address: h2 },
  ]);
  assert.equal(inv.vars.ssh.user, 'root');
  assert.equal(inv.vars.ssh.key, join(STATE_DIR, 'fleet_key'));
  assert.equal(inv.vars.ssh.known_hosts, `${NAME}.known_hosts`);
  assert.deepEqual(inv.server.etcd, ['h1'], 'fewer than 3 hosts: one etcd member');
  assert.equal(inv.server['data-layout'], 'all');
  assert.match(inv.artifacts.etcd[0].version, /^\d+\.\d+\.\d+$/);
  assert.match(inv.artifacts.redis[0].version, /^\d+\.\d+\.\d+$/);
  assert.match(inv.artifacts.memcache[0].version, /^\d+\.\d+\.\d+$/);
  const kh = readFileSync(join(tmp, `${NAME}.known_hosts`), 'utf8');
  assert.match(kh, new RegExp(`^${NET.replace(/\./g, '\\.')}\\.1 ssh-ed25519 AAAA`, 'm'));
  assert.match(kh, new RegExp(`^${NET.replace(/\./g, '\\.')}\\.2 ssh-ed25519 AAAA`, 'm'));
});

test('each host answers ssh with its own hostname', async () => {
  assert.equal(await sshOk(h1, 'hostname'), 'h1');
  assert.equal(await sshOk(h2, 'hostname'), 'h2');
});

test('/data is per host and not the machine /data', async () => {
  const file = `/data/ovl-sbtest-${token}`;
  await sshOk(h1, `echo from-h1 > ${file}`);
  assert.equal(await sshOk(h1, `cat ${file}`), 'from-h1');
  assert.equal((await ssh(h2, `test -e ${file}`)).code, 1, 'h2 must not see a file of h1');
  assert.equal(existsSync(file), false, 'the real /data must not see it');
});

test('/etc writes stay on the host', async () => {
  assert.equal(existsSync('/etc/ovl-test'), false, 'precondition: no /etc/ovl-test on this machine');
  await sshOk(h1, 'echo from-h1 > /etc/ovl-test');
  assert.equal(await sshOk(h1, 'cat /etc/ovl-test'), 'from-h1');
  assert.equal(existsSync('/etc/ovl-test'), false, 'the real /etc must not see it');
  assert.equal((await ssh(h2, 'test -e /etc/ovl-test')).code, 1, 'h2 must not see it');
});

test('up a second time is harmless: same sshds', async () => {
  const before = await sshdPids();
  assert.ok(before.h1 && before.h2, 'both sshds up');
  const again = await sandboxUp({ name: NAME, hosts: 2, net: NET, inventory: INVENTORY, log: quiet });
  assert.deepEqual(Object.fromEntries(again.hosts.map((h) => [h.name, h.pid])), before);
  assert.deepEqual(await sshdPids(), before);
  assert.equal(await sshOk(h1, 'hostname'), 'h1');
});

test('stop-host takes a host off the network, its processes keep running; start-host brings it back', async () => {
  await sshOk(h2, `echo kept > /data/ovl-sbtest-${token}`);
  const bg = await startBackground(h2, 'sleep 1000');
  await sandboxStopHost(NAME, 'h2', undefined, quiet);
  assert.equal((await ssh(h2, 'true')).code, 255, 'ssh to a stopped host fails');
  assert.equal(await port22Answers(h2), false);
  assert.ok(running(bg), 'a process started on the host survives stop-host');
  const st = await sandboxStatus(NAME);
  assert.deepEqual(
    st.hosts.map((h) => [h.name, h.alive]),
    [['h1', true], ['h2', false]],
  );

  await sandboxStartHost(NAME, 'h2', undefined, quiet);
  assert.equal(await sshOk(h2, 'hostname'), 'h2');
  assert.equal(await sshOk(h2, `cat /data/ovl-sbtest-${token}`), 'kept', 'same /data after start-host');
  assert.equal((await ssh(h2, `kill -0 ${bg}`)).code, 0, 'the host still sees its process');
});

test('reset makes every host fresh without restarting sshd', async () => {
  const before = await sshdPids();
  const bg = await startBackground(h1, 'sleep 1000');
  await sshOk(h1, 'echo again > /etc/ovl-test; mkdir -p /data/dir/sub && touch /data/dir/sub/f');
  await sandboxReset(NAME, undefined, quiet);

  assert.deepEqual(await sshdPids(), before, 'sshds kept');
  assert.equal(running(bg), false, 'processes on the host are gone');
  assert.equal(await sshOk(h1, 'ls -A /data | wc -l'), '0');
  assert.equal(await sshOk(h2, 'ls -A /data | wc -l'), '0');
  assert.equal((await ssh(h1, 'test -e /etc/ovl-test')).code, 1, '/etc changes are gone');
  assert.equal(await sshOk(h1, 'hostname'), 'h1');
  // /etc is still writable, and still private to the host.
  await sshOk(h1, 'echo after-reset > /etc/ovl-test');
  assert.equal(existsSync('/etc/ovl-test'), false);
  const st = await sandboxStatus(NAME);
  assert.ok(st.hosts.every((h) => h.alive));
});

test('down kills what was started on the hosts and leaves nothing behind', async () => {
  const bg = await startBackground(h1, 'sleep 1000');
  assert.ok(running(bg));
  const sshds = Object.values(await sshdPids());

  await sandboxDown(NAME, undefined, quiet);

  assert.equal(running(bg), false, 'the process started over ssh was killed');
  for (const pid of sshds) assert.equal(running(pid!), false, `sshd ${pid} is gone`);
  assert.deepEqual(processesMentioning(STATE_DIR), [], 'no sshd of the sandbox is left');
  assert.equal(await port22Answers(h1), false);
  assert.equal(await port22Answers(h2), false);
  assert.equal(existsSync(STATE_DIR), false, 'state dir removed');
  assert.equal(existsSync(INVENTORY), false, 'inventory removed');
  assert.equal(existsSync(join(tmp, `${NAME}.known_hosts`)), false, 'known_hosts removed');
  assert.equal((await sandboxStatus(NAME)).up, false);
  await sandboxDown(NAME, undefined, quiet); // harmless when nothing is up
});
