/** What a CLI command gets from the outside world; tests pass their own. Only the CLI prints or exits. */
export interface CliIO {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly isTTY: boolean;
}

/** Exit codes: 0 ok, 1 a step (or a command's work) failed, 2 usage or spec error, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A subcommand: argv after the subcommand name → exit code. Never throws for user errors. */
export type Command = (argv: readonly string[], io: CliIO) => Promise<ExitCode>;
