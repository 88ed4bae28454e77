// What to run on a host for its cache instances: pure functions returning sh scripts. The
// scheduler runs them over SSH (all instances of a host in one round trip); `ovl executor`
// runs the same scripts locally when a Mesos agent launches it.
import { stringify } from 'smol-toml';
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

/** Writes `content` to `path` atomically, with the content inline as base64 (safe to quote). */
function writeFile(path: string, content: string, mode: number): string {
  const b64 = Buffer.from(content).toString('base64');
  return `printf %s ${shq(b64)} | base64 -d > ${shq(path + '.tmp')} && chmod ${mode.toString(8)} ${shq(path + '.tmp')} && mv -f ${shq(path + '.tmp')} ${shq(path)}`;
}

/** Is the process of the pid file alive and running in the instance's directory? */
function aliveTest(s: InstanceSetup): string {
  return `{ p=$(cat ${shq(s.pidfile)} 2>/dev/null) && [ -n "$p" ] && [ "$(readlink /proc/$p/cwd 2>/dev/null)" = ${shq(s.dir)} ] && ! grep -q '^State:.*Z' /proc/$p/status 2>/dev/null; }`;
}

/**
 * Install and start every instance of one host in one go, so that a host's instances come up
 * together instead of one after another (running Redis Cluster nodes retry not-yet-started peers
 * every 100 ms: the slower the launches, the worse that storm). Idempotent: an instance already
 * running from this plan is left alone. Prints `@@ovl <addr> started|running|failed <detail>`.
 */
export function startScript(items: InstanceSetup[]): string {
  const lines = ['set -u', 'started='];
  for (const s of items) {
    const d = shq(s.dir);
    const meta = `${s.dir}/meta.toml`;
    lines.push(
      `# ${s.addr}`,
      `mkdir -p ${d} && cd ${d} || { echo "@@ovl ${s.addr} failed cannot create ${s.dir}"; exit 0; }`,
      // Installed by this plan before (a resumed task): keep the files Redis rewrote since.
      `if grep -qx ${shq(`id = "${s.id}"`)} ${shq(meta)} 2>/dev/null; then fresh=0; else fresh=1; fi`,
      ...s.files.map((f) => (f.once ? `[ $fresh = 0 ] || ${writeFile(`${s.dir}/${f.name}`, f.content, f.mode)}` : writeFile(`${s.dir}/${f.name}`, f.content, f.mode))),
      // meta.toml: never two writers (seed 001), hence the lock.
      `flock ${shq(`${s.dir}/.meta.lock`)} sh -c ${shq(writeFile(meta, s.meta, 0o644))}`,
      `if ${aliveTest(s)}; then echo "@@ovl ${s.addr} running $p"; else`,
      `  setsid sh -c ${shq(`echo $$ > ${shq(s.pidfile)}; exec ${argv(...s.command)}`)} </dev/null >>console.log 2>&1 &`,
      `  started="$started ${s.addr}"`,
      'fi',
    );
  }
  // Give each new process a moment to fail on a bad config or a taken port, then report.
  lines.push('[ -n "$started" ] && sleep 0.3');
  for (const s of items) {
    lines.push(
      `case " $started " in *" ${s.addr} "*)`,
      `  if ${aliveTest(s)}; then echo "@@ovl ${s.addr} started $p"; else echo "@@ovl ${s.addr} failed $(tail -n 3 ${shq(s.dir + '/console.log')} 2>/dev/null | tr '\\n' ' ')"; fi ;;`,
      'esac',
    );
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
  status: 'started' | 'running' | 'failed' | 'stopped';
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

