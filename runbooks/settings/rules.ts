// What a runbook tells the inventory loader about its component, besides its vars: how many
// members it may have, which artifacts it needs, which binaries an artifact must hold, which ports
// it listens on. The loader (src/inventory/check/rules.ts) applies them before any connection,
// with file:line:col; a new component declares its rules here instead of in the loader.
import type { ArtifactType, HostSpec } from '../../src/inventory/types.js';
import type { VarSpecs } from './vars.js';

/** A problem a rule found, reported at the component's entry (its line in `components:`). */
export interface RuleProblem {
  message: string;
  fix: string;
}

export interface ComponentRules {
  /** The vars its runbook reads: each checked wherever it is set. */
  vars: VarSpecs;
  /** A problem with the number of hosts in `server.<component>`, if any. */
  members?: (count: number) => RuleProblem | undefined;
  /** At least one artifact of these types must be listed; the fix shows one. */
  artifacts?: { anyOf: ArtifactType[]; example: string };
  /** Binaries an artifact of a type must provide (checked whenever such an artifact is listed). */
  binaries?: Partial<Record<ArtifactType, string>>;
  /** Port vars it listens on: different from each other, outside cache_ports on its hosts. */
  ports?: string[];
  /** Anything else, given the hosts that run it (resolved vars) and the artifacts listed. */
  check?: (view: { component: string; hosts: HostSpec[]; hasArtifact: (t: ArtifactType) => boolean }) => RuleProblem[];
}

/** ZooKeeper and other quorum systems: a majority of an even count tolerates no more than one less. */
export const oddMembers =
  (what: string, component: string) =>
  (count: number): RuleProblem | undefined =>
    count > 0 && count % 2 === 0
      ? { message: `${what} needs an odd number of members (1, 3 or 5); server.${component} lists ${count}`, fix: `add or remove one host in server.${component}` }
      : undefined;
