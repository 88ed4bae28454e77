import { argv, shq } from '../shell.js';
import { change, exec, ok, type Operation } from './types.js';

export interface CommandGuard {
  /** Skip when this path exists on the host. */
  creates?: string;
  /** Skip when this sh command exits 0 on the host. */
  unless?: string;
}

/** A command that runs only when its guard says the work is not done yet. */
export function command(title: string, script: string, guard: CommandGuard): Operation {
  if (!guard.creates && !guard.unless) throw new Error(`command "${title}" needs creates or unless, or it would run every time`);
  const tests: string[] = [];
  if (guard.creates) tests.push(`[ -e ${shq(guard.creates)} ]`);
  if (guard.unless) tests.push(`( ${guard.unless} ) >/dev/null 2>&1`);
  return {
    title,
    probe: `if ${tests.join(' || ')}; then echo done; else echo todo; fi`,
    plan(fact) {
      if (fact.trim() === 'done') return ok(guard.creates ? `${guard.creates} exists` : 'already done');
      return change('ran', [exec(script)]);
    },
  };
}

/** A Debian package, installed with apt-get when missing. */
export function aptPackage(name: string): Operation {
  return {
    title: `package ${name}`,
    probe: `dpkg-query -W -f='\${Status} \${Version}' ${shq(name)} 2>/dev/null; echo`,
    plan(fact) {
      const m = /^install ok installed (\S+)/.exec(fact.trim());
      if (m) return ok(`installed ${m[1]}`);
      const install = `DEBIAN_FRONTEND=noninteractive ${argv('apt-get', 'install', '-y', '-q', '--no-install-recommends', name)}`;
      // A fresh host may have no package lists yet: update once and try again.
      return change('installed', [exec(`${install} || { apt-get update -q && ${install}; }`)]);
    },
  };
}
