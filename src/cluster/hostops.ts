// What to run on a host for its cache instances: pure functions returning sh scripts. The
// scheduler runs them over SSH (all instances of a host in one round trip); on Mesos the install
// runs the same way and the agent starts the server (foregroundCommand).
import { basename, dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { stringify } from 'smol-toml';
import { tar } from '../util/tar.js';
import { argv, shq } from '../shell.js';
import { remote } from '../paths.js';
import { memcacheArgs } from './memcacheargs.js';
import { renderJoiningMasterNodesConf, renderJoiningNodesConf, renderNodesConf } from './nodesconf.js';
import { renderRedisConf, versionOf, type RedisConfOptions } from './redisconf.js';
import { seedRdb } from './rdb.js';
import { binaryType, instanceDir, type Plan, type PlannedInstance } from './types.js';
import type { ClusterAuth } from './auth.js';

export interface InstanceFile {
  name: string;
  content: string | Buffer;
  mode: number;
  /** Written only when the instance is installed for the first time (Redis owns nodes.conf after its first start). */
  once?: boolean;
}

export interface InstanceSetup {
  addr: string;
  id: string;
  dir: string;
  pidfile: string;
  files: InstanceFile[];
  meta: string;
  command: string[];
  /** The same start, but waiting for the release before the cache server does anything but
   * load: see startTogetherScript. Without it the instance starts at once when launched. */
  heldCommand?: string[];
}

/** Where a held Redis waits: its config includes this FIFO, and opening it blocks until the release. */
const gateOf = (dir: string) => `${dir}/start.gate`;

/**
 * redis-server with its config file, reading one more (empty) config from a FIFO at the end of
 * its config load. By then the process has been exec'd and linked (about 7 ms of CPU each
 * here, most of a start), but has not listened or connected anywhere; it waits in open(2).
 */
export function heldRedisCommand(command: string[], dir: string): string[] {
  return [...command, '--include', gateOf(dir)];
}

/** Whether new instances start from a seed RDB (rdb.ts): Redis 7 or later (where a master takes
 * the id back), under the file name Redis loads. */
function seedsRdb(plan: Plan): boolean {
  return versionOf(plan.version)[0] >= 7 && plan.config?.dbfilename === undefined;
}

/** The files of a redis or redis_cluster instance in its directory. */
export function redisFiles(plan: Plan, inst: PlannedInstance, o: Pick<RedisConfOptions, 'auth' | 'dir' | 'tlsDir'> & Pick<SetupOptions, 'nodesConfs' | 'scaleJoin'> = {}): InstanceFile[] {
  // Secrets only in a file that is not world-readable.
  const files: InstanceFile[] = [{ name: 'redis.conf', content: renderRedisConf(plan, inst, o), mode: o.auth ? 0o640 : 0o644 }];
  // A node that has not joined yet (restart --move) must not start claiming the planned roles
  // and epochs: it knows only itself. A master a scale adds knows the cluster it joins.
  const joining = () => (o.scaleJoin && inst.role === 'master' ? renderJoiningMasterNodesConf(plan, inst.id) : renderJoiningNodesConf(inst));
  const nodesConf = () => (inst.joining ? joining() : (o.nodesConfs?.get(inst.id) ?? renderNodesConf(plan, inst.id)));
  if (plan.type === 'redis_cluster') files.push({ name: 'nodes.conf', content: nodesConf(), mode: 0o644, once: true });
  // One replication history per master and its replicas; the master's id names it.
  const replId = inst.role === 'master' ? inst.id : inst.masterId;
  if (seedsRdb(plan) && replId) files.push({ name: 'dump.rdb', content: seedRdb(replId, plan.version), mode: 0o644, once: true });
  return files;
}

export interface SetupOptions {
  auth?: ClusterAuth;
  task: string;
  /** Every node's nodes.conf, rendered at once (renderNodesConfs) when setting up many. */
  nodesConfs?: Map<string, string>;
  /** Joining nodes are a scale's, added to a healthy cluster (not restart --move's). */
  scaleJoin?: boolean;
}

/** The pid file of an instance (seed 001: redis.pid; memcached's own name for memcache). */
export const pidfileOf = (plan: Plan, port: number) => `${instanceDir(plan.type, port)}/${plan.type === 'memcache' ? 'memcache.pid' : 'redis.pid'}`;

/** The files and command of one instance (seed 001: /data/<type>/<port>/{redis.conf,nodes.conf,meta.toml,console.log,redis.pid}). */
export function instanceSetup(whole: Plan, inst: PlannedInstance, o: SetupOptions): InstanceSetup {
  // An instance a rolling upgrade has moved on runs (and is rendered for) its own version.
  const plan = inst.version ? { ...whole, version: inst.version } : whole;
  const dir = instanceDir(plan.type, inst.port);
  const bin = (name: string) => remote.bin(binaryType(plan.type), plan.version, name);
  let files: InstanceFile[] = [];
  let command: string[];
  if (plan.type === 'memcache') {
    command = [bin('memcached'), ...memcacheArgs(plan, inst)];
  } else {
    files = redisFiles(plan, inst, { auth: o.auth, nodesConfs: o.nodesConfs, scaleJoin: o.scaleJoin });
    command = [bin('redis-server'), `${dir}/redis.conf`];
  }
  const heldCommand = plan.type === 'memcache' ? undefined : heldRedisCommand(command, dir);
  const pidfile = pidfileOf(plan, inst.port);
  const meta = stringify({
    cluster: plan.cluster,
    type: plan.type,
    version: plan.version,
    id: inst.id,
    address: inst.address,
    port: inst.port,
    role: inst.role,
    ...(inst.masterId ? { master_id: inst.masterId } : {}),
    task: o.task,
    start: argv(...command),
    stop: `kill -TERM $(cat ${pidfile})`,
  });
  return { addr: `${inst.address}:${inst.port}`, id: inst.id, dir, pidfile, files, meta, command, heldCommand };
}


/**
 * Shell functions of the start scripts, built-ins only, one or two system calls each: they run
 * while hundreds of nodes start, when every fork and every byte read waits behind them (dash
 * reads files a byte per call). live PID is true when that process runs and is not a zombie
 * (a zombie has no working directory); alive PIDFILE DIR sets $p and is true when that process
 * runs with DIR as its working directory; gated PID is true when it waits in open(2) of a FIFO
 * (a held Redis at its gate).
 */
const FUNCTIONS = [
  'live() { [ -e /proc/$1/cwd ]; }',
  'alive() { p=; { read -r p < "$1"; } 2>/dev/null || return 1; [ -n "$p" ] && [ /proc/$p/cwd -ef "$2" ]; }',
  'gated() { w=; { read -r w < /proc/$1/wchan; } 2>/dev/null; [ "$w" = wait_for_partner ]; }',
].join('\n');

const alive = (s: InstanceSetup) => `alive ${shq(s.pidfile)} ${shq(s.dir)}`;

/**
 * Start a command in the background, detached (its own session), in the instance's directory,
 * and record its pid in `pid<n>` and the pid file. The background subshell is not a process
 * group leader (no job control), so setsid execs the command in place: `$!` is the cache
 * server itself. Two execs per instance, no more: hundreds of them run at once.
 */
const spawn = (s: InstanceSetup, n: number, command: string[]) =>
  `(cd ${shq(s.dir)} && exec setsid ${argv(...command)}) </dev/null >>${shq(s.dir + '/console.log')} 2>&1 &\n  pid${n}=$!; echo $! > ${shq(s.pidfile)}`;

/**
 * Install every instance of one host: directories, config files, meta.toml (and with `held`,
 * the start gate of each held instance), unpacked from two gzipped tar archives carried in the
 * script (a few forks per host, not several per file: installs of hundreds of instances stay
 * well under a second; the nodes.conf of one cluster's nodes differ in one line, so they
 * compress about 40 times). Nothing starts here. Idempotent: files ovl owns are replaced;
 * nodes.conf and dump.rdb are only written where there are none, since Redis owns them once it
 * has started (a resumed task keeps what the node wrote, a restart its data); a gate that is
 * there is kept, since a Redis held by an earlier launch may be waiting in it. The whole
 * install holds the type's lock, so meta.toml never has two writers (seed 001).
 * Prints `@@ovl <addr> installed` for each instance, or `failed <why>` for all of them.
 */
export function installScript(items: InstanceSetup[], held = false, fresh = false): string {
  if (!items.length) return 'true';
  const typeDir = dirname(items[0]!.dir);
  // The lock lives with ovl's own state, not among the instance directories.
  const lock = `${remote.state}/${basename(typeDir)}.meta.lock`;
  const dirs = items.map((s) => ({ path: s.dir, mode: 0o755 }));
  const owned = tar([...dirs, ...items.flatMap((s) => [...s.files.filter((f) => !f.once).map((f) => ({ path: `${s.dir}/${f.name}`, content: f.content, mode: f.mode })), { path: `${s.dir}/meta.toml`, content: s.meta, mode: 0o644 }])]);
  const once = tar([
    ...items.flatMap((s) => s.files.filter((f) => f.once).map((f) => ({ path: `${s.dir}/${f.name}`, content: f.content, mode: f.mode }))),
    ...(held ? items.filter((s) => s.heldCommand).map((s) => ({ path: gateOf(s.dir), mode: 0o600, fifo: true })) : []),
  ]);
  const untar = (archive: Buffer, extra: string) =>
    `[ -z "$ok" ] || base64 -d <<'OVL_TAR' | tar -xz -C / --no-same-owner ${extra} || ok=\n${gzipSync(archive).toString('base64').replace(/(.{76})/g, '$1\n')}\nOVL_TAR`;
  return [
    'set -u',
    // Wait a minute at most for another writer: a lock never released must not hang a task.
    `mkdir -p ${shq(typeDir)} ${shq(remote.state)} && exec 9>${shq(lock)} && flock -w 60 9 || { ${items.map((s) => `echo "@@ovl ${s.addr} failed cannot lock ${lock} within 60 s"`).join('; ')}; exit 0; }`,
    'ok=1',
    // A nodes.conf or dump.rdb left by another instance (not this plan's id in meta.toml) is
    // not ours to keep: another node's identity, another node's data.
    ...items.flatMap((s) => {
      const once = s.files.filter((f) => f.once).map((f) => shq(`${s.dir}/${f.name}`));
      if (!once.length) return [];
      // Never started (held at its gate through a create that moved a member): a new nodes.conf.
      if (fresh) return [`rm -f ${once.join(' ')}`];
      const any = once.map((f) => `[ -e ${f} ]`).join(' || ');
      return [`if ${any}; then m=; { while read -r k _ v; do [ "$k" = id ] && m=$v; done < ${shq(s.dir + '/meta.toml')}; } 2>/dev/null; [ "$m" != ${shq(`"${s.id}"`)} ] && rm -f ${once.join(' ')}; fi`];
    }),
    // A pid file naming no live process is stale: a held launch writes its own, and the release
    // must not take the old one for a start that failed.
    ...(held ? items.map((s) => `{ p=; read -r p < ${shq(s.pidfile)}; } 2>/dev/null; [ -n "$p" ] && [ -e "/proc/$p/cwd" ] || rm -f ${shq(s.pidfile)}`) : []),
    untar(owned, ''),
    untar(once, '--skip-old-files'),
    `if [ -n "$ok" ]; then ${items.map((s) => `echo "@@ovl ${s.addr} installed"`).join('; ')}; else ${items.map((s) => `echo "@@ovl ${s.addr} failed cannot unpack its files"`).join('; ')}; fi`,
    // Unlock now: a process started later by this shell must not inherit the
    // lock and hold it for its whole life.
    'exec 9>&-',
  ].join('\n');
}

/**
 * The instance in the foreground, for a supervisor that is not ovl's (a Mesos command task: the
 * agent's executor runs it and reports its exit). Its files are installed already
 * (installScript; with `held`, its start gate too, and it waits there until releaseScript).
 * The shell writes its pid and execs the cache server in place.
 */
export function foregroundCommand(s: InstanceSetup, held = false): string {
  const command = held && s.heldCommand ? s.heldCommand : s.command;
  // Its output goes to the task's sandbox (stdout, stderr), where Mesos's tools show it.
  return `cd ${shq(s.dir)} && echo $$ > ${shq(s.pidfile)} && exec ${argv(...command)} </dev/null`;
}

/**
 * Let held instances go (as startTogetherScript does once every host is ready); gates removed.
 * A process launched moments ago may not have reached its gate yet, or even started (a gate
 * removed before it opens it is a missing include, and Redis exits): each is waited for, 10 s at
 * most.
 */
export function releaseScript(items: Pick<InstanceSetup, 'dir' | 'pidfile'>[]): string {
  const gates = items.map((s) => shq(gateOf(s.dir)));
  return [
    FUNCTIONS,
    // Until its pid file names a process waiting at the gate, or one that is gone (a failed
    // start): the task's shell writes it, then execs Redis, which opens the gate as it reads its
    // config.
    // No gate (memcached, or released already): nothing to wait for.
    ...items.map((s) => `i=0; [ -p ${shq(gateOf(s.dir))} ] && until { p=; read -r p < ${shq(s.pidfile)}; } 2>/dev/null && { ! live "$p" || gated "$p"; }; do i=$((i+1)); [ $i -ge 200 ] && break; sleep 0.05; done`),
    ...gates.map((g) => `[ -p ${g} ] && : <> ${g}`),
    `rm -f ${gates.join(' ')}`,
    'true',
  ].join('\n');
}

/** What startTogetherScript prints once its instances are held. */
export const READY = '@@ovl ready';

/**
 * Report whether the instances launched by this script still run: `pid<n>` holds the pid of
 * item n when it was launched here (empty otherwise). The pid, not the pid file: Redis rewrites
 * the file as it starts, and a read at that moment finds it empty.
 * Prints `@@ovl <addr> started <pid>|failed <why>`.
 */
function reportStarted(items: InstanceSetup[]): string[] {
  return items.map(
    (s, n) =>
      `if [ -n "$pid${n}" ]; then if live $pid${n}; then echo "@@ovl ${s.addr} started $pid${n}"; else echo "@@ovl ${s.addr} failed $(tail -n 3 ${shq(s.dir + '/console.log')} 2>/dev/null | tr '\\n' ' ')"; fi; fi`,
  );
}

/**
 * Install every instance of one host, launch those not running held, and wait for the word to
 * let them go: one session per host, the same word to every host at once (startTogether).
 * A held Redis has been exec'd and linked and waits at its gate (heldRedisCommand) before it
 * listens or connects; once all of a host's wait there the script prints `@@ovl ready` and
 * reads a line from stdin. The word opens every gate: the nodes of a whole cluster then come
 * up within milliseconds of each other on every host, so running nodes do not spend seconds
 * retrying their not-yet-started peers every 100 ms (the start-up storm), and the costly part
 * of each start is paid before. End of file opens the gates too: a process never stays held
 * because the scheduler went away. The whole script is one brace group, so the shell has read
 * all of it before it runs and its `read` gets the word, not script text.
 * Prints what installScript prints, `@@ovl <addr> held|running <pid>`, `@@ovl ready`, then
 * `@@ovl <addr> started|failed <pid or why>` for each launched instance.
 */
export function startTogetherScript(items: InstanceSetup[]): string {
  const gates = items.filter((s) => s.heldCommand).map((s) => shq(gateOf(s.dir)));
  const lines = ['{', installScript(items, true), '[ -n "$ok" ] || exit 0', 'set -u', FUNCTIONS, 'held='];
  items.forEach((s, n) => {
    lines.push(
      `pid${n}=`,
      `if ${alive(s)}; then`,
      // Held by a launch whose release never came: let it go with the others.
      `  if gated $p; then pid${n}=$p; held="$held $p"; echo "@@ovl ${s.addr} held $p"; else echo "@@ovl ${s.addr} running $p"; fi`,
      s.heldCommand
        ? `else ${spawn(s, n, s.heldCommand)}; held="$held $!"; echo "@@ovl ${s.addr} held $!"`
        : `else ${spawn(s, n, s.command)}`,
      'fi',
    );
  });
  lines.push(
    // Every sleep is a fork and an exec while hundreds of processes are being linked: a few
    // dozen per host at most (5 s).
    'i=0',
    'while [ $i -lt 100 ]; do',
    '  waiting=; for q in $held; do live $q && ! gated $q && waiting=1 && break; done',
    '  [ -z "$waiting" ] && break; i=$((i+1)); sleep 0.05',
    'done',
    `echo ${shq(READY)}`,
    'read -r go || true',
    // Opened read-write, a FIFO never blocks the opener (were its reader gone); closing it gives
    // the waiting Redis an empty config and it goes on.
    ...items.flatMap((s, n) => (s.heldCommand ? [`[ -n "$pid${n}" ] && : <> ${shq(gateOf(s.dir))}`] : [])),
    'sleep 0.3',
    ...reportStarted(items),
    // In the background, so the session ends now (the fork waits behind the starting nodes).
    ...(gates.length ? [`rm -f ${gates.join(' ')} </dev/null >/dev/null 2>&1 &`] : []),
    // The newline ends the group: without it the shell waits for more and reads the word as script.
    '}\n',
  );
  return lines.join('\n');
}


/**
 * Stop instances, also strays still running in their directory: TERM, then KILL after 10 s; or
 * KILL at once when they are removed (delete, move): nothing of them is kept, and on TERM Redis 7
 * waits up to 10 s for lagging replicas, which are being stopped too. All of a host's
 * instances are signalled first and then waited for together: one at a time, a host of 20
 * instances took seconds.
 */
export function stopScript(items: (Pick<InstanceSetup, 'addr' | 'dir'> & { pidfile?: string })[], remove: boolean): string {
  // Every process whose working directory is an instance's: the pid file may be stale. Only
  // processes of this host's mount namespace: where hosts share a kernel's pid namespace (the
  // sandbox) another host's instance has the same path. One pass of find and awk for all of
  // them; a readlink per process and instance would be thousands of forks.
  const dirs = items.map((s) => s.dir).join(' ');
  return [
    'set -u',
    FUNCTIONS,
    'self=$(readlink /proc/self/ns/mnt)',
    `pids=$( { find /proc/[0-9]*/ns/mnt -maxdepth 0 -printf 'ns %h %l\\n'; find /proc/[0-9]*/cwd -maxdepth 0 -printf 'cwd %h %l\\n'; } 2>/dev/null | awk -v self="$self" -v dirs=${shq(dirs)} 'BEGIN { n = split(dirs, d, " "); for (i = 1; i <= n; i++) want[d[i]] = 1 } $1 == "ns" { sub("/ns$", "", $2); if ($3 == self) mine[$2] = 1; next } ($2 in mine) && ($3 in want) { sub("/proc/", "", $2); print $2 }')`,
    `[ -n "$pids" ] && kill -${remove ? 'KILL' : 'TERM'} $pids 2>/dev/null`,
    'i=0; while [ -n "$pids" ] && [ $i -lt 100 ]; do alive=; for p in $pids; do live $p && alive="$alive $p"; done; pids=$alive; [ -n "$pids" ] && sleep 0.1; i=$((i+1)); done',
    '[ -n "$pids" ] && kill -KILL $pids 2>/dev/null',
    ...items.map((s) => `${remove ? `rm -rf ${shq(s.dir)}` : s.pidfile ? `rm -f ${shq(s.pidfile)}` : 'true'}; echo "@@ovl ${s.addr} stopped"`),
  ].join('\n');
}

export interface HostReport {
  addr: string;
  status: 'installed' | 'held' | 'started' | 'running' | 'failed' | 'stopped';
  detail: string;
}

export function parseReports(stdout: string): HostReport[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('@@ovl ') && l !== READY)
    .map((l) => {
      const [, addr = '', status = '', ...rest] = l.split(' ');
      return { addr, status: status as HostReport['status'], detail: rest.join(' ').trim() };
    });
}

