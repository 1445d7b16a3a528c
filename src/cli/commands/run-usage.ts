export const RUN_USAGE = `usage: blu-pipe run <pipeline.yaml> [step|step@matrix|glob ...] [options]
  -e, --experiment <file>   parameter overlay (repeatable; later wins)
  --set <param.path=value>  override a param (repeatable)
  --force                   rerun the selected steps even if fresh
  --downstream              also select everything after the given steps
  --dry-run                 print the plan and why each step is stale; run nothing
  -j, --jobs <n>            parallel steps (default: number of cores)
  --keep-going              after a failure, still run everything that does not depend on it
  --no-cache                do not restore from the cache (still stores results)
  --resources <name=n>      budget for a custom resource (repeatable), e.g. --resources gpu=1
  --executor <local|slurm>  where steps run (default local)
  --slurm-opt <option>      extra sbatch option for every job (repeatable)
  --no-track                do not log to MLflow
  --track-noop              record an MLflow run even when nothing ran or changed since the
                            last recorded one (by default that run is named instead)
  --json                    print the event stream as JSON lines
  --cache-dir <dir>         cache location (default .blu/cache; env BLU_CACHE_DIR)`;
