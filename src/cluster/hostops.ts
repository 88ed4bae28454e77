// What to run on a host for its cache instances: pure functions returning sh scripts. The
// scheduler runs them over SSH (all instances of a host in one round trip); `ovl executor`
// runs the same scripts locally when a Mesos agent launches it.
import { basename, dirname } from 'node:path';
import { stringify } from 'smol-toml';
import { tar } from '../util/tar.js';
import { argv, shq } from '../shell.js';
import { remote } from '../paths.js';
import { memcacheArgs } from './memcacheargs.js';
import { renderNodesConf } from './nodesconf.js';
import { renderRedisConf } from './redisconf.js';
import { binaryType, instanceDir, type Plan, type PlannedInstance } from './types.js';

export interface InstanceFile {
  name: string;
  content: string;
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
}

export interface SetupOptions {
  password?: string;
  task: string;
}

const pidName = (plan: Plan) => (plan.type === 'memcache' ? 'memcache.pid' : 'redis.pid');

/** The files and command of one instance (seed 001: /data/<type>/<port>/{redis.conf,nodes.conf,meta.toml,console.log,redis.pid}). */
export function instanceSetup(plan: Plan, inst: PlannedInstance, o: SetupOptions): InstanceSetup {
  const dir = instanceDir(plan.type, inst.port);
  const bin = (name: string) => remote.bin(binaryType(plan.type), plan.version, name);
  const files: InstanceFile[] = [];
  let command: string[];
  if (plan.type === 'memcache') {
    command = [bin('memcached'), ...memcacheArgs(plan, inst)];
  } else {
    // Secrets only in a file that is not world-readable.
    files.push({ name: 'redis.conf', content: renderRedisConf(plan, inst, { password: o.password }), mode: o.password ? 0o640 : 0o644 });
    if (plan.type === 'redis_cluster') files.push({ name: 'nodes.conf', content: renderNodesConf(plan, inst.id), mode: 0o644, once: true });
    command = [bin('redis-server'), `${dir}/redis.conf`];
  }
  const pidfile = `${dir}/${pidName(plan)}`;
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
  return { addr: `${inst.address}:${inst.port}`, id: inst.id, dir, pidfile, files, meta, command };
}


/**
 * Shell functions of the start scripts, built-ins only (no fork: these run while hundreds of
 * nodes start). pstate PID sets $st to the process state letter; alive PIDFILE DIR sets $p and
 * $st and is true when that process lives (not a zombie) with DIR as its working directory.
 */
const FUNCTIONS = [
  'pstate() { st=; read -r st < /proc/$1/stat 2>/dev/null || return 1; st=${st##*) }; st=${st%% *}; }',
  'alive() { p=; read -r p < "$1" 2>/dev/null || return 1; [ -n "$p" ] && pstate "$p" && [ "$st" != Z ] && [ /proc/$p/cwd -ef "$2" ]; }',
].join('\n');

const alive = (s: InstanceSetup) => `alive ${shq(s.pidfile)} ${shq(s.dir)}`;

/** Start an instance in the background, detached, in its directory; `held`: stopped before it execs. */
const spawn = (s: InstanceSetup, held: boolean) =>
  `(cd ${shq(s.dir)} && exec setsid sh -c ${shq(`echo $$ > ${shq(s.pidfile)};${held ? ' kill -STOP $$;' : ''} exec ${argv(...s.command)}`)}) </dev/null >>${shq(s.dir + '/console.log')} 2>&1 &`;

/**
 * Install every instance of one host: directories, config files, meta.toml, unpacked from two
 * tar archives carried in the script (a fork or two per host, not several per file: installs
 * of hundreds of instances stay well under a second). Nothing starts here. Idempotent: files
 * ovl owns are replaced; nodes.conf is only written where there is none, since Redis owns it
 * once it has started (a resumed task keeps what the node wrote). The whole install holds the
 * type's lock, so meta.toml never has two writers (seed 001).
 * Prints `@@ovl <addr> installed` for each instance, or `failed <why>` for all of them.
 */
