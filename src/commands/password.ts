// `ovl cluster password NAME`: new passwords for a cluster with ACL users, with no failed client
// request. --rotate makes every instance accept the new application password beside the old one
// (clients move over at their pace); --drop-old then leaves the new one alone; --rotate-admin gives
// ovl's own user a new password. The passwords go into the sealed record here; the task (which
// holds none) sets them live on every instance and in every redis.conf.
import { aclSupported, hasPassword, type ClusterAuth } from '../cluster/auth.js';
import { getPlan, getSecretAt } from '../cluster/store.js';
import type { Etcd3 } from 'etcd3';
import { NotFound } from '../api/errors.js';
import { newTask, type Task } from '../cluster/task-store.js';
import { secretKey } from '../state/keys.js';
import { sealRecord } from '../state/secrets.js';
import type { Out } from '../ui/follow.js';
import { readPassword, taskDone, warnWithoutScheduler, withState } from './cluster.js';
import { UsageError } from './errors.js';

export interface PasswordOptions {
  inventory?: string;
  rotate?: boolean;
  dropOld?: boolean;
  rotateAdmin?: boolean;
  passwordEnv?: string;
  passwordFile?: string;
  wait?: boolean;
  check?: boolean;
}

/** The record after the change asked for, and what to say of it. */
export function passwordChange(name: string, auth: ClusterAuth, o: PasswordOptions, next: string | undefined): { auth: ClusterAuth; says: string[] } {
  let app = auth.app;
  const says: string[] = [];
  if (o.rotate) {
    if (next === undefined) throw new UsageError('--rotate: give the new application password with --password-env NAME or --password-file PATH');
    if (app.length > 1 && app[0] === next) {
      // The same rotation again (the first did not reach every instance): set again.
      if (o.dropOld) app = [next];
      says.push(o.dropOld ? 'the new application password (recorded already) replaces the old one at once' : 'the new application password (recorded already beside the old one) is set again on every instance');
    } else {
      if (app.length > 1 && !o.dropOld) throw new UsageError(`${name} accepts two application passwords already (a rotation is under way): end it first with ovl cluster password ${name} --drop-old`);
      if (app.includes(next)) throw new UsageError(`--rotate: ${name} accepts that password already; give a new one (to set the recorded passwords on every instance again: ovl cluster password ${name} --drop-old)`);
      app = o.dropOld ? [next] : [next, app[0]!];
      says.push(o.dropOld ? 'the new application password replaces the old one at once (clients still using the old one are refused on their next login)' : 'the new application password is accepted beside the old one');
    }
  } else if (next !== undefined) {
    throw new UsageError('--password-env/--password-file: the new application password goes with --rotate');
  } else if (o.dropOld) {
    says.push(app.length > 1 ? 'the old application password is dropped; only the new one is accepted' : 'one application password is recorded: every instance is made to accept only it');
    app = [app[0]!];
  }
  if (o.rotateAdmin) says.push("ovl's own user gets a new password (its old one is dropped once every instance has the new)");
  if (!says.length) throw new UsageError('say what to change: --rotate with --password-env NAME (or --password-file PATH), --drop-old, or --rotate-admin');
  return { auth: { ...auth, app }, says };
}

/**
 * A password change judged and (unless `check`) queued with the new sealed record, in one
 * transaction guarded by the record read. `next` is the new application password (--rotate).
 */
export async function queuePassword(etcd: Etcd3, name: string, o: Pick<PasswordOptions, 'rotate' | 'dropOld' | 'rotateAdmin' | 'check'>, next: () => string | undefined): Promise<{ task?: Task; what: string; after?: string }> {
  const plan = await getPlan(etcd, name);
  if (!plan) throw new NotFound(`no cluster named ${name} (ovl cluster list)`);
  if (plan.type === 'memcache') throw new UsageError(`${name} is memcache: memcached runs without passwords`);
  const pw = next();
  const { auth, rev } = await getSecretAt(etcd, name);
  if (!auth || !rev || !hasPassword(auth)) throw new UsageError(`${name} was created without a password; passwords are set when a cluster is created (--password-env)`);
  if (!auth.admin) {
    const why = aclSupported(plan.version) ? 'it was created before ovl made ACL users' : `redis ${plan.version} has no ACL users`;
    throw new UsageError(`${name} has one requirepass password (${why}): a rotation needs ACL users, which accept two passwords at once; create the cluster again on Redis 6 or later to get them`);
  }
  const change = passwordChange(name, auth, o, pw);
  const what = `passwords of ${name}: ${change.says.join('; ')}`;
  const after = change.auth.app.length > 1 ? `once every client logs in with the new password: ovl cluster password ${name} --drop-old` : undefined;
  if (o.check) return { what, after };
  const kinds = [o.rotate && 'rotate', o.dropOld && 'drop old', o.rotateAdmin && 'rotate admin'].filter(Boolean).join(', ');
  const task = await newTask(etcd, 'password', name, { change: kinds, ...(o.rotateAdmin ? { admin: true } : {}) }, {
    unchanged: { [secretKey(name)]: rev },
    puts: { [secretKey(name)]: sealRecord(etcd, name, change.auth) },
  });
  return { task, what, after };
}

export async function clusterPassword(name: string, o: PasswordOptions, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const { task, what, after } = await queuePassword(etcd, name, o, () => readPassword(o));
    if (!task) {
      out(`would change: ${what}`);
      return 0;
    }
    out(`task ${task.id}: ${what}`);
    if (!o.wait) {
      out(`queued; follow it with: ovl cluster show ${name}`);
      if (after) out(`then, ${after}`);
      await warnWithoutScheduler(etcd, out);
      return 0;
    }
    const done = await taskDone(`password change of ${name}`, inv, etcd, task.id, out);
    if (!done) return 2;
    out(done.step);
    if (after) out(after);
    return 0;
  });
}
