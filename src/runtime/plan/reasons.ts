/** Why a step is stale. Computed by diffing stored key components, not just the digest. */
export type StaleReason =
  | { readonly kind: 'never-run' }
  /** The lock records this very key, but its cache entry is gone (gc, `cache verify --repair`, another cache). */
  | { readonly kind: 'not-in-cache' }
  /**
   * The lock records this very key, from a run this project never made (a fresh clone, another
   * machine): nothing was lost, this cache just never held it, and the recorded results still hold.
   */
  | { readonly kind: 'not-cached-here'; readonly runId: string }
  | { readonly kind: 'forced' }
  | { readonly kind: 'always-run' }
  | { readonly kind: 'cache-disabled' }
  | { readonly kind: 'code-changed'; readonly detail: string }
  | { readonly kind: 'command-changed'; readonly before: string; readonly after: string }
  | { readonly kind: 'param-changed'; readonly param: string; readonly before: string; readonly after: string }
  | { readonly kind: 'input-changed'; readonly path: string }
  | { readonly kind: 'upstream-changed'; readonly step: string }
  /** The upstream holds other bytes than the step consumed when it ran (same keys: the upstream reran and changed them). */
  | {
      readonly kind: 'upstream-output-changed';
      readonly step: string;
      readonly path: string;
      readonly before: string;
      readonly after: string;
    }
  /**
   * An upstream step it reads from is not fresh in the same plan (to be restored), or no longer
   * holds in the workspace the bytes this step consumed (missing or edited): the step cannot be
   * fresh before that upstream is settled again.
   */
  | { readonly kind: 'upstream-not-fresh'; readonly step: string; readonly detail: string }
  | { readonly kind: 'env-changed'; readonly name: string }
  | { readonly kind: 'outs-changed' }
  | { readonly kind: 'output-missing'; readonly path: string }
  | { readonly kind: 'output-modified'; readonly path: string }
  | { readonly kind: 'incomplete-previous-attempt'; readonly runId: string }
  /** A restore found the cached bytes damaged (or gone): the entry was evicted and the step reruns. */
  | { readonly kind: 'cache-corrupt'; readonly detail: string };