export function installScript(items: InstanceSetup[]): string {
  if (!items.length) return 'true';
  const typeDir = dirname(items[0]!.dir);
  // The lock lives with ovl's own state, not among the instance directories.
  const lock = `${remote.state}/${basename(typeDir)}.meta.lock`;
  const dirs = items.map((s) => ({ path: s.dir, mode: 0o755 }));
  const owned = tar([...dirs, ...items.flatMap((s) => [...s.files.filter((f) => !f.once).map((f) => ({ path: `${s.dir}/${f.name}`, content: f.content, mode: f.mode })), { path: `${s.dir}/meta.toml`, content: s.meta, mode: 0o644 }])]);
  const once = tar(items.flatMap((s) => s.files.filter((f) => f.once).map((f) => ({ path: `${s.dir}/${f.name}`, content: f.content, mode: f.mode }))));
  const untar = (archive: Buffer, extra: string) =>
    `[ -z "$ok" ] || base64 -d <<'OVL_TAR' | tar -x -C / --no-same-owner ${extra} || ok=\n${archive.toString('base64').replace(/(.{76})/g, '$1\n')}\nOVL_TAR`;
  return [
    'set -u',
    // Wait a minute at most for another writer: a lock never released must not hang a task.
    `mkdir -p ${shq(typeDir)} ${shq(remote.state)} && exec 9>${shq(lock)} && flock -w 60 9 || { ${items.map((s) => `echo "@@ovl ${s.addr} failed cannot lock ${lock} within 60 s"`).join('; ')}; exit 0; }`,
    'ok=1',
    // A nodes.conf left by another instance (not this plan's id in meta.toml) is not ours to keep.
    ...items.map((s) => `m=; [ -e ${shq(s.dir + '/nodes.conf')} ] && { while read -r k _ v; do [ "$k" = id ] && m=$v; done < ${shq(s.dir + '/meta.toml')}; } 2>/dev/null; [ -e ${shq(s.dir + '/nodes.conf')} ] && [ "$m" != ${shq(`"${s.id}"`)} ] && rm -f ${shq(s.dir + '/nodes.conf')}`),
    untar(owned, ''),
    untar(once, '--skip-old-files'),
    `if [ -n "$ok" ]; then ${items.map((s) => `echo "@@ovl ${s.addr} installed"`).join('; ')}; else ${items.map((s) => `echo "@@ovl ${s.addr} failed cannot unpack its files"`).join('; ')}; fi`,
    // Unlock now: a process started later by this shell (ovl executor) must not inherit the
    // lock and hold it for its whole life.
    'exec 9>&-',
  ].join('\n');
}

/**
 * Launch every installed instance of one host that is not running, held: each process writes
 * its pid file and stops itself (SIGSTOP) before it becomes the cache server, and this waits
 * until all of them have. release() then lets a whole cluster go at once on every host: the
 * nodes come up within milliseconds of each other, so running nodes do not spend seconds
 * retrying their not-yet-started peers every 100 ms (the start-up storm).
 * Prints `@@ovl <addr> held|running <pid>`.
 */
export function launchScript(items: InstanceSetup[]): string {
  const lines = ['set -u', FUNCTIONS, 'held='];
  for (const s of items) {
    lines.push(
      `if ${alive(s)}; then`,
      // Held by a launch whose release never came (a scheduler that died): release it now.
      `  if [ "$st" = T ]; then held="$held $p"; echo "@@ovl ${s.addr} held $p"; else echo "@@ovl ${s.addr} running $p"; fi`,
      'else',
      `  ${spawn(s, true)}`,
      `  held="$held $!"; echo "@@ovl ${s.addr} held $!"`,
      'fi',
    );
  }
  lines.push(
    'i=0',
    'while [ $i -lt 500 ]; do',
    '  waiting=; for q in $held; do pstate $q && [ "$st" != T ] && [ "$st" != Z ] && waiting=1; done',
    '  [ -z "$waiting" ] && break; i=$((i+1)); sleep 0.01',
    'done',
  );
  return lines.join('\n');
}

