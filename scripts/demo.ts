// The main job on a local sandbox: three real hosts, bootstrapped, then told how to reach them.
import { $ } from 'zx';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';

$.verbose = true;
const ovl = ['node', 'bin/ovl.js'];
const inventory = 'inventories/sandbox.yml';

await $`${ovl} sandbox up --hosts 3 --name sandbox --net 127.0.1 --inventory ${inventory}`;
await $`${ovl} bootstrap ${inventory}`;
// A running Redis Cluster: 3 masters, 1 replica each (again: it is there already, nothing to do).
const listed = await $`${ovl} cluster list --json -i ${inventory}`.quiet();
if (!(JSON.parse(listed.stdout) as { name: string }[]).some((c) => c.name === 'demo')) {
  await $`${ovl} cluster create demo --type redis_cluster --masters 3 --replicas 1 --maxmemory 64mb --wait -i ${inventory}`;
}
await $`${ovl} cluster check demo -i ${inventory}`;
const shown = JSON.parse((await $`${ovl} cluster show demo --json -i ${inventory}`.quiet()).stdout) as { instances: { address: string; port: number; role: string }[] };
const master = shown.instances.find((i) => i.role === 'master')!;

const inv = parse(readFileSync(inventory, 'utf8')) as { hosts: { name: string; address: string }[]; server: { etcd: string[] } };
const etcd = inv.hosts.filter((h) => inv.server.etcd.includes(h.name)).map((h) => `https://${h.address}:2379`);
// etcd answers only to a client certificate of the fleet CA, kept beside the inventory.
const pki = 'inventories/sandbox.pki';
const etcdctl = `ETCDCTL_API=3 etcdctl --cacert ${pki}/ca.crt --cert ${pki}/client.crt --key ${pki}/client.key`;
console.log(`
redis:       redis-cli -c -h ${master.address} -p ${master.port}        (cluster "demo": ovl cluster show demo -i ${inventory})
etcd:        ${etcdctl} --endpoints=${etcd.join(',')} endpoint health
fleet state: ${etcdctl} --endpoints=${etcd[0]} get --prefix /overlord/fleet/hosts/
snapshot:    node bin/ovl.js etcd snapshot -i ${inventory}
a host:      ssh -i /var/lib/ovl-sandbox/sandbox/fleet_key -o UserKnownHostsFile=inventories/sandbox.known_hosts root@${inv.hosts[0]!.address}
again:       node bin/ovl.js bootstrap ${inventory}     (changes nothing)
stop it all: node bin/ovl.js sandbox down --name sandbox`);
