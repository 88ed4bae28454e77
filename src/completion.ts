// `ovl completion bash|zsh`: a completion script made from the command tree itself (commander has
// none of its own), so a new command or option completes without anyone editing the script.
import type { Command } from 'commander';
import { commandPath } from './cli-examples.js';

function nodes(c: Command): Command[] {
  return [c, ...c.commands.flatMap(nodes)];
}

const words = (xs: string[]) => xs.join(' ');

/** The bash function: the words typed so far (options left out) pick the node; its subcommands,
 * or a leaf's options, are offered; after a leaf's options, files (inventories, snapshots). */
export function bashCompletion(program: Command): string {
  const cases = nodes(program).map((c) => {
    const path = commandPath(c);
    if (c.commands.length) return `    "${path}") COMPREPLY=($(compgen -W "${words(c.commands.map((s) => s.name()))}" -- "$cur"));;`;
    const opts = c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x));
    return `    "${path}"|"${path} "*) if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${words([...opts, '--help'])}" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi;;`;
  });
  return `# bash completion for ovl: source <(ovl completion bash), or save it under /etc/bash_completion.d/ovl
_ovl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in -*) ;; *) path="\${path:+$path }$w";; esac
  done
  case "$path" in
${cases.join('\n')}
  esac
}
complete -o filenames -F _ovl ovl
`;
}

/** zsh runs the bash function through bashcompinit. */
export const zshCompletion = (program: Command) => `# zsh completion for ovl: source <(ovl completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split('\n').slice(1).join('\n')}`;
