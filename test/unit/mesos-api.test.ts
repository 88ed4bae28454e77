// The Mesos v1 scheduler API client (src/mesos/api.ts): RecordIO framing cut anywhere, and the
// subscription against local HTTP servers playing masters: a master with no leader (503) makes
// the client try the next one, calls carry Mesos-Stream-Id and framework_id and fail loudly on
// 4xx, and a stream the master closes is subscribed again as a failover.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import { MesosCallError, MesosClient, RecordIODecoder, recordIO, type MesosEvent } from '../../src/mesos/api.js';
import { leadingMember, masterAddress, masterLocator, parseMasterSpec } from '../../src/mesos/leader.js';

test('RecordIO: records cut at every byte, UTF-8 split inside characters, several records per chunk', () => {
  const events = [{ type: 'HEARTBEAT' }, { type: 'ERROR', error: { message: 'é字🙂 déjà' } }, { type: 'OFFERS', offers: { offers: [] } }];
  const wire = Buffer.from(events.map(recordIO).join(''));
  const want = events.map((e) => JSON.stringify(e));
  for (let size = 1; size <= wire.length; size++) {
    const d = new RecordIODecoder();
    const got: string[] = [];
    for (let i = 0; i < wire.length; i += size) got.push(...d.push(wire.subarray(i, i + size)));
    assert.deepEqual(got, want, `chunks of ${size} bytes`);
  }
  assert.throws(() => new RecordIODecoder().push(Buffer.from('12x\n{}')), /bad record length/);
  assert.throws(() => new RecordIODecoder().push(Buffer.from('1'.repeat(25))), /no record length/);
  assert.throws(() => new RecordIODecoder(10).push(Buffer.from('11\n')), /over the 10 byte limit/);
});

const servers: http.Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: (body: any, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<string> {
  const s = http.createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => handler(JSON.parse(text || '{}'), req, res));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(s.address() as { port: number }).port}`;
}

const waitFor = async (what: string, cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('client: next master after a 503, stream id and framework id on calls, 4xx refused, resubscribe as failover', async () => {
  const noLeader: string[] = [];
  const subscribes: any[] = [];
  const calls: { body: any; streamId: unknown }[] = [];
  const streams: http.ServerResponse[] = [];
  const a = await serve((body, _req, res) => {
    noLeader.push(body.type);
    res.writeHead(503).end('No leader elected');
  });
  const b = await serve((body, req, res) => {
    if (body.type === 'SUBSCRIBE') {
      subscribes.push(body);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Mesos-Stream-Id': `stream-${subscribes.length}` });
      res.write(recordIO({ type: 'SUBSCRIBED', subscribed: { framework_id: { value: 'fw-1' }, heartbeat_interval_seconds: 5 } }));
      streams.push(res);
      return;
    }
    calls.push({ body, streamId: req.headers['mesos-stream-id'] });
    if (body.type === 'TEARDOWN') return void res.writeHead(403).end('Not authorized');
    res.writeHead(202).end();
  });
  const events: MesosEvent[] = [];
  const disconnects: string[] = [];
  const client: MesosClient = new MesosClient({
    locate: masterLocator({ masters: [a, b] }),
    frameworkInfo: () => ({ user: 'root', name: 'ovl', ...(client.frameworkId ? { id: { value: client.frameworkId } } : {}) }),
    onEvent: (e) => events.push(e),
    onDisconnect: (why) => disconnects.push(why),
    log: () => {},
    reconnectMs: 20,
  });
  try {
    await assert.rejects(client.call({ type: 'REVIVE' }), MesosCallError);
    client.start();
    await waitFor('SUBSCRIBED', () => client.subscribed);
    assert.deepEqual(noLeader, ['SUBSCRIBE']);
    assert.equal(subscribes[0].framework_id, undefined);
    assert.equal(client.frameworkId, 'fw-1');

    await client.call({ type: 'REVIVE' });
    assert.deepEqual(calls.at(-1), { body: { framework_id: { value: 'fw-1' }, type: 'REVIVE' }, streamId: 'stream-1' });
    await assert.rejects(client.call({ type: 'TEARDOWN' }), (e: MesosCallError) => e.status === 403 && /Not authorized/.test(e.message));

    // The master ends the stream: subscribe again at once, as the same framework.
    streams[0]!.end();
    await waitFor('a second SUBSCRIBE', () => subscribes.length === 2 && client.subscribed);
    assert.equal(disconnects.length, 1);
    assert.deepEqual(subscribes[1].framework_id, { value: 'fw-1' });
    assert.deepEqual(subscribes[1].subscribe.framework_info.id, { value: 'fw-1' });
    await client.call({ type: 'SUPPRESS' });
    assert.equal(calls.at(-1)!.streamId, 'stream-2');
    assert.equal(events.filter((e) => e.type === 'SUBSCRIBED').length, 2);
  } finally {
    client.close();
  }
});

test('leader: the lowest json.info_ sequence leads; its address from MasterInfo; the forms of scheduler.mesos_master', () => {
  // What Mesos 1.12 masters write under their ZooKeeper path (log_replicas are the replicated log's).
  assert.equal(leadingMember(['log_replicas', 'json.info_0000000012', 'json.info_0000000003', 'json.info_0000000010']), 'json.info_0000000003');
  assert.equal(leadingMember(['log_replicas']), undefined);
  const info = { address: { hostname: 'm2', ip: '127.0.12.2', port: 5050 }, hostname: 'm2', id: 'x', pid: 'master@127.0.12.2:5050', port: 5050 };
  assert.equal(masterAddress(JSON.stringify(info)), '127.0.12.2:5050');
  assert.equal(masterAddress(JSON.stringify({ pid: 'master@10.0.0.9:5051' })), '10.0.0.9:5051');
  assert.equal(masterAddress('not json'), undefined);
  assert.equal(masterAddress(JSON.stringify({ address: { ip: '::1', port: 5050 } })), undefined, 'nothing a URL cannot hold');
  assert.deepEqual(parseMasterSpec('zk://10.0.0.1:2181,10.0.0.2:2181/mesos'), { zk: { servers: '10.0.0.1:2181,10.0.0.2:2181', path: '/mesos' } });
  assert.deepEqual(parseMasterSpec('10.0.0.1:5050,m2:5050'), { masters: ['10.0.0.1:5050', 'm2:5050'] });
  for (const bad of ['zk://10.0.0.1:2181', 'zk://10.0.0.1/mesos', 'zk://10.0.0.1:2181/me sos', 'zk://10.0.0.1:2181/mesos/..', '10.0.0.1', '10.0.0.1:5050;reboot', '300.0.0.1:5050']) {
    assert.ok('problem' in parseMasterSpec(bad), bad);
  }
});
