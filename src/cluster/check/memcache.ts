// The check's questions to memcached: `version` and `stats` over its text protocol, one connection.
import { connect as netConnect } from 'node:net';
import { describeError, sameVersion, short, type Context } from './context.js';

interface MemcacheAnswer {
  version: string;
  stats: Map<string, string>;
}

/** `version` and `stats` on one connection (pipelined). Resolves with the answers or rejects. */
export function memcacheRound(address: string, port: number, timeoutMs: number): Promise<MemcacheAnswer> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: address, port });
    let buf = '';
    let done = false;
    const finish = (err: Error | null, value?: MemcacheAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    let connected = false;
    const timer = setTimeout(
      () => finish(Object.assign(new Error(connected ? `connected, but no reply within ${timeoutMs} ms` : 'timed out'), { code: connected ? 'SILENT' : 'ETIMEDOUT' })),
      timeoutMs,
    );
    sock.setNoDelay(true);
    sock.setEncoding('latin1');
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error(buf === '' ? 'connection closed without an answer' : `connection closed after ${JSON.stringify(short(buf, 40))}`)));
    sock.on('connect', () => {
      connected = true;
      timer.refresh(); // a fresh timeout for the answers
      sock.write('version\r\nstats\r\n');
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const first = buf.slice(0, eol);
      if (!first.startsWith('VERSION ')) {
        finish(new Error(`answers ${JSON.stringify(short(first, 60))} to version`));
        return;
      }
      const rest = buf.slice(eol + 2);
      if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/m.test(rest)) {
        finish(new Error(`answers ${JSON.stringify(short(rest.split('\r\n')[0] ?? '', 60))} to stats`));
        return;
      }
      if (!(rest === 'END\r\n' || rest.endsWith('\r\nEND\r\n'))) return;
      const stats = new Map<string, string>();
      for (const line of rest.split('\r\n')) {
        if (!line.startsWith('STAT ')) continue;
        const sp = line.indexOf(' ', 5);
        if (sp > 0) stats.set(line.slice(5, sp), line.slice(sp + 1));
      }
      finish(null, { version: first.slice(8).trim(), stats });
    });
  });
}

export async function probeMemcache(ctx: Context, k: number, timeoutMs: number): Promise<void> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  let a: MemcacheAnswer;
  try {
    a = await memcacheRound(inst.address, inst.port, timeoutMs);
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith('answers ')) {
      node.answered = true;
      node.problems.push(msg);
    } else node.problems.push(`does not answer (${describeError(e, timeoutMs)})`);
    return;
  }
  node.answered = true;
  const want = inst.version ?? ctx.plan.version;
  if (!sameVersion(want, a.version)) node.problems.push(`runs memcached ${a.version}, the plan says ${want}`);
  if (!a.stats.has('pid')) node.problems.push('stats has no pid: not a memcached?');
  const accepting = a.stats.get('accepting_conns');
  if (accepting !== undefined && accepting !== '1') node.problems.push(`is not accepting connections (accepting_conns ${accepting})`);
}
