/**
 * The pareto step's artifacts. Kept out of common.ts on purpose: every step implementation imports
 * common.ts, so a change there changes every kind's code hash and reruns every step.
 */
export const PARETO_ARTIFACT = { table: 'pareto.md', json: 'pareto.json', figure: 'iou-vs-latency.png' } as const;
