// The few etcd calls bootstrap makes (health, member list/add, one key), over etcd's own HTTP
// endpoints: /health and the JSON gateway of the v3 API. The gRPC client (etcd3) takes half a
// second of CPU to load, more than the rest of a no-op bootstrap; cluster management, with its
// watches, leases, elections and transactions, uses etcd3.

export interface Member {
  ID: string;
  name?: string;
  peerURLs: string[];
  clientURLs?: string[];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** POST to the first endpoint that answers. */
async function post<T>(endpoints: string[], path: string, body: object, timeoutMs: number): Promise<T> {
  let last: unknown;
  for (const ep of endpoints) {
    try {
      const res = await fetch(`${ep}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${ep}${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
      return JSON.parse(text) as T;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`etcd does not answer at ${endpoints.join(', ')}: ${(last as Error)?.message ?? 'no endpoint'}`);
}

export async function memberList(endpoints: string[], timeoutMs = 2000): Promise<Member[]> {
  return (await post<{ members?: Member[] }>(endpoints, '/v3/cluster/member/list', {}, timeoutMs)).members ?? [];
}

export async function memberAdd(endpoints: string[], peerURL: string, timeoutMs = 5000): Promise<void> {
  await post(endpoints, '/v3/cluster/member/add', { peerURLs: [peerURL] }, timeoutMs);
}

export async function getKey(endpoints: string[], key: string, timeoutMs = 2000): Promise<string | undefined> {
  const r = await post<{ kvs?: { value?: string }[] }>(endpoints, '/v3/kv/range', { key: b64(key) }, timeoutMs);
  const v = r.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

export async function putKey(endpoints: string[], key: string, value: string, timeoutMs = 2000): Promise<void> {
  await post(endpoints, '/v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs);
}

/** Whether the member at clientURL is the cluster's leader now (its own status says so). */
export async function leads(clientURL: string, timeoutMs = 1000): Promise<boolean> {
  const s = await post<{ header?: { member_id?: string }; leader?: string }>([clientURL], '/v3/maintenance/status', {}, timeoutMs);
  return !!s.leader && s.leader === s.header?.member_id;
}

/** The member's own health endpoint: true when it has a leader and serves (etcd's /health). */
export async function healthy(clientURL: string, timeoutMs = 1000): Promise<boolean> {
  const res = await fetch(`${clientURL}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}
