// password: every instance made to accept exactly the passwords of the cluster's sealed record
// (ACL SETUSER, live, one command per user), and redis.conf rendered again so that a restart keeps
// them. `ovl cluster password` writes the application's passwords into the record before queuing
// this (a task record holds no secret); ovl's own user gets its new password here, in two rounds:
// old and new accepted while ovl still logs in with the old one, then the new one alone. A re-run
// after a crash finds the record as far as it got and converges.
import { passwordCommands, newSecret, type ClusterAuth } from '../auth.js';
import { withAdmin } from '../admin.js';
import { addrOf, getPlan, getSecretAt, putSecret } from '../store.js';
import { putTask, type PasswordTask } from '../task-store.js';
import type { Plan } from '../types.js';
import { mapLimit } from '../../util/semaphore.js';
import { plural } from '../../util/plural.js';
import { faultPoint, step, type TaskContext } from './context.js';
import { settle } from './health.js';
import { rewriteFiles } from './instances.js';
import type { TaskKindModule } from './registry.js';

/** ACL SETUSER on every instance (ovl logs in with the password it sets first), then every
 * redis.conf rendered again, those of instances that did not answer too (started again, they take
 * the passwords from it); throws naming what missed. */
async function apply(ctx: TaskContext, task: PasswordTask, plan: Plan, target: ClusterAuth): Promise<void> {
  const missed: string[] = [];
  await mapLimit(plan.instances, 32, async (i) => {
    await withAdmin(i, { auth: target }, async (c) => {
      for (const cmd of passwordCommands(target)) await c.call(cmd[0]!, ...cmd.slice(1));
    }).catch((e: Error) => void missed.push(`${addrOf(i)} (${i.host}): ${e.message}`));
  });
  const files = await rewriteFiles(ctx, plan, plan.instances, task, target).then(() => '', (e: Error) => `; ${e.message}`);
  if (missed.length || files) {
    const live = missed.length ? `${plural(missed.length, 'instance')} did not take the passwords live (${missed.slice(0, 5).join('; ')}${missed.length > 5 ? '; ...' : ''})` : 'every instance took the passwords live';
    throw new Error(`${live}${files}: bring them back (ovl cluster restart ${plan.cluster}) and run the same ovl cluster password again`);
  }
}

async function runPassword(ctx: TaskContext, task: PasswordTask): Promise<void> {
  const plan = await getPlan(ctx.etcd, task.cluster);
  if (!plan) throw new Error(`no cluster named ${task.cluster}`);
  let { auth, rev } = await getSecretAt(ctx.etcd, task.cluster);
  if (!auth?.admin || !rev) throw new Error(`${task.cluster} has no ACL users: nothing to change`);
  if (task.admin && !task.adminMade && auth.admin.length === 1) {
    auth = { ...auth, admin: [auth.admin[0]!, newSecret()] };
    await putSecret(ctx.etcd, task.cluster, auth, rev);
    ({ rev } = await getSecretAt(ctx.etcd, task.cluster));
  }
  if (task.admin && !task.adminMade) {
    task.adminMade = true;
    await putTask(ctx.etcd, task);
  }
  const n = plural(plan.instances.length, 'instance');
  await step(ctx, task, `${task.change}: passwords set live on ${n} (ACL SETUSER), then their redis.conf`);
  await apply(ctx, task, plan, auth);
  await faultPoint(ctx, 'passwords-applied');
  if (auth.admin!.length > 1) {
    // Every instance takes both admin passwords now: ovl moves to the new one, then drops the old.
    const next: ClusterAuth = { ...auth, admin: [auth.admin!.at(-1)!] };
    await putSecret(ctx.etcd, task.cluster, next, rev!);
    await step(ctx, task, `${task.change}: ovl's old password dropped on ${n}`);
    await apply(ctx, task, plan, next);
    auth = next;
  }
  await step(ctx, task, `consistency check of ${n}`);
  await settle(ctx, plan, auth);
  const app = auth.app.length > 1 ? 'the new and the old application password are both accepted' : 'one application password is accepted';
  await step(ctx, task, `${task.change}: done on ${n}; ${app}${task.admin ? ", ovl's own user has a new password" : ''}`);
}

export const passwordTask: TaskKindModule<PasswordTask> = { run: runPassword };
