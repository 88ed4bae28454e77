import { COMPONENTS } from '../../runbooks/components.js';
import { loadInventory, type LoadOptions } from './load.js';
import type { Inventory } from './types.js';

/** An inventory whose components are ovl's (checked by name: no runbook is loaded). */
export function loadFleet(path: string, opts: Omit<LoadOptions, 'knownComponents'> = {}): Inventory {
  return loadInventory(path, { ...opts, knownComponents: [...COMPONENTS] });
}
