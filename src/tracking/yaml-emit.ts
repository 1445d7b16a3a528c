/**
 * A tiny emitter for MLflow's flat meta.yaml files in the style of PyYAML `safe_dump`: keys
 * sorted, block style, strings that would read back as another type single-quoted.
 */
export type MetaValue = string | number | null | readonly never[];

const PLAIN_SAFE = /^[A-Za-z_/][A-Za-z0-9_./:@+-]*$/;
const YAML_WORDS = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function emitString(value: string): string {
  if (value !== '' && PLAIN_SAFE.test(value) && !YAML_WORDS.test(value)) return value;
  // Control characters cannot be single-quoted; JSON strings are valid YAML double-quoted strings.
  if (/[\u0000-\u001f\u007f]/.test(value)) return JSON.stringify(value);
  return `'${value.replace(/'/g, "''")}'`;
}

function emitValue(value: MetaValue): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return emitString(value);
  return '[]';
}

export function emitMetaYaml(fields: Readonly<Record<string, MetaValue>>): string {
  const keys = Object.keys(fields).sort();
  return keys.map((key) => `${key}: ${emitValue(fields[key] ?? null)}\n`).join('');
}
