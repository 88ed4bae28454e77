import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { templatesDir } from './paths.js';

// Rendered files are config formats, not HTML: no escaping. Values that need it are
// validated where they enter (inventory, cluster requests).
const hb = Handlebars.create();
hb.registerHelper('join', (list: unknown[], sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ',') : ''));
hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);

const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Render templates/<name> (e.g. "etcd.conf.yml.hbs") with the given context. */
export function render(name: string, context: object): string {
  let tpl = cache.get(name);
  if (!tpl) {
    tpl = hb.compile(readFileSync(join(templatesDir, name), 'utf8'), { noEscape: true, strict: true });
    cache.set(name, tpl);
  }
  return tpl(context);
}
