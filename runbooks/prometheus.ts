// Prometheus (Debian's prometheus package) on the hosts of server.prometheus: its config, ovl's alert
// rules and the scrape targets under /data/prometheus, data in /data/prometheus/data (retention a
// var), listening on the host's own address. A change of config or rules reloads it (SIGHUP): its
// data and scrapes go on. The targets follow etcd (src/monitoring/sync.ts): written here, and again
// after every task of the scheduler and by `ovl monitoring sync`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runbook } from '../src/engine/runbook.js';
import { hostsOf, type HostSpec, type Inventory } from '../src/inventory/types.js';
import { aptPackage } from '../src/ops/command.js';
import { directories, file, template } from '../src/ops/files.js';
import { reloadHandler, restartHandler, service, type ServiceSpec } from '../src/ops/service.js';
import { waitFor } from '../src/ops/wait.js';
import { templatesDir } from '../src/paths.js';
import { etcdAccess, withEtcd } from '../src/state/etcd.js';
import { NODE_TARGETS, nodeTargets, exporterOf, targetFile, TARGETS_DIR } from '../src/monitoring/targets.js';
import { emptyView, fleetView, followedTargets, targetOps } from '../src/monitoring/sync.js';
import { nodeExporterPort } from '../src/monitoring/exporter.js';
import { answers, packageServiceOff } from './exporters.js';
import { PROMETHEUS_RULES } from './settings/monitoring.js';
import { readVar } from './settings/vars.js';

export const PROMETHEUS_DIR = '/data/prometheus';
const DATA_DIR = `${PROMETHEUS_DIR}/data`;
const RULES_DIR = `${PROMETHEUS_DIR}/rules`;
const CONFIG = `${PROMETHEUS_DIR}/prometheus.yml`;
const LOG_DIR = '/data/log/prometheus';

const setting = <T extends string | number>(h: HostSpec, inv: Inventory, name: string, dflt: T): T => readVar<T>(PROMETHEUS_RULES.vars, h, inv, name, dflt)!;
export const prometheusListen = (h: HostSpec, inv: Inventory) => `${h.address}:${setting(h, inv, 'prometheus_port', 9090)}`;

function spec(h: HostSpec, inv: Inventory): ServiceSpec {
  return {
    name: 'prometheus',
    command: [
      '/usr/bin/prometheus',
      `--config.file=${CONFIG}`,
      `--storage.tsdb.path=${DATA_DIR}`,
      `--storage.tsdb.retention.time=${setting(h, inv, 'prometheus_retention', '15d')}`,
      `--web.listen-address=${prometheusListen(h, inv)}`,
    ],
    dir: PROMETHEUS_DIR,
    log: `${LOG_DIR}/prometheus.log`,
  };
}

const ready = (listen: string) => answers(`http://${listen}/-/ready`);

interface Shared {
  /** The target files that follow etcd (Redis, memcache, the schedulers), as etcd says now. */
  followed: [string, string][];
  node: string;
  rules: string;
}

export const prometheus: Runbook<Shared> = {
  name: 'prometheus',
  summary: "Prometheus on the host's address: ovl's alert rules, targets that follow etcd, data under /data/prometheus",
  async prepare(comp) {
    const view = await withEtcd(etcdAccess(comp.inv), fleetView).catch((e: Error) => {
      // A fresh fleet being checked has no etcd yet: no cluster, no target.
      if (comp.check) return emptyView();
      throw new Error(`etcd does not answer, so the scrape targets cannot be read: ${e.message}`);
    });
    const nodes = hostsOf(comp.inv, 'node-exporter');
    return {
      followed: followedTargets(comp.inv, view).files,
      node: targetFile(nodeTargets(nodes, exporterOf(nodes, nodeExporterPort))),
      rules: readFileSync(join(templatesDir, 'prometheus', 'ovl.rules.yml'), 'utf8'),
    };
  },
  host(h, comp, shared) {
    const s = spec(h.host, comp.inv);
    const reload = { notify: ['reload'] };
    return {
      operations: [
        aptPackage('prometheus'),
        packageServiceOff('prometheus.service', h),
        directories([PROMETHEUS_DIR, DATA_DIR, RULES_DIR, TARGETS_DIR, LOG_DIR], { mode: 0o755 }),
        template(CONFIG, 'prometheus/prometheus.yml.hbs', {
          host: h.host.name,
          listen: prometheusListen(h.host, comp.inv),
          scrapeInterval: setting(h.host, comp.inv, 'prometheus_scrape_interval', '15s'),
          rulesDir: RULES_DIR,
          targetsDir: TARGETS_DIR,
          alertmanagers: hostsOf(comp.inv, 'alertmanager').map((a) => `${a.address}:${setting(a, comp.inv, 'alertmanager_port', 9093)}`),
          etcd: hostsOf(comp.inv, 'etcd').map((e) => ({ target: `${e.address}:${setting(e, comp.inv, 'etcd_metrics_port', 2381)}`, host: e.name })),
        }, { mode: 0o644, ...reload }),
        file(`${RULES_DIR}/ovl.rules.yml`, shared.rules, { mode: 0o644, ...reload }),
        file(NODE_TARGETS, shared.node, { mode: 0o644 }),
        ...targetOps(shared.followed),
        ...service(s, h, 'restart'),
      ],
      handlers: { restart: restartHandler(s, h), reload: reloadHandler(s, h.facts.systemd) },
    };
  },
  after: (h, comp) => [waitFor(`prometheus ready on ${prometheusListen(h.host, comp.inv)}`, () => ready(prometheusListen(h.host, comp.inv)), 60_000, `${LOG_DIR}/prometheus.log`)],
};
