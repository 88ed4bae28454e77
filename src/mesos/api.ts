// A client for the Mesos v1 scheduler HTTP API with JSON bodies (mesos.apache.org, "Scheduler
// HTTP API"): SUBSCRIBE is a POST to /api/v1/scheduler answered with a never-ending chunked
// stream of RecordIO-framed events ("<length>\n<json>", length in bytes); every other call is a
// separate POST carrying the stream's Mesos-Stream-Id header, answered 202 Accepted. A master
// that is not leading answers 307 with the leader in Location. The master sends HEARTBEAT every
// heartbeat_interval_seconds: two intervals without any event mean the stream is dead, and the
// client subscribes again (with the framework id, so the master sees a failover, not a new
// framework). Only the JSON shapes ovl reads or writes are typed here.
import http from 'node:http';

export interface MesosId {
  value: string;
}

export interface MesosRange {
  begin: number;
  end: number;
}

export interface MesosResource {
  name: string;
  type: 'SCALAR' | 'RANGES' | 'SET' | string;
  scalar?: { value: number };
  ranges?: { range: MesosRange[] };
  set?: { item: string[] };
  /** Role, reservation, allocation and disk fields are kept as they were offered. */
  role?: string;
  allocation_info?: { role?: string };
  reservations?: unknown[];
  [more: string]: unknown;
}

export interface MesosAttribute {
  name: string;
  type: string;
  text?: { value: string };
  scalar?: { value: number };
}

export interface MesosOffer {
  id: MesosId;
  framework_id: MesosId;
  agent_id: MesosId;
  hostname: string;
  url?: { scheme: string; address: { hostname?: string; ip?: string; port: number }; path?: string };
  resources: MesosResource[];
  attributes?: MesosAttribute[];
  executor_ids?: MesosId[];
  allocation_info?: { role?: string };
}

export type TaskState =
  | 'TASK_STAGING'
  | 'TASK_STARTING'
  | 'TASK_RUNNING'
  | 'TASK_KILLING'
  | 'TASK_FINISHED'
  | 'TASK_FAILED'
  | 'TASK_KILLED'
  | 'TASK_ERROR'
  | 'TASK_LOST'
  | 'TASK_DROPPED'
  | 'TASK_UNREACHABLE'
  | 'TASK_GONE'
  | 'TASK_GONE_BY_OPERATOR'
  | 'TASK_UNKNOWN';

export interface TaskStatus {
  task_id: MesosId;
  state: TaskState;
  message?: string;
  source?: string;
  reason?: string;
  agent_id?: MesosId;
  executor_id?: MesosId;
  timestamp?: number;
  /** Base64; present when the update must be acknowledged. */
  uuid?: string;
}

export type MesosEvent =
  | { type: 'SUBSCRIBED'; subscribed: { framework_id: MesosId; heartbeat_interval_seconds?: number; master_info?: unknown } }
  | { type: 'OFFERS'; offers: { offers?: MesosOffer[]; inverse_offers?: unknown[] } }
  | { type: 'RESCIND'; rescind: { offer_id: MesosId } }
  | { type: 'UPDATE'; update: { status: TaskStatus } }
  | { type: 'MESSAGE'; message: { agent_id: MesosId; executor_id: MesosId; data: string } }
  | { type: 'FAILURE'; failure: { agent_id?: MesosId; executor_id?: MesosId; status?: number } }
  | { type: 'ERROR'; error: { message: string } }
  | { type: 'HEARTBEAT' };

export interface FrameworkInfo {
  user: string;
  name: string;
  id?: MesosId;
  failover_timeout?: number;
  checkpoint?: boolean;
  hostname?: string;
  roles?: string[];
  capabilities?: { type: string }[];
}

export interface CommandInfo {
  shell: boolean;
  value: string;
  user?: string;
}

