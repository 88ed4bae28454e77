// The monitoring components' vars and inventory rules: node-exporter on every host, redis-exporter
// on the cache hosts, prometheus where server.prometheus says. Ports are each on the host's own
// address.
import type { ComponentRules } from './rules.js';
import { port, text } from './vars.js';

const duration = (example: string) => text(/^[1-9][0-9]*(ms|s|m|h|d|w|y)$/, 'a Prometheus duration like "15s", "15d"', `"${example}"`);

export const NODE_EXPORTER_RULES: ComponentRules = { vars: { node_exporter_port: port(9100) }, ports: ['node_exporter_port'] };
export const REDIS_EXPORTER_RULES: ComponentRules = { vars: { redis_exporter_port: port(9121) }, ports: ['redis_exporter_port'] };
export const ALERTMANAGER_RULES: ComponentRules = {
  vars: {
    alertmanager_port: port(9093),
    // Where alerts go: a webhook (a chat bridge, a pager's integration); none, and they stay in Alertmanager.
    alertmanager_webhook_url: text(/^https?:\/\/[A-Za-z0-9.:\[\]_-]+(\/[A-Za-z0-9._~\/%?&=+-]*)?$/, 'an http(s) URL', '"https://pager.example.com/hooks/ovl"'),
    alertmanager_group_wait: duration('30s'),
  },
  ports: ['alertmanager_port'],
};

export const PROMETHEUS_RULES: ComponentRules = {
  vars: {
    prometheus_port: port(9090),
    prometheus_retention: duration('15d'),
    prometheus_scrape_interval: duration('15s'),
    // Read by prometheus from every host's settings: where each host's exporters listen.
    node_exporter_port: port(9100),
    redis_exporter_port: port(9121),
    alertmanager_port: port(9093),
    etcd_metrics_port: port(2381),
    // Where the team's Grafana is: `ovl cluster show` links to the cluster's dashboard there.
    grafana_url: text(/^https?:\/\/[A-Za-z0-9.:\[\]_-]+(\/[A-Za-z0-9._~\/%-]*)?$/, 'an http(s) URL', '"https://grafana.example.com"'),
  },
  ports: ['prometheus_port'],
};
