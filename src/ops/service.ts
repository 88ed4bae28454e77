import { argv, shq } from '../shell.js';
import { remote } from '../paths.js';
import { template } from './files.js';
import { change, exec, ok, type Fact, type Handler, type HandlerOperation, type HostContext, type Operation } from './types.js';

/**
 * A long-running service. Where systemd is PID 1 it is a unit (ovl-<name>.service);
 * elsewhere a detached supervisor script (templates/supervise.sh.hbs) keeps it running,
 * with pid files in the service's /data directory.
 */
export interface ServiceSpec {
  name: string;
  /** argv; the first word is an absolute path. */
  command: string[];
  /** The service's directory under /data: working directory, pid files, supervisor. */
  dir: string;
  log: string;
  env?: Record<string, string>;
  /** Log files the daemon writes itself, one set per start (glog): only the newest `keep` are
   * kept, older ones removed before each start. `pattern` is a shell glob, its directory quoted. */
  ownLogs?: { pattern: string; keep: number };
}

export const unitName = (s: ServiceSpec) => `ovl-${s.name}.service`;
const unitPath = (s: ServiceSpec) => `/etc/systemd/system/${unitName(s)}`;
const supervisorScript = (s: ServiceSpec) => `${s.dir}/${s.name}.supervise.sh`;
export const servicePidfile = (s: ServiceSpec) => `${s.dir}/${s.name}.pid`;
const supervisorPidfile = (s: ServiceSpec) => `${s.dir}/${s.name}.supervisor.pid`;
/** Marker of a restart owed to a config change; it survives a failed run. */
export const restartMarker = (s: ServiceSpec) => `${remote.state}/pending/${s.name}.restart`;

/** Whether a restart is owed (its marker is on the host). */
export function restartOwed(s: ServiceSpec): Fact<boolean> {
  return { probe: `[ -e ${shq(restartMarker(s))} ] && echo pending || echo none`, parse: (out) => out.trim() === 'pending' };
}

/** Whether the service runs: a unit active and enabled, or its supervisor alive. */
export function serviceUp(s: ServiceSpec, systemd: boolean): Fact<boolean> {
  return systemd
    ? {
        probe: `systemctl is-active ${shq(unitName(s))}; systemctl is-enabled ${shq(unitName(s))}`,
        parse: (out) => {
          const [active, enabled] = out.trim().split('\n');
          return active === 'active' && enabled === 'enabled';
        },
      }
    : { probe: `if ${alive(supervisorPidfile(s))}; then echo active; else echo inactive; fi`, parse: (out) => out.trim() === 'active' };
}

function alive(pidfile: string): string {
  return `{ [ -s ${shq(pidfile)} ] && kill -0 "$(cat ${shq(pidfile)})" 2>/dev/null; }`;
}

export function startScript(s: ServiceSpec, systemd: boolean): string {
  if (systemd) return `systemctl daemon-reload && ${argv('systemctl', 'enable', '--now', unitName(s))}`;
  return [
    argv('mkdir', '-p', s.dir),
    `setsid -f /bin/sh ${shq(supervisorScript(s))} </dev/null >>${shq(s.log)} 2>&1`,
    // The supervisor writes the child's pid file once it has launched it.
    `i=0; until ${alive(servicePidfile(s))}; do i=$((i+1)); [ $i -gt 100 ] && { echo "${s.name} did not start, see ${s.log}" >&2; exit 1; }; sleep 0.1; done`,
  ].join('\n');
}

export function stopScript(s: ServiceSpec, systemd: boolean): string {
  if (systemd) return argv('systemctl', 'stop', unitName(s));
  const sp = shq(supervisorPidfile(s));
  const cp = shq(servicePidfile(s));
  return [
    `[ -s ${sp} ] && kill -TERM "$(cat ${sp})" 2>/dev/null`,
    `i=0; while ${alive(supervisorPidfile(s))} || ${alive(servicePidfile(s))}; do i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.1; done`,
    `for f in ${cp} ${sp}; do [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done`,
    `rm -f ${cp} ${sp}`,
    'true',
  ].join('\n');
}

export function restartScript(s: ServiceSpec, systemd: boolean): string {
  if (systemd) return `systemctl daemon-reload && ${argv('systemctl', 'restart', unitName(s))}`;
  return `${stopScript(s, false)}\n${startScript(s, false)}`;
}

/** Template context; every value is shell-quoted, as the supervisor is a sh script. */
function context(s: ServiceSpec) {
  return {
    name: s.name,
    dir: shq(s.dir),
    logfile: shq(s.log),
    commandLine: argv(...s.command),
    env: Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, shq(v)])),
    pidfile: shq(servicePidfile(s)),
    supervisorPidfile: shq(supervisorPidfile(s)),
    ownLogs: s.ownLogs ? { pattern: s.ownLogs.pattern, from: s.ownLogs.keep + 1 } : undefined,
  };
}

/** The service's definition (unit or supervisor script), then "running", in that order. */
export function service(s: ServiceSpec, ctx: HostContext, restartHandler: string): Operation[] {
  const systemd = ctx.facts.systemd;
  const definition = systemd
    ? template(unitPath(s), 'systemd.service.hbs', context(s), { mode: 0o644, notify: [restartHandler] })
    : template(supervisorScript(s), 'supervise.sh.hbs', context(s), { mode: 0o755, notify: [restartHandler] });
  const running: Operation<boolean> = {
    title: `service ${s.name} running`,
    fact: serviceUp(s, systemd),
    plan(up) {
      if (up) return ok(systemd ? 'active, enabled' : 'supervised, running');
      // Started now with the current config: no restart is owed any more.
      return change('started', [exec(`${startScript(s, systemd)}\nrm -f ${shq(restartMarker(s))}`)]);
    },
  };
  return [definition, running];
}

/** Marker of a reload owed to a config change (a daemon that rereads its files on SIGHUP). */
export const reloadMarker = (s: ServiceSpec) => `${remote.state}/pending/${s.name}.reload`;

/** Handler: SIGHUP to the service if a reload is owed (Prometheus rereads its config and rules):
 * its data and its scrapes go on. A service not running yet reads the files when it starts. */
export function reloadHandler(s: ServiceSpec, systemd: boolean): Handler {
  const operation: HandlerOperation = {
    title: `reload ${s.name}`,
    fact: { probe: `[ -e ${shq(reloadMarker(s))} ] && echo pending || echo none`, parse: (out) => out.trim() === 'pending' },
    plan(owed) {
      if (!owed) return ok('no reload pending');
      const hup = systemd
        ? `${argv('systemctl', 'kill', '-s', 'HUP', unitName(s))} 2>/dev/null || true`
        : `if ${alive(servicePidfile(s))}; then kill -HUP "$(cat ${shq(servicePidfile(s))})"; fi`;
      return change('reloaded (SIGHUP)', [exec(`${hup}\nrm -f ${shq(reloadMarker(s))}`)]);
    },
  };
  return { marker: reloadMarker(s), operation };
}

/** Handler: restart the service if a restart is owed (marker on the host). */
export function restartHandler(s: ServiceSpec, ctx: HostContext): Handler {
  const operation: HandlerOperation = {
    title: `restart ${s.name}`,
    fact: restartOwed(s),
    plan(owed) {
      if (!owed) return ok('no restart pending');
      return change('restarted', [exec(`${restartScript(s, ctx.facts.systemd)}\nrm -f ${shq(restartMarker(s))}`)]);
    },
  };
  return { marker: restartMarker(s), operation };
}
