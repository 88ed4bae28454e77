import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type HandlebarsNS from 'handlebars';
import { templatesDir } from './paths.js';

// Handlebars is loaded when a first template is rendered: most commands (list, show, check)
// render none, and loading it was a tenth of their start-up.
let hb: typeof HandlebarsNS | undefined;
function handlebars(): typeof HandlebarsNS {
  if (!hb) {
    hb = (createRequire(import.meta.url)('handlebars') as typeof HandlebarsNS).create();
    // Rendered files are config formats, not HTML: no escaping. Values that need it are
    // validated where they enter (inventory, cluster requests).
    hb.registerHelper('join', (list: unknown[], sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ',') : ''));
    hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  }
  return hb;
}

const cache = new Map<string, HandlebarsNS.TemplateDelegate>();

/** Render templates/<name> (e.g. "etcd.conf.yml.hbs") with the given context. */
export function render(name: string, context: object): string {
  let tpl = cache.get(name);
  if (!tpl) {
    tpl = handlebars().compile(readFileSync(join(templatesDir, name), 'utf8'), { noEscape: true, strict: true });
    cache.set(name, tpl);
  }
  return tpl(context);
}
