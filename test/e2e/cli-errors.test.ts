import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cliProjects, type TempProject } from '../rig/project.js';

const newProject = cliProjects();

function project(): TempProject {
  const p = newProject();
  return p;
}

/** The subcommands `blu-pipe --help` lists ("mlflow sync" is two words). */
function listedCommands(help: string): string[] {
  const section = help.split('usage: blu-pipe <command> [options]\n')[1]!.split('\n\n')[0]!;
  return section.split('\n').map((line) => {
    const words = line.trim().split(/\s+/);
    return words[0] === 'mlflow' ? `${words[0]} ${words[1]}` : words[0]!;
  });
}

describe('the CLI explains instead of crashing', () => {
  it('every subcommand prints its usage for --help and -h, and exits 0', async () => {
    const p = project();
    const commands = listedCommands((await p.cli(['--help'])).stdout);
    expect(commands).toEqual(
      expect.arrayContaining(['run', 'status', 'gc', 'cache', 'runs', 'compare', 'ui', 'mlflow sync', 'doctor', 'kinds', 'exec-step']),
    );
    for (const command of [...commands, 'mlflow']) {
      for (const flag of ['--help', '-h']) {
        const r = await p.cli([...command.split(' '), flag]);
        expect({ command, flag, exitCode: r.exitCode, usage: /usage: blu-pipe /.test(r.stdout), stderr: r.stderr }).toEqual({
          command,
          flag,
          exitCode: 0,
          usage: true,
          stderr: '',
        });
      }
    }
  });

  it('a YAML alias bomb is a positioned spec error with exit 2, not an internal error', async () => {
    const p = project();
    const levels = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...'bcde'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcd'[i]}`).join(', ')}]`),
    ];
    p.write('bomb.yaml', `params:\n${levels.map((l) => `  ${l}`).join('\n')}\nsteps:\n  s:\n    run: echo hi\n    outs: [o.txt]\n`);
    const r = await p.cli(['run', 'bomb.yaml', '--no-track']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^bomb\.yaml:4:10: .*YAML aliases expand too much: \*b/m);
    expect(r.stderr).not.toContain('internal error');
  });
});

describe('strict input', () => {
  const PIPELINE = 'params:\n  a: 1\nsteps:\n  s:\n    run: node write.cjs ${params.a}\n    outs: [o.txt]\n';

  it("--set with a value YAML cannot read exits 2 with the parser's message, and runs nothing", async () => {
    const p = project();
    p.write('p.yaml', PIPELINE);
    const r = await p.cli(['run', 'p.yaml', '--no-track', '--set', 'a=[1,']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /^--set a=\[1,: the value is not valid YAML: Flow sequence must end with a \] at line 1, column 4 \(quote it/m,
    );
    expect(r.stderr).not.toContain('internal error');
  });

  it('an unclosed ${ in a pipeline string exits 2 at file:line:col; $${ stays a literal ${', async () => {
    const p = project();
    p.write('p.yaml', 'params:\n  a: 1\nsteps:\n  s:\n    run: node write.cjs "$${HOME}" ${params.a\n    outs: [o.txt]\n');
    p.write('write.cjs', "require('fs').writeFileSync('o.txt', process.argv.slice(2).join(' '));\n");
    const bad = await p.cli(['run', 'p.yaml', '--no-track']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^p\.yaml:5:36: unclosed '\$\{' in '\$\{params\.a'/m);
    p.write('p.yaml', 'params:\n  a: 1\nsteps:\n  s:\n    run: node write.cjs "$${HOME}" ${params.a}\n    outs: [o.txt]\n');
    const good = await p.cli(['run', 'p.yaml', '--no-track']);
    expect(good.exitCode, good.stderr).toBe(0);
    expect(readFileSync(p.path('o.txt'), 'utf8')).toBe('${HOME} 1');
  });
});
