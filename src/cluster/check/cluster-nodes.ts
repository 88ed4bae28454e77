// One node's CLUSTER NODES against the plan: every planned node known as planned, no stranger.
import { plural } from '../../util/plural.js';
import { parseNodeLine } from '../nodes-line.js';
import { BUS_PORT_OFFSET, type PlannedInstance } from '../types.js';
import { EXAMPLES, instanceLabel, short, type Context } from './context.js';

/**
 * One node's CLUSTER NODES against the plan, linear in the text's length. A line that is
 * exactly what the plan expects (id, address, plain `master`/`slave` flag, master id, and after
 * ping/pong/epoch/link exactly the planned slots) is accepted by a few string comparisons
 * without allocating (600 nodes make 360,000 lines per check); any other line is taken apart
 * and explained.
 */
export function checkClusterNodes(ctx: Context, k: number, text: string): void {
  const node = ctx.nodes[k]!;
  const n = ctx.plan.instances.length;
  const heads = ctx.heads();
  const seen = new Uint8Array(n);
  const self = { saw: false };
  const len = text.length;
  let start = 0;
  while (start < len) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = len;
    const e = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const from = start;
    start = end + 1;
    if (e === from) continue;
    // (Measured in V8: a numeric key beats hashing a 40-character slice, and comparing a slice
    // beats startsWith(head, position) by far.)
    let s = ctx.prefixIndex(text, from);
    if (s === -1) s = ctx.index.get(text.slice(from, from + 40));
    if (s !== undefined && s !== k) {
      const head = heads[s]!;
      const after = from + head.length;
      if (text.slice(from, after) === head && tailIs(text, after, e, ctx.slotsOf(s))) {
        seen[s] = 1;
        continue;
      }
    }
    explainLine(ctx, k, text.slice(from, e), seen, self);
  }
  if (!self.saw) node.problems.push('CLUSTER NODES has no myself line');
  const missing: string[] = [];
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (seen[i]) continue;
    count++;
    if (missing.length < EXAMPLES) missing.push(instanceLabel(ctx.inst(i)));
  }
  if (count > 0) node.problems.push(`does not know ${plural(count, 'planned node')}: ${missing.join(', ')}${count > missing.length ? ', …' : ''}`);
}

/** From `p` (just after the master field) up to `e`: <ping> <pong> <epoch> <link>, then exactly
 * `slots` (or nothing when `slots` is empty). */
function tailIs(text: string, p: number, e: number, slots: string): boolean {
  for (let f = 0; f < 3; f++) {
    p = text.indexOf(' ', p);
    if (p < 0 || p >= e) return false;
    p++;
  }
  const q = text.indexOf(' ', p); // after the link state
  if (slots === '') return q < 0 || q >= e;
  return q >= 0 && q < e && e - q - 1 === slots.length && text.slice(q + 1, e) === slots;
}

const BAD_FLAGS = ['fail', 'fail?', 'handshake', 'noaddr'];

/** A CLUSTER NODES line that is not exactly as planned (or the node's own line): what differs. */
function explainLine(ctx: Context, k: number, line: string, seen: Uint8Array, self: { saw: boolean }): void {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  const parsed = parseNodeLine(line);
  if (!parsed) {
    node.problems.push(`CLUSTER NODES has a malformed line: ${JSON.stringify(short(line))}`);
    return;
  }
  const { id, addr, flags, master, slots } = parsed;
  const isMaster = flags.includes('master');

  if (flags.includes('myself')) {
    self.saw = true;
    seen[k] = 1;
    if (id !== inst.id) node.problems.push(`has node id ${id}, the plan says ${inst.id}`);
    if (!addrMatches(addr, inst)) node.problems.push(`knows itself as ${addr}, the plan says ${inst.address}:${inst.port}@${inst.port + BUS_PORT_OFFSET}`);
    if (inst.role === 'master') {
      if (!isMaster) node.problems.push(`is a replica${master === '-' ? '' : ` of ${ctx.nameOf(master)}`}, the plan says master`);
      const want = ctx.slotsOf(k);
      if (slots !== want) node.problems.push(`owns slots ${short(slots) || '(none)'}, the plan says ${short(want) || '(none)'}`);
    } else {
      const pm = ctx.masterOf(k);
      const planned = pm ? instanceLabel(pm) : String(inst.masterId);
      if (isMaster) node.problems.push(`is a master${slots ? ` owning slots ${short(slots)}` : ''}, the plan says replica of ${planned}`);
      else if (master !== inst.masterId) node.problems.push(`replicates ${master === '-' ? 'nothing' : ctx.nameOf(master)}, the plan says ${planned}`);
    }
    return;
  }

  const s = ctx.index.get(id);
  if (s === undefined) {
    ctx.stranger(id, addr, k);
    return;
  }
  seen[s] = 1;
  const subj = ctx.inst(s);
  if (!addrMatches(addr, subj)) ctx.observe(s, k, `is known at ${addr}`);
  for (const f of flags) if (BAD_FLAGS.includes(f)) ctx.observe(s, k, `is flagged ${f}`);
  if (subj.role === 'master') {
    if (!isMaster) ctx.observe(s, k, `is seen as a replica${master === '-' ? '' : ` of ${ctx.nameOf(master)}`}, the plan says master`);
    const want = ctx.slotsOf(s);
    if (slots !== want) ctx.observe(s, k, `is seen owning slots ${short(slots) || '(none)'}, the plan says ${short(want) || '(none)'}`);
  } else {
    if (isMaster) ctx.observe(s, k, `is seen as a master${slots ? ` owning slots ${short(slots)}` : ''}, the plan says replica of ${ctx.masterOf(s) ? instanceLabel(ctx.masterOf(s)!) : subj.masterId}`);
    else if (master !== '-' && master !== subj.masterId) ctx.observe(s, k, `is seen replicating ${ctx.nameOf(master)}`);
    // `slave -`: the viewer does not know (or no longer knows) which master it replicates.
    else if (master === '-') ctx.observe(s, k, 'is seen as a replica of an unknown master');
  }
}

function addrMatches(addr: string, i: PlannedInstance): boolean {
  const want = `${i.address}:${i.port}@${i.port + BUS_PORT_OFFSET}`;
  return addr === want || (addr.startsWith(want) && addr[want.length] === ',');
}
