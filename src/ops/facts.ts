import type { Remote } from '../ssh/remote.js';

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

const FACTS_SCRIPT = [
  `. /etc/os-release 2>/dev/null; echo "os=\${ID:-unknown} \${VERSION_ID:-}"`,
  `echo "arch=$(uname -m)"`,
  `echo "hostname=$(hostname)"`,
  `echo "cpu=$(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)"`,
  `awk '/^MemTotal:/ { print "mem_kb=" $2 }' /proc/meminfo`,
  `echo "addresses=$( (ip -o -4 addr show 2>/dev/null | awk '{ sub("/.*", "", $4); print $4 }') | tr '\\n' ' ')"`,
  `echo "pid1=$(cat /proc/1/comm 2>/dev/null)"`,
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
