/**
 * Random pipelines for the runtime fuzzer: a DAG of `run:` steps (files and directories, matrix,
 * `cache: false`, `persist`, params), each running tools/step.sh, which writes into every output a
 * record of what it consumed (the SHA-256 of each input, read when it ran). The checker compares those
 * records with the workspace, independently of anything the runtime records.
 */
import type { Rng } from './rng.js';

export interface FuzzOptions {
  /** Steps may append random bytes to their outputs (the provenance-key bug of issue 20 shows up then). */
  readonly nondeterminism: boolean;
  /** Outputs may be `cache: false` (hashed and recorded by the runtime, never stored). */
  readonly uncachedOutputs: boolean;
  /** Two runs at once with different --set. */
  readonly concurrentRuns: boolean;
  /** Most step instances a scenario has (at least 10). */
  readonly maxSteps: number;
}

export interface InputRef {
  readonly path: string;
  readonly dir: boolean;
  /** Instance id of the step producing it; null for a source file of the project. */
  readonly from: string | null;
}

export interface OutputDecl {
  readonly path: string;
  readonly dir: boolean;
  readonly cache: boolean;
  readonly persist: boolean;
}

export interface Instance {
  readonly id: string;
  readonly step: string;
  readonly nondet: boolean;
  /** The param this instance's command interpolates, if any. */
  readonly param: 'a' | 'b' | null;
  /** Step-level `cache: false`: always runs, never fresh. */
  readonly alwaysRuns: boolean;
  readonly ins: readonly InputRef[];
  readonly outs: readonly OutputDecl[];
}

export interface Scenario {
  readonly instances: readonly Instance[];
  readonly sources: readonly InputRef[];
  /** The pipeline file's text (pipelines/x.yaml). */
  readonly yaml: string;
}

/** The params every scenario declares; concurrent runs and `--set` vary them. */
export const PARAMS = ['a', 'b'] as const;
export type Config = Readonly<Record<(typeof PARAMS)[number], number>>;
export const DEFAULT_CONFIG: Config = { a: 1, b: 1 };

export const PIPELINE_FILE = 'pipelines/x.yaml';
export const LOCK_FILE = 'pipelines/x.lock';
export const STEP_SCRIPT = 'tools/step.sh';

const SOURCES: readonly InputRef[] = [
  { path: 'data/src0.txt', dir: false, from: null },
  { path: 'data/src1.txt', dir: false, from: null },
  { path: 'data/srcdir', dir: true, from: null },
];

interface StepDraft {
  readonly name: string;
  readonly matrix: readonly string[] | null;
  readonly nondet: boolean;
  readonly param: 'a' | 'b' | null;
  readonly alwaysRuns: boolean;
  readonly delay: string;
  readonly ins: readonly InputRef[];
  readonly outs: readonly OutputDecl[]; // paths may hold ${matrix.m}
}

/** A random pipeline of 10…maxSteps step instances (small ones are likelier: they are faster). */
export function generateScenario(rng: Rng, options: FuzzOptions, ctlDir: string): Scenario {
  const target = 10 + Math.floor((Math.max(10, options.maxSteps) - 10) * rng.next() ** 3);
  const drafts: StepDraft[] = [];
  const instances: Instance[] = [];
  while (instances.length < target) {
    const draft = draftStep(rng, options, `s${drafts.length}`, instances, target - instances.length);
    drafts.push(draft);
    instances.push(...instancesOf(draft));
  }
  return { instances, sources: SOURCES, yaml: pipelineYaml(drafts, ctlDir) };
}

function draftStep(rng: Rng, options: FuzzOptions, name: string, upstream: readonly Instance[], room: number): StepDraft {
  const matrix = room >= 2 && rng.chance(0.2) ? ['x', 'y', 'z'].slice(0, Math.min(room, rng.int(2, 3))) : null;
  const outCount = rng.chance(0.3) ? 2 : 1;
  const outs: OutputDecl[] = [];
  const base = matrix ? `out/${name}/\${matrix.m}` : `out/${name}`;
  for (let i = 0; i < outCount; i++) {
    const dir = rng.chance(0.3);
    outs.push({
      path: dir ? `${base}/d${i}` : `${base}/o${i}.txt`,
      dir,
      cache: !(rng.chance(0.07) && options.uncachedOutputs),
      persist: rng.chance(0.08),
    });
  }
  return {
    name,
    matrix,
    nondet: options.nondeterminism && rng.chance(0.15),
    param: rng.chance(0.3) ? rng.pick(PARAMS) : null,
    alwaysRuns: rng.chance(0.04),
    delay: rng.chance(0.12) ? rng.pick(['0.05', '0.1', '0.2']) : '0',
    ins: pickInputs(rng, upstream),
    outs,
  };
}

