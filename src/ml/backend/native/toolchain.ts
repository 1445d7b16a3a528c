import { existsSync } from 'node:fs';
import path from 'node:path';
import { err, ok, type Result } from '../../../base/result.js';
import { findOnPath } from '../../../base/which.js';
import { nativeError, type NativeError } from './errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** What node-gyp needs to compile tfjs-node's binding without touching the network. */
export interface Toolchain {
  readonly nodeGyp: string;
  /** --nodedir for node-gyp: a Node install prefix holding include/node/node_api.h. */
  readonly nodeDir: string | null;
}

export { findOnPath };

function findNodeGyp(env: Env): string | null {
  const prefix = path.dirname(path.dirname(process.execPath));
  const candidates = [
    env.npm_config_node_gyp,
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c): c is string => c !== undefined && c !== '' && existsSync(c)) ?? null;
}

// Node's headers: an explicit npm_config_nodedir, the running Node's own prefix (Debian's nodejs
// and the official tarballs ship include/node), or node-gyp's per-user header cache.
function findNodeDir(env: Env): Result<string | null, NativeError> {
  const hasHeaders = (dir: string): boolean => existsSync(path.join(dir, 'include', 'node', 'node_api.h'));
  const configured = env.npm_config_nodedir;
  if (configured !== undefined && configured !== '' && hasHeaders(configured)) return ok(configured);
  const prefix = path.dirname(path.dirname(process.execPath));
  if (hasHeaders(prefix)) return ok(prefix);
  const home = env.HOME ?? '';
  const gypCache = path.join(env.XDG_CACHE_HOME ?? path.join(home, '.cache'), 'node-gyp', process.versions.node);
  if (hasHeaders(gypCache)) return ok(null);
  return err(
    nativeError(
      'NATIVE_NO_NODE_HEADERS',
      `Node's C headers (include/node/node_api.h) are not under ${prefix}, and node-gyp cannot download them offline`,
      'install the headers for this Node (Debian: apt-get install libnode-dev, or use an official Node tarball), or set npm_config_nodedir to a Node prefix that has include/node',
    ),
  );
}

/** Checks for a C++ compiler, make, Python 3 and node-gyp, naming the packages that are missing. */
export function findToolchain(env: Env): Result<Toolchain, NativeError> {
  const missing = [
    findOnPath(['c++', 'g++', 'clang++'], env) === null ? 'a C++ compiler (g++)' : null,
    findOnPath(['make'], env) === null ? 'make' : null,
    findOnPath(['python3'], env) === null ? 'python3' : null,
  ].filter((m): m is string => m !== null);
  if (missing.length > 0) {
    return err(
      nativeError(
        'NATIVE_NO_COMPILER',
        `compiling tfjs-node's binding needs ${missing.join(', ')}, not found on PATH`,
        'install them (Debian/Ubuntu: apt-get install g++ make python3, or build-essential python3), then run: npx blu-pipe native install',
      ),
    );
  }
  const nodeGyp = findNodeGyp(env);
  if (nodeGyp === null) {
    return err(
      nativeError(
        'NATIVE_NO_COMPILER',
        'node-gyp (bundled with npm) was not found beside this Node',
        'install npm for this Node, or set npm_config_node_gyp to node-gyp/bin/node-gyp.js',
      ),
    );
  }
  const nodeDir = findNodeDir(env);
  if (!nodeDir.ok) return nodeDir;
  return ok({ nodeGyp, nodeDir: nodeDir.value });
}