export interface TaskInfo {
  name: string;
  task_id: MesosId;
  agent_id: MesosId;
  resources: MesosResource[];
  command: CommandInfo;
  /** How long the executor has between SIGTERM and SIGKILL when the task is killed. */
  kill_policy?: { grace_period: { nanoseconds: number } };
}

export interface Filters {
  refuse_seconds: number;
}

export type Call =
  | { type: 'ACCEPT'; accept: { offer_ids: MesosId[]; operations: { type: 'LAUNCH'; launch: { task_infos: TaskInfo[] } }[]; filters?: Filters } }
  | { type: 'DECLINE'; decline: { offer_ids: MesosId[]; filters?: Filters } }
  | { type: 'REVIVE' }
  | { type: 'SUPPRESS' }
  | { type: 'ACKNOWLEDGE'; acknowledge: { agent_id: MesosId; task_id: MesosId; uuid: string } }
  | { type: 'KILL'; kill: { task_id: MesosId; agent_id?: MesosId } }
  | { type: 'RECONCILE'; reconcile: { tasks: { task_id: MesosId; agent_id?: MesosId }[] } }
  | { type: 'TEARDOWN' };

export const SCHEDULER_PATH = '/api/v1/scheduler';

/**
 * RecordIO framing: "<decimal byte length>\n<that many bytes>", records back to back. Chunks
 * may cut a record (or its length line, or a UTF-8 character) anywhere.
 */
export class RecordIODecoder {
  private buf: Buffer = Buffer.alloc(0);
  private need = -1;

  constructor(private readonly maxRecordBytes = 64 * 1024 * 1024) {}

  /** Every record this chunk completes, decoded as UTF-8. Throws on a malformed stream. */
  push(chunk: Buffer): string[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: string[] = [];
    for (;;) {
      if (this.need < 0) {
        const nl = this.buf.indexOf(0x0a);
        if (nl < 0) {
          if (this.buf.length > 20) throw new Error('RecordIO: no record length in the first 20 bytes');
          break;
        }
        const line = this.buf.subarray(0, nl).toString('latin1');
        if (!/^\d{1,19}$/.test(line)) throw new Error(`RecordIO: bad record length ${JSON.stringify(line.slice(0, 20))}`);
        const n = Number(line);
        if (n > this.maxRecordBytes) throw new Error(`RecordIO: record of ${n} bytes is over the ${this.maxRecordBytes} byte limit`);
        this.need = n;
        this.buf = this.buf.subarray(nl + 1);
      }
      if (this.buf.length < this.need) break;
      out.push(this.buf.subarray(0, this.need).toString('utf8'));
      this.buf = this.buf.subarray(this.need);
      this.need = -1;
    }
    return out;
  }
}

/** One record as the master writes it. */
export function recordIO(json: unknown): string {
  const body = JSON.stringify(json);
  return `${Buffer.byteLength(body)}\n${body}`;
}

export class MesosCallError extends Error {
  override name = 'MesosCallError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface MesosClientOptions {
  /** host:port of the master to subscribe to at the n-th attempt (leader.ts): one that is not
   * leading redirects to the leader. Throws when there is none to ask (tried again later). */
  locate: (attempt: number) => Promise<string>;
  /** Read at every SUBSCRIBE: carries the framework id to fail over to, once there is one. */
  frameworkInfo: () => FrameworkInfo;
  /** Every event, in stream order. Exceptions are logged, never break the stream. */
  onEvent: (e: MesosEvent) => void;
  /** The subscription ended (its offers are void); the client subscribes again by itself. */
  onDisconnect?: (why: string) => void;
  log: (line: string) => void;
  /** First delay before subscribing again, doubled per failure up to maxReconnectMs. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  /** No event for this many heartbeat intervals: the stream is dead (default 2). */
  heartbeatFactor?: number;
  /** Time for a master to answer SUBSCRIBE with SUBSCRIBED, and for a call to be answered. */
  timeoutMs?: number;
  maxRedirects?: number;
}

interface Reply {
  status: number;
  location?: string;
  body: string;
}

