// Alertmanager (Debian's prometheus-alertmanager) on the hosts of server.alertmanager, on the host's
// own address: Prometheus sends it the alerts of ovl's rules, it sends them on to the receiver the
// inventory names (alertmanager_webhook_url). Several hosts form one Alertmanager cluster (gossip
// on port + 1), so an alert is sent once. A change of its config reloads it (SIGHUP).
import type { Runbook } from '../src/engine/runbook.js';
import { hostsOf, type HostSpec, type Inventory } from '../src/inventory/types.js';
import { aptPackage } from '../src/ops/command.js';
import { directories, template } from '../src/ops/files.js';
import { reloadHandler, restartHandler, service, type ServiceSpec } from '../src/ops/service.js';
import { waitFor } from '../src/ops/wait.js';
import { answers, packageServiceOff } from './exporters.js';
import { ALERTMANAGER_RULES } from './settings/monitoring.js';
import { readVar } from './settings/vars.js';

const DIR = '/data/alertmanager';
const DATA_DIR = `${DIR}/data`;
const CONFIG = `${DIR}/alertmanager.yml`;
const LOG_DIR = '/data/log/alertmanager';

const setting = <T extends string | number>(h: HostSpec, inv: Inventory, name: string, dflt?: T): T | undefined => readVar<T>(ALERTMANAGER_RULES.vars, h, inv, name, dflt);
const port = (h: HostSpec, inv: Inventory) => setting(h, inv, 'alertmanager_port', 9093)!;
export const alertmanagerListen = (h: HostSpec, inv: Inventory) => `${h.address}:${port(h, inv)}`;
const gossip = (h: HostSpec, inv: Inventory) => `${h.address}:${port(h, inv) + 1}`;

function spec(h: HostSpec, inv: Inventory): ServiceSpec {
  const peers = hostsOf(inv, 'alertmanager').filter((x) => x.name !== h.name);
  return {
    name: 'alertmanager',
    command: [
      '/usr/bin/prometheus-alertmanager',
      `--config.file=${CONFIG}`,
      `--storage.path=${DATA_DIR}`,
      `--web.listen-address=${alertmanagerListen(h, inv)}`,
      // Alone, no gossip listener at all; with others, one cluster.
      `--cluster.listen-address=${peers.length ? gossip(h, inv) : ''}`,
      ...peers.map((p) => `--cluster.peer=${gossip(p, inv)}`),
    ],
    dir: DIR,
    log: `${LOG_DIR}/alertmanager.log`,
  };
}

const ready = (listen: string) => answers(`http://${listen}/-/ready`);

export const alertmanager: Runbook = {
  name: 'alertmanager',
  summary: "Alertmanager on the host's address, sending ovl's alerts to alertmanager_webhook_url (Debian's prometheus-alertmanager)",
  host(h, comp) {
    const s = spec(h.host, comp.inv);
    return {
      operations: [
        aptPackage('prometheus-alertmanager'),
        packageServiceOff('prometheus-alertmanager.service', h),
        directories([DIR, DATA_DIR, LOG_DIR], { mode: 0o755 }),
        template(CONFIG, 'prometheus/alertmanager.yml.hbs', {
          host: h.host.name,
          webhook: setting<string>(h.host, comp.inv, 'alertmanager_webhook_url'),
          groupWait: setting(h.host, comp.inv, 'alertmanager_group_wait', '30s'),
        }, { mode: 0o600, secret: true, notify: ['reload'] }),
        ...service(s, h, 'restart'),
      ],
      handlers: { restart: restartHandler(s, h), reload: reloadHandler(s, h.facts.systemd) },
    };
  },
  after: (h, comp) => [waitFor(`alertmanager ready on ${alertmanagerListen(h.host, comp.inv)}`, () => ready(alertmanagerListen(h.host, comp.inv)), 60_000, `${LOG_DIR}/alertmanager.log`)],
};
