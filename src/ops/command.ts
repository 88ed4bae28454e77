import { argv, shq } from '../shell.js';
import { change, exec, ok, type Fact, type Operation } from './types.js';

export interface CommandGuard {
  /** Skip when this path exists on the host. */
  creates?: string;
  /** Skip when this sh command exits 0 on the host. */
  unless?: string;
}

/** Whether a command's guard says its work is done. */
export function guardHolds(guard: CommandGuard): Fact<boolean> {
  const tests: string[] = [];
  if (guard.creates) tests.push(`[ -e ${shq(guard.creates)} ]`);
  if (guard.unless) tests.push(`( ${guard.unless} ) >/dev/null 2>&1`);
  return { probe: `if ${tests.join(' || ')}; then echo done; else echo todo; fi`, parse: (out) => out.trim() === 'done' };
}

/** A command that runs only when its guard says the work is not done yet. */
export function command(title: string, script: string, guard: CommandGuard): Operation<boolean> {
  if (!guard.creates && !guard.unless) throw new Error(`command "${title}" needs creates or unless, or it would run every time`);
  return {
    title,
    fact: guardHolds(guard),
    plan(done) {
      if (done) return ok(guard.creates ? `${guard.creates} exists` : 'already done');
      return change('ran', [exec(script)]);
    },
  };
}

/** The installed version of a Debian package, if it is installed. */
export function debPackage(name: string): Fact<string | undefined> {
  return {
    probe: `dpkg-query -W -f='\${Status} \${Version}' ${shq(name)} 2>/dev/null; echo`,
    parse: (out) => /^install ok installed (\S+)/.exec(out.trim())?.[1],
  };
}

/** A Debian package, installed with apt-get when missing. */
export function aptPackage(name: string): Operation<string | undefined> {
  return {
    title: `package ${name}`,
    fact: debPackage(name),
    plan(version) {
      if (version) return ok(`installed ${version}`);
      const install = `DEBIAN_FRONTEND=noninteractive ${argv('apt-get', 'install', '-y', '-q', '--no-install-recommends', name)}`;
      // A fresh host may have no package lists yet: update once and try again.
      return change('installed', [exec(`${install} || { apt-get update -q && ${install}; }`)]);
    },
  };
}
