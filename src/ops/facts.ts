import { shq } from '../shell.js';
import type { Remote } from '../ssh/remote.js';
import type { Fact, HostContext, Operation, Plan } from './types.js';

/** What ovl knows about a host after one round trip at connect time. */
export interface HostFacts {
  os: string;
  arch: string;
  hostname: string;
  cpu: number;
  memMB: number;
  addresses: string[];
  /** Whether systemd is PID 1: services become units; otherwise supervised processes. */
  systemd: boolean;
}

// Shell built-ins where they do the job (read, .): a fork per fact, times every host, is most
// of what connecting costs on the hosts' side.
const FACTS_SCRIPT = [
  `. /etc/os-release 2>/dev/null; echo "os=\${ID:-unknown} \${VERSION_ID:-}"`,
  `read -r h < /proc/sys/kernel/hostname; echo "hostname=$h"`,
  `read -r p1 < /proc/1/comm; echo "pid1=$p1"`,
  `while read -r k v u; do [ "$k" = MemTotal: ] && echo "mem_kb=$v"; done < /proc/meminfo`,
  `n=0; while read -r k rest; do [ "$k" = processor ] && n=$((n+1)); done < /proc/cpuinfo; echo "cpu=$n"`,
  `a=; read -r a < /proc/sys/kernel/arch 2>/dev/null || a=$(uname -m); echo "arch=$a"`,
  `echo "addresses=$(hostname -I 2>/dev/null)"`,
].join('\n');

export function parseFacts(out: string): HostFacts {
  const kv = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const num = (k: string) => {
    const n = Number(kv.get(k));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`host fact ${k} unreadable: ${JSON.stringify(kv.get(k))}`);
    return n;
  };
  return {
    os: kv.get('os') ?? 'unknown',
    arch: kv.get('arch') ?? 'unknown',
    hostname: kv.get('hostname') ?? '',
    cpu: num('cpu'),
    memMB: Math.floor(num('mem_kb') / 1024),
    addresses: (kv.get('addresses') ?? '').split(/\s+/).filter(Boolean),
    systemd: kv.get('pid1') === 'systemd',
  };
}

export async function gatherFacts(remote: Remote): Promise<HostFacts> {
  return parseFacts(await remote.run(FACTS_SCRIPT));
}

// ---------------------------------------------------------------------------------------------
// Facts operations declare (Fact<T>): several read in one probe, each parsed on its own.

/** A line no probe prints: where one fact's output ends and the next one's begins. */
export const BOUNDARY = '--ovl-fact-boundary--';

type Parsed<F> = { [K in keyof F]: F[K] extends Fact<infer T> ? T : never };

/** Several facts read by one probe; each part of the output goes to its own fact's parse. */
export function facts<F extends Record<string, Fact<unknown>>>(parts: F): Fact<Parsed<F>> {
  const names = Object.keys(parts) as (keyof F & string)[];
  return {
    probe: names.map((n) => parts[n]!.probe).join(`\nprintf '\\n%s\\n' ${BOUNDARY}\n`),
    parse(out) {
      // The boundary is printed on a line of its own whether or not the part before it ended one.
      const chunks = out.split(new RegExp(`\\n?\\n${BOUNDARY}\\n`));
      if (chunks.length !== names.length) throw new Error(`probe output has ${chunks.length} parts, expected ${names.length}`);
      return Object.fromEntries(names.map((n, i) => [n, parts[n]!.parse(chunks[i]!)])) as Parsed<F>;
    },
  };
}

/** An operation's plan given what its fact's probe printed (the engine's way, and the tests'). */
export function planFromProbe<T>(op: Operation<T>, out: string, ctx: HostContext): Plan {
  return op.plan((op.fact ? op.fact.parse(out) : undefined) as T, ctx);
}

/** Whether a directory exists. */
export function dirExists(path: string): Fact<boolean> {
  return { probe: `[ -d ${shq(path)} ] && echo yes || echo no`, parse: (out) => out.trim() === 'yes' };
}