/** POST a JSON body; the reply's body is read to the end (first 4 kB kept). */
function post(url: URL, body: string, headers: Record<string, string>, agent: http.Agent, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text.length < 4096) text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: text.slice(0, 4096) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export class MesosClient {
  /** The framework id the master gave (or confirmed) in the last SUBSCRIBED. */
  frameworkId?: string;
  private streamId?: string;
  /** Base URL of the master holding the subscription: every call goes there. */
  private leader?: URL;
  private conn = 0;
  private request?: http.ClientRequest;
  private watchdog?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private delay: number;
  private heartbeatMs = 15_000;
  private next = 0;
  private stopped = true;
  private readonly calls = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(private readonly o: MesosClientOptions) {
    this.delay = o.reconnectMs ?? 1000;
  }

  get subscribed(): boolean {
    return this.streamId !== undefined;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.subscribeNext();
  }

  /** Drop the subscription and stop; the framework stays registered (failover_timeout). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.drop();
    this.calls.destroy();
  }

  /** Send a call on behalf of the subscribed framework; resolves on 202 (or 200). */
  async call(call: Call): Promise<void> {
    const streamId = this.streamId;
    if (streamId === undefined || !this.leader || !this.frameworkId) throw new MesosCallError(`${call.type}: not subscribed to a Mesos master`);
    const body = JSON.stringify({ framework_id: { value: this.frameworkId }, ...call });
    let url = new URL(SCHEDULER_PATH, this.leader);
    for (let hop = 0; ; hop++) {
      const r = await post(url, body, { 'Mesos-Stream-Id': streamId }, this.calls, this.o.timeoutMs ?? 10_000).catch((e: Error) => {
        throw new MesosCallError(`${call.type}: ${e.message}`);
      });
      if (r.status === 202 || r.status === 200) return;
      if (r.status === 307 && r.location && hop < (this.o.maxRedirects ?? 5)) {
        url = new URL(r.location, url);
        continue;
      }
      throw new MesosCallError(`${call.type}: master answered ${r.status}${r.body.trim() ? `: ${r.body.trim()}` : ''}`, r.status);
    }
  }

  /** Subscribe to the master `locate` names now; a failure to name one is retried like a refusal. */
  private subscribeNext(): void {
    if (this.stopped) return;
    const conn = this.conn;
    this.o.locate(this.next).then(
      (m) => {
        if (conn !== this.conn || this.stopped) return;
        let url: URL;
        try {
          url = new URL(`http://${m}${SCHEDULER_PATH}`);
        } catch {
          this.o.log(`mesos: ${JSON.stringify(m)} is not a master's host:port; asking again`);
          return this.again(true);
        }
        this.subscribe(url, 0);
      },
      (e: Error) => {
        if (conn !== this.conn || this.stopped) return;
        this.o.log(`mesos: ${e.message}; asking again`);
        this.again(true);
      },
    );
  }

  private subscribe(url: URL, redirects: number): void {
    if (this.stopped) return;
    const conn = ++this.conn;
    const info = this.o.frameworkInfo();
    const body = JSON.stringify({
      type: 'SUBSCRIBE',
      ...(info.id ? { framework_id: info.id } : {}),
      subscribe: { framework_info: info },
    });
    const timeoutMs = this.o.timeoutMs ?? 10_000;
    // Its own connection: the stream holds it for as long as it lives.
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', Accept: 'application/json', Connection: 'close' } });
    this.request = req;
    this.arm(conn, timeoutMs, `no SUBSCRIBED from ${url.host} within ${timeoutMs} ms`);
    req.on('error', (e) => this.lost(conn, `${url.host}: ${e.message}`, true));
    req.on('response', (res) => {
      if (conn !== this.conn) return void res.resume();
      const status = res.statusCode ?? 0;
      if (status === 307) {
        res.resume();
        const location = res.headers.location;
        if (!location || redirects >= (this.o.maxRedirects ?? 5)) return this.lost(conn, `${url.host} redirected ${location ? 'too often' : 'without a Location'}`, true);
        const to = new URL(location, url);
        this.o.log(`mesos: ${url.host} is not the leading master; following to ${to.host}`);
        this.request = undefined;
        this.subscribe(to, redirects + 1);
        return;
      }
      if (status !== 200) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => this.lost(conn, `${url.host} answered SUBSCRIBE with ${status}${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`, true));
        return;
      }
      const streamId = res.headers['mesos-stream-id'];
      const decoder = new RecordIODecoder();
      res.on('data', (chunk: Buffer) => {
        if (conn !== this.conn) return;
        let records: string[];
        try {
          records = decoder.push(chunk);
        } catch (e) {
          return this.lost(conn, `${url.host}: ${(e as Error).message}`, true);
        }
        for (const rec of records) {
          if (conn !== this.conn) return;
          let ev: MesosEvent;
          try {
            ev = JSON.parse(rec) as MesosEvent;
          } catch {
            return this.lost(conn, `${url.host}: an event is not JSON`, true);
          }
          this.onRecord(conn, url, ev, typeof streamId === 'string' ? streamId : undefined);
        }
      });
      res.on('end', () => this.lost(conn, `${url.host} closed the event stream`, false));
      res.on('error', (e) => this.lost(conn, `${url.host}: ${e.message}`, false));
      res.on('close', () => this.lost(conn, `${url.host} closed the event stream`, false));
    });
    req.end(body);
  }

  private onRecord(conn: number, url: URL, ev: MesosEvent, streamId: string | undefined): void {
    if (ev.type === 'SUBSCRIBED') {
      this.frameworkId = ev.subscribed.framework_id.value;
      this.streamId = streamId ?? '';
      this.leader = new URL('/', url);
      this.heartbeatMs = Math.max(0.05, ev.subscribed.heartbeat_interval_seconds ?? 15) * 1000;
      this.delay = this.o.reconnectMs ?? 1000;
      this.o.log(`mesos: subscribed to ${url.host} as framework ${this.frameworkId} (heartbeat ${this.heartbeatMs / 1000} s)`);
    }
    if (this.streamId !== undefined) {
      const ms = this.heartbeatMs * (this.o.heartbeatFactor ?? 2);
      this.arm(conn, ms, `no event from ${url.host} for ${ms} ms (missed heartbeats)`);
    }
    try {
      this.o.onEvent(ev);
    } catch (e) {
      this.o.log(`mesos: handling ${ev.type} failed: ${(e as Error).stack ?? String(e)}`);
    }
    if (ev.type === 'ERROR') this.lost(conn, `master error: ${ev.error.message}`, true);
  }

  private arm(conn: number, ms: number, why: string): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.lost(conn, why, false), ms);
  }

  /** The subscription `conn` ended: forget it and subscribe again (after a backoff if failed). */
  private lost(conn: number, why: string, failed: boolean): void {
    if (conn !== this.conn) return;
    const wasSubscribed = this.subscribed;
    this.drop();
    if (this.stopped) return;
    this.o.log(`mesos: ${why}; subscribing again`);
    if (wasSubscribed) this.o.onDisconnect?.(why);
    this.again(failed || !wasSubscribed);
  }

  /** A master that cannot be reached or refuses: try the next one, with a growing delay. A
   * stream that was fine until it stopped: subscribe again at once. */
  private again(backoff: boolean): void {
    let wait = 0;
    if (backoff) {
      this.next++;
      wait = this.delay;
      this.delay = Math.min(this.delay * 2, this.o.maxReconnectMs ?? 15_000);
    }
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.subscribeNext(), wait);
  }

  private drop(): void {
    this.conn++;
    clearTimeout(this.watchdog);
    this.streamId = undefined;
    this.leader = undefined;
    const r = this.request;
    this.request = undefined;
    r?.destroy();
  }
}