/** 0–3 outputs of earlier instances (sometimes a file inside a directory output) and maybe a source. */
function pickInputs(rng: Rng, upstream: readonly Instance[]): InputRef[] {
  const ins: InputRef[] = [];
  const candidates = upstream.flatMap((u) => u.outs.map((o) => ({ o, from: u.id })));
  for (const { o, from } of rng.sample(candidates, rng.int(0, 3))) {
    if (o.dir && rng.chance(0.25)) ins.push({ path: `${o.path}/f0.txt`, dir: false, from });
    else ins.push({ path: o.path, dir: o.dir, from });
  }
  if (ins.length === 0 || rng.chance(0.3)) ins.push(rng.pick(SOURCES));
  return ins;
}

function instancesOf(draft: StepDraft): Instance[] {
  const values = draft.matrix ?? [null];
  return values.map((m) => ({
    id: m === null ? draft.name : `${draft.name}@m=${m}`,
    step: draft.name,
    nondet: draft.nondet,
    param: draft.param,
    alwaysRuns: draft.alwaysRuns,
    ins: draft.ins,
    outs: draft.outs.map((o) => ({ ...o, path: m === null ? o.path : o.path.replace('${matrix.m}', m) })),
  }));
}

function pipelineYaml(drafts: readonly StepDraft[], ctlDir: string): string {
  const lines = ['params:', ...PARAMS.map((p) => `  ${p}: ${DEFAULT_CONFIG[p]}`), 'steps:'];
  for (const d of drafts) {
    const id = d.matrix ? `${d.name}@m=\${matrix.m}` : d.name;
    const argv = [
      'sh',
      STEP_SCRIPT,
      id,
      d.nondet ? '1' : '0',
      d.param ? `p=\${params.${d.param}}` : '-',
      ctlDir,
      d.delay,
      ...d.ins.map((i) => `${i.dir ? 'ind' : 'in'}:${i.path}`),
      ...d.outs.map((o) => `${o.dir ? 'dir' : 'out'}:${o.path}`),
    ];
    lines.push(`  ${d.name}:`);
    if (d.matrix) lines.push(`    matrix: { m: [${d.matrix.join(', ')}] }`);
    lines.push(`    run: [${argv.map((a) => JSON.stringify(a)).join(', ')}]`);
    lines.push(`    deps: [${[STEP_SCRIPT, ...new Set(d.ins.map((i) => i.path))].map((p) => JSON.stringify(p)).join(', ')}]`);
    lines.push('    outs:');
    for (const o of d.outs) {
      const extra = `${o.cache ? '' : ', cache: false'}${o.persist ? ', persist: true' : ''}`;
      lines.push(`      - { path: ${JSON.stringify(o.path)}${extra} }`);
    }
    if (d.alwaysRuns) lines.push('    cache: false');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The command every step runs (through the pipeline's argv: `sh tools/step.sh ID NONDET PARAM CTL
 * DELAY ARGS…`, no shell string). It hashes each input as it reads it and writes that record into
 * every output, so the outputs say what they were made from. `$CTL/fail-ID` makes it fail after a
 * partial write (a failure the runtime must not commit). Few processes per step (one sha256sum for
 * all file inputs, two per directory input, one mkdir): the fuzzer runs hundreds of thousands of them.
 * A directory's digest is the sha256sum of `sha256sum DIR/* DIR/*\/*` (C order; see digest.ts).
 */
export const STEP_SH = `set -eu
export LC_ALL=C
id=$1; nondet=$2; param=$3; ctl=$4; delay=$5; shift 5
nl='
'
rec="step $id\${nl}param $param\${nl}"
if [ "$nondet" = 1 ]; then n=$(od -An -N8 -tx8 /dev/urandom); rec="\${rec}nonce \${n##* }\${nl}"; fi
files=''; dirs=''
for a in "$@"; do
  case $a in
    in:*) p=\${a#in:}; [ -f "$p" ] || { echo "missing input $p" >&2; exit 4; }; files="$files $p" ;;
    ind:*) p=\${a#ind:}; [ -d "$p" ] || { echo "missing input $p" >&2; exit 4; }
      d=$(sha256sum "$p"/* "$p"/*/* 2>/dev/null | sha256sum); rec="\${rec}in $p \${d%% *}\${nl}" ;;
    out:*) p=\${a#out:}; dirs="$dirs \${p%/*}" ;;
    dir:*) p=\${a#dir:}; dirs="$dirs $p/sub" ;;
  esac
done
if [ -n "$files" ]; then
  sums=$(sha256sum $files)
  while read -r h p; do rec="\${rec}in $p $h\${nl}"; done <<SUMS
$sums
SUMS
fi
[ "$delay" = 0 ] || sleep "$delay"
if [ -e "$ctl/fail-$id" ]; then
  for a in "$@"; do case $a in out:*) p=\${a#out:}; mkdir -p "\${p%/*}"; printf 'partial\\n' > "$p"; break ;; esac; done
  echo "failing on purpose" >&2; exit 3
fi
for a in "$@"; do case $a in dir:*) rm -rf "\${a#dir:}" ;; esac; done
mkdir -p $dirs
for a in "$@"; do
  case $a in
    out:*) printf '%s' "$rec" > "\${a#out:}" ;;
    dir:*) p=\${a#dir:}; printf '%s' "$rec" > "$p/f0.txt"; printf '%sextra\\n' "$rec" > "$p/sub/f1.txt" ;;
  esac
done
`;
