import path from 'node:path';
import { err, ok, type Result } from '../../base/result.js';
import { parse, positiveInt, stringList, stringValue } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';
import { ENGINE_CHOICES, isEngineChoice, type EngineChoice } from '../../ml/engine/choice.js';
import { modelFromStep } from './from-step.js';

const USAGE = `usage: blu-pipe predict <model> <images…|dir> --out DIR [--overlay] [--tile N] [--overlap N] [--scale F] [--threads N] [--engine E]
       blu-pipe predict --from <pipeline.yaml>:<step> [-e overlay] [--set p=v] <images…|dir> --out DIR [options]
  Segments images with a trained model and writes <name>_mask.png (and <name>_overlay.png).
  <model>      a saved model folder (U-Net, lw_unet, simulated BLU-Net) or a packed BLU-Net file
               (runs on the binary engine)
  --from       the model a pipeline step produced, e.g. pipelines/blu-net.yaml:binarise (a step with
               several instances: the measure_seed one; or name one, e.g. …:binarise@seed=2)
  -e, --set    the experiment (as given to run) that --from resolves the step's instances with
  --tile N     tile side for large images (default 512, the thesis crop); a multiple of 2^(levels-1)
  --overlap N  pixels shared by neighbouring tiles (default 64), so tile borders do not show
  --scale F    rescale on reading, as the dataset step's scale (default 1)
  --simulate   run a saved BLU-Net as its fp32 simulation (default: packed, on the binary engine)
  --threads N  threads of the binary engine (default: one per CPU; 1 can be faster on a busy machine)
  --engine E   binary engine kernels: native (C++, AVX-512/AVX2/portable by CPU; built at npm ci when a
               compiler is present), wasm (always available), auto (default: native if built, else wasm)`;

const OPTIONS = {
  out: { type: 'string' },
  experiment: { type: 'string', short: 'e', multiple: true },
  set: { type: 'string', multiple: true },
  overlay: { type: 'boolean' },
  from: { type: 'string' },
  tile: { type: 'string' },
  overlap: { type: 'string' },
  scale: { type: 'string' },
  simulate: { type: 'boolean' },
  threads: { type: 'string' },
  engine: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function numberOption(value: unknown, name: string, fallback: number): Result<number, string> {
  if (value === undefined) return ok(fallback);
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) return err(`--${name} must be a positive number, got '${String(value)}'`);
  return ok(n);
}

interface Resolved {
  model: string;
  images: string[];
  out: string;
  overlay: boolean;
  tile: number;
  overlap: number;
  scale: number;
  simulate: boolean;
  /** Binary engine threads; undefined: one per CPU. */
  threads: number | undefined;
  engine: EngineChoice;
}

async function resolveArgs(argv: readonly string[], io: CliIO): Promise<Result<Resolved | 'help', string>> {
  const cwd = io.cwd;
  const parsed = parse(argv, OPTIONS);
  if (!parsed.ok) return parsed;
  const { values, positionals } = parsed.value;
  if (values.help) return ok('help');
  const from = stringValue(values.from);
  const [overlays, sets] = [stringList(values.experiment), stringList(values.set)];
  if (from === null && overlays.length + sets.length > 0)
    return err('-e/--set choose the experiment of --from <pipeline.yaml>:<step>; without --from they mean nothing');
  const fromModel = from === null ? null : await modelFromStep(from, { cwd, overlays, sets, env: io.env });
  if (fromModel && !fromModel.ok) return fromModel;
  if (fromModel?.value.note) io.stderr(`${fromModel.value.note}\n`);
  const [model, ...images] = fromModel ? [fromModel.value.dir, ...positionals] : positionals;
  if (model === undefined) return err('missing <model> (or --from <pipeline.yaml>:<step>)');
  if (images.length === 0) return err('missing the images (files or a folder) to segment');
  const out = stringValue(values.out);
  if (out === null) return err('missing --out DIR (where the masks go)');
  const tile = positiveInt(values.tile, 'tile');
  if (!tile.ok) return tile;
  const overlap =
    values.overlap === undefined
      ? ok(64)
      : /^\d+$/.test(String(values.overlap))
        ? ok(Number(values.overlap))
        : err(`--overlap must be a whole number ≥ 0, got '${String(values.overlap)}'`);
  if (!overlap.ok) return overlap;
  const scale = numberOption(values.scale, 'scale', 1);
  if (!scale.ok) return scale;
  const threads = positiveInt(values.threads, 'threads');
  if (!threads.ok) return threads;
  const engine = values.engine === undefined ? 'auto' : String(values.engine);
  if (!isEngineChoice(engine)) return err(`--engine must be one of ${ENGINE_CHOICES.join(', ')}, got '${engine}'`);
  const at = (p: string) => path.resolve(cwd, p);
  return ok({
    model: at(model),
    images: images.map(at),
    out: at(out),
    overlay: values.overlay === true,
    tile: tile.value ?? 512,
    overlap: overlap.value,
    scale: scale.value,
    simulate: values.simulate === true,
    threads: threads.value ?? undefined,
    engine,
  });
}

export async function predictCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const args = await resolveArgs(argv, io);
  if (!args.ok) return usageError(io, args.error, USAGE);
  if (args.value === 'help') return (io.stdout(`${USAGE}\n`), EXIT.ok);
  const a = args.value;
  const { checkTiling, listImages, openPredictor, predictImages } = await import('../../ml/predict/index.js');
  const files = await listImages(a.images);
  if (!files.ok) return usageError(io, files.error, USAGE);
  const predictor = await openPredictor(a.model, !a.simulate, {
    engine: a.engine,
    ...(a.threads !== undefined ? { threads: a.threads } : {}),
  });
  if (!predictor.ok) {
    io.stderr(`blu-pipe: ${predictor.error.message}\n`);
    return predictor.error.code === 'model-unloadable' ? EXIT.failed : EXIT.usage;
  }
  const tiling = checkTiling(a.tile, a.overlap, predictor.value.multiple);
  if (!tiling.ok) return usageError(io, tiling.error, USAGE);
  io.stderr(`segmenting ${files.value.length} image(s) with ${predictor.value.description} → ${path.relative(io.cwd, a.out) || '.'}\n`);
  const relative = (f: string) => path.relative(io.cwd, f) || f;
  const summary = await predictImages(
    predictor.value,
    files.value,
    { outDir: a.out, overlay: a.overlay, tile: a.tile, overlap: a.overlap, scale: a.scale },
    (e) => {
      const counter = `[${e.index + 1}/${e.total}]`;
      if (e.kind === 'failed') io.stderr(`${counter} error: ${e.error.message}\n`);
      else
        io.stderr(
          `${counter} ${relative(e.file)} → ${e.outputs.map(relative).join(', ')} (${e.tiles} tile${e.tiles === 1 ? '' : 's'}, ${(e.ms / 1000).toFixed(1)} s)\n`,
        );
    },
  );
  predictor.value.dispose();
  if (summary.failed.length > 0) {
    io.stderr(`blu-pipe: ${summary.failed.length} of ${files.value.length} image(s) failed; ${summary.done} segmented\n`);
    return EXIT.failed;
  }
  io.stdout(`${summary.done} image(s) segmented into ${relative(a.out)}\n`);
  return EXIT.ok;
}
