// The structured view of one simple command that rules match on.

/**
 * How a command was reached or disguised. Name markers (`ansi_c`, `quote_splice`, `ifs`, `variable_command`)
 * describe the command word itself; the others are inherited from the context the command was found in.
 */
export type Marker =
  | "ansi_c" // $'\x72\x6d'
  | "quote_splice" // r''m, "r"m, \rm
  | "ifs" // rm${IFS}-rf
  | "variable_command" // cmd=rm; $cmd
  | "expansion_trick" // ${HOME:0:0}rm, ${!x}
  | "nested_shell" // bash -c '…', sh <<EOF, su -c
  | "eval"
  | "pipe_program" // a shell/interpreter read this program from a pipe
  | "heredoc_program"
  | "written_script" // echo '…' > x.sh && bash x.sh
  | "base64" // payload was base64-decoded
  | "hex" // xxd -r -p
  | "printf_escape" // printf '\x72…'
  | "interpreter" // os.system('…'), execSync('…')
  | "remote" // ssh host '…', docker exec, kubectl exec
  | "find_exec"
  | "xargs"
  | "read_loop" // the body of `… | while read x`: its arguments come from the input, as xargs' do
  | "alias"
  | "trap"
  | "watch"
  | "function_body"
  | "fork_bomb"
  | "runs_download" // executes a file fetched earlier in the same script
  | "dynamic_program"; // bash -c / eval / su -c with a program that is not statically known

export interface RedirectInfo {
  readonly op: string;
  readonly fd?: number;
  readonly target: string;
  readonly known: boolean;
}

export interface InlineCode {
  readonly lang: "python" | "node" | "perl" | "ruby" | "php" | "awk" | "sql" | "mongo";
  readonly text: string;
}

export interface SimpleCommand {
  /** Source text of the command as written (wrappers included). */
  readonly text: string;
  /** Basename of the executed program after unwrapping (`/usr/bin/sudo rm` → `rm`); "" if none. */
  readonly name: string;
  /** The command word as resolved, before taking the basename (for `./tmp/x`-style execution). */
  readonly path: string;
  /** False when the command position is not statically known (`$cmd`, `$(…)`). */
  readonly nameKnown: boolean;
  /** Arguments after unwrapping, best-effort resolved (unknown parts keep their `$VAR` / `$(…)` text). */
  readonly args: string[];
  readonly argKnown: boolean[];
  readonly redirects: RedirectInfo[];
  /** Assignments in effect for this command: prefix `VAR=1`, `env VAR=1`, `export VAR=1`. */
  readonly assigns: { name: string; value: string }[];
  /** Parameter names referenced in arguments and redirections. */
  readonly vars: string[];
  /** Names of commands whose output is spliced into arguments or redirections (`$(…)`, `<(…)`). */
  readonly argSources: string[];
  /** Wrappers removed from the front: sudo, env, timeout, xargs, … */
  readonly wrappers: string[];
  readonly markers: Set<Marker>;
  /** Names of all commands earlier / later in the same pipeline. */
  readonly upstream: string[];
  readonly downstream: string[];
  /** What feeds stdin when statically known (here-doc, here-string, literal piped in). */
  readonly stdinText?: string;
  /** This command reads a program from stdin (a shell or interpreter with no script argument). */
  readonly stdinProgram: boolean;
  /** Inline program text (`python -c`, `psql -c`, here-doc into an interpreter). */
  readonly code?: InlineCode;
  /** Flags (`-rf` → `-rf`, `-r`, `-f`), option values and positionals of `args`. */
  readonly flags: Set<string>;
  readonly options: Map<string, string[]>;
  readonly positionals: string[];
  /** Files read / written, normalized (`~` for home). */
  readonly reads: string[];
  readonly writes: string[];
  readonly depth: number;
}
