/**
 * The Dockerfile's runtime stage, reproduced without Docker (no engine in CI): a clean
 * `npm ci --omit=dev --ignore-scripts` from the lockfile in a temp folder, plus dist/ compiled from
 * src/, then the bin is run there. If any runtime import needed a devDependency, `--version`,
 * `--help` or importing a module would fail here exactly as in the image. Static checks keep the
 * Dockerfile itself aligned with deploy/ and .dockerignore.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');

/** The one native addon Portico depends on (issue 8: regex paths run on RE2). */
const RE2_ADDON = 'node_modules/re2/build/Release/re2.node';

/** Entry points that start something when imported; every other module must import cleanly. */
const ENTRY_POINTS = new Set(['cli/main.js', 'demo/start.js']);

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return jsFiles(path);
    return e.name.endsWith('.js') ? [path] : [];
  });
}

describe('Dockerfile runtime stage (reproduced from a production-only install)', { timeout: 240_000 }, () => {
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portico-runtime-'));
    copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
    copyFileSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
    // In parallel: the deps stage's install and the build stage's compile. The compile writes
    // straight into the temp folder, so the repository's dist/ is neither needed nor touched.
    await Promise.all([
      run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: dir,
        maxBuffer: 16 * 1024 * 1024,
      }),
      run(
        process.execPath,
        [
          join(root, 'node_modules/typescript/bin/tsc'),
          '-p',
          'tsconfig.build.json',
          '--outDir',
          join(dir, 'dist'),
        ],
        { cwd: root, maxBuffer: 16 * 1024 * 1024 },
      ),
    ]);
    // re2 is a native addon: its install script (prebuilt download, else node-gyp) runs in the
    // build stage, whose full install has scripts and the C++ toolchain; the runtime stage copies
    // the compiled `re2.node` next to the script-free production install. The repository's own
    // install plays the build stage here.
    mkdirSync(join(dir, RE2_ADDON, '..'), { recursive: true });
    copyFileSync(join(root, RE2_ADDON), join(dir, RE2_ADDON));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the install holds no package the lockfile marks dev-only, and every dependency', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev === true);
    assert.ok(
      devOnly.some(([path]) => path === 'node_modules/typescript'),
      'the lockfile marks dev-only packages',
    );
    const leaked = devOnly.map(([path]) => path).filter((path) => existsSync(join(dir, path)));
    assert.deepEqual(leaked, []);
    for (const dep of Object.keys(pkg.dependencies))
      assert.ok(existsSync(join(dir, 'node_modules', dep, 'package.json')), dep);
  });

  test('node dist/cli/main.js --version prints the package version', async () => {
    const { stdout } = await run(process.execPath, ['dist/cli/main.js', '--version'], { cwd: dir });
    assert.match(stdout, new RegExp(pkg.version.replaceAll('.', '\\.')));
  });

  test('node dist/cli/main.js --help prints the usage', async () => {
    const { stdout } = await run(process.execPath, ['dist/cli/main.js', '--help'], { cwd: dir });
    assert.match(stdout, /Usage: portico/);
    assert.match(stdout, /--admission-listen/);
  });

  test('every compiled module imports with production dependencies only', async () => {
    const modules = jsFiles(join(dir, 'dist'))
      .map((f) => relative(join(dir, 'dist'), f))
      .filter((f) => !ENTRY_POINTS.has(f));
    assert.ok(modules.length > 20, 'the build emitted the modules');
    // A separate process with the temp folder as its only node_modules: resolution cannot fall
    // back to the repository's full install.
    const script = `for (const m of ${JSON.stringify(modules.map((m) => pathToFileURL(join(dir, 'dist', m)).href))}) await import(m);`;
    await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
  });
});

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)\s+AS\s+(\S+)$/gm)].map((m) => ({
    image: m[1],
    name: m[2],
  }));

  test('every stage runs on the Node 22 LTS slim image', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
    assert.deepEqual(
      stages.map((s) => s.name),
      ['build', 'deps', 'app', 'runtime-kernel', 'runtime'],
    );
    // The Dockerfile's own ARG syntax, not a template literal; the two final images build on app.
    for (const s of stages)
      assert.equal(
        s.image,
        ['runtime-kernel', 'runtime'].includes(s.name ?? '') ? 'app' : '$' + '{NODE_IMAGE}',
      );
  });

  test('the runtime takes node_modules from a production-only npm ci and dist from the build', () => {
    assert.match(dockerfile, /RUN npm ci --omit=dev --ignore-scripts/);
    assert.match(dockerfile, /COPY --from=deps \/app\/node_modules \.\/node_modules/);
    assert.match(dockerfile, /COPY --from=build \/app\/dist \.\/dist/);
    // The one native addon, compiled where the toolchain is (the runtime has none).
    assert.ok(
      dockerfile.includes(`COPY --from=build /app/${RE2_ADDON} ./${RE2_ADDON}`),
      'the app stage copies the compiled re2 addon from the build stage',
    );
    assert.doesNotMatch(dockerfile, /npm install/, 'npm ci only: the lockfile decides');
  });

  test('runs as a numeric non-root user with the bin as entry point', () => {
    assert.match(dockerfile, /^USER 1000:1000$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["node", "dist\/cli\/main\.js"\]$/m);
  });

  test('EXPOSEs the ports the Deployment uses', () => {
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/).map(Number).sort();
    const deployment = readFileSync(join(root, 'deploy/base/deployment.yaml'), 'utf8');
    const ports = [...deployment.matchAll(/containerPort: (\d+)/g)].map((m) => Number(m[1])).sort();
    assert.deepEqual(exposed, ports);
  });

  test('.dockerignore lets in exactly what the Dockerfile copies from the context', () => {
    const allowed = dockerignore
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''))
      .sort();
    assert.match(dockerignore, /^\*$/m, 'an allow-list');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)]
      .flatMap((m) => (m[1] ?? '').split(/\s+/))
      .filter((p) => p !== '')
      .sort();
    assert.deepEqual([...new Set(copied)], allowed);
  });
});