/** Let held instances go (SIGCONT), then report `@@ovl <addr> started|failed <pid or why>`. */
export function releaseScript(items: InstanceSetup[], pids: string[]): string {
  const lines = ['set -u', FUNCTIONS];
  if (pids.length) lines.push(`kill -CONT ${pids.map(shq).join(' ')} 2>/dev/null`, 'sleep 0.3');
  for (const s of items) {
    lines.push(`if ${alive(s)}; then echo "@@ovl ${s.addr} started $p"; else echo "@@ovl ${s.addr} failed $(tail -n 3 ${shq(s.dir + '/console.log')} 2>/dev/null | tr '\\n' ' ')"; fi`);
  }
  return lines.join('\n');
}

/** Install and start right away (one instance: `ovl executor`; nothing to wait for). */
export function startScript(items: InstanceSetup[]): string {
  const lines = [installScript(items), 'set -u', FUNCTIONS, 'started='];
  for (const s of items) {
    lines.push(
      `if ${alive(s)}; then echo "@@ovl ${s.addr} running $p"; else`,
      `  ${spawn(s, false)}`,
      `  started="$started ${s.addr}"`,
      'fi',
    );
  }
  lines.push('[ -n "$started" ] && sleep 0.3');
  for (const s of items) {
    lines.push(`case " $started " in *" ${s.addr} "*) if ${alive(s)}; then echo "@@ovl ${s.addr} started $p"; else echo "@@ovl ${s.addr} failed $(tail -n 3 ${shq(s.dir + '/console.log')} 2>/dev/null | tr '\\n' ' ')"; fi ;; esac`);
  }
  return lines.join('\n');
}

/** Stop instances (TERM, then KILL after 10 s), also strays still running in their directory. */
export function stopScript(items: (Pick<InstanceSetup, 'addr' | 'dir'> & { pidfile?: string })[], remove: boolean): string {
  // Every process whose working directory is an instance's: the pid file may be stale. Only
  // processes of this host's mount namespace: where hosts share a kernel's pid namespace (the
  // sandbox) another host's instance has the same path. One pass of find for all of them; a
  // readlink per process and instance would be thousands of forks.
  const lines = [
    'set -u',
    'self=$(readlink /proc/self/ns/mnt)',
    `cwds=$( { find /proc/[0-9]*/ns/mnt -maxdepth 0 -printf 'ns %h %l\\n'; find /proc/[0-9]*/cwd -maxdepth 0 -printf 'cwd %h %l\\n'; } 2>/dev/null | awk -v self="$self" '$1 == "ns" { sub("/ns$", "", $2); if ($3 == self) mine[$2] = 1; next } ($2 in mine) { sub("/proc/", "", $2); print $2, $3 }')`,
  ];
  for (const s of items) {
    const d = shq(s.dir);
    lines.push(
      `# ${s.addr}`,
      `pids=$(printf '%s\\n' "$cwds" | awk -v d=${d} '$2 == d { print $1 }')`,
      '[ -n "$pids" ] && kill -TERM $pids 2>/dev/null',
      'i=0; while [ -n "$pids" ] && [ $i -lt 100 ]; do alive=; for p in $pids; do kill -0 $p 2>/dev/null && ! grep -q "^State:.*Z" /proc/$p/status 2>/dev/null && alive="$alive $p"; done; pids=$alive; [ -n "$pids" ] && sleep 0.1; i=$((i+1)); done',
      '[ -n "$pids" ] && kill -KILL $pids 2>/dev/null',
      remove ? `rm -rf ${d}` : s.pidfile ? `rm -f ${shq(s.pidfile)}` : 'true',
      `echo "@@ovl ${s.addr} stopped"`,
    );
  }
  return lines.join('\n');
}

export interface HostReport {
  addr: string;
  status: 'installed' | 'held' | 'started' | 'running' | 'failed' | 'stopped';
  detail: string;
}

export function parseReports(stdout: string): HostReport[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('@@ovl '))
    .map((l) => {
      const [, addr = '', status = '', ...rest] = l.split(' ');
      return { addr, status: status as HostReport['status'], detail: rest.join(' ').trim() };
    });
}

