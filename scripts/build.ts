/**
 * `npm run build`: the production build, for `node` without tsx.
 *
 * - The TypeScript of tsconfig.build.json compiled to dist/ by the TypeScript compiler (type errors
 *   fail the build). Our sources import each other without extensions (`'../model/config'`), which
 *   Node's ESM loader does not resolve: a transformer on the emitted JavaScript spells each relative
 *   import the way Node needs it (`'../model/config.js'`, `'./routes/index.js'`), from the files
 *   that are really there.
 * - The workflow bundle made once, here: dist/workflow-bundle.js, which workers started from dist/
 *   load instead of bundling the workflow code at every start (worker/main.ts).
 * - What the compiled code reads beside itself: dist/package.json (ESM, the version the API and the
 *   CLI report) and dist/console/ (the web console's static files).
 *
 * @example npm run build && node dist/worker/main.js
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';
import { bundleWorkflows } from '../worker/main';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');

/**
 * A file deep in a package without an `exports` map (`@temporalio/common/lib/time`): Node's ESM
 * loader wants its extension too. Packages with `exports` (hono/cors) resolve as written.
 */
function packageSubpath(fromFile: string, specifier: string): string | null {
  const parts = specifier.split('/');
  const name = parts.slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
  if (specifier === name || specifier.startsWith('node:')) return null;
  const resolved = createRequire(fromFile).resolve(specifier);
  const at = resolved.lastIndexOf(`${path.sep}node_modules${path.sep}${name}${path.sep}`);
  if (at < 0) return null;
  const dir = resolved.slice(0, at) + `${path.sep}node_modules${path.sep}${name}`;
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports?: unknown };
  if (manifest.exports) return null;
  const file = path.relative(dir, resolved).split(path.sep).join('/');
  const subpath = parts.slice(name.split('/').length).join('/');
  return file.startsWith(subpath) && file !== subpath ? `${name}/${file}` : null;
}

/** `./x` → `./x.js` or `./x/index.js`, by what exists next to the importing source file; null: leave it. */
export function nodeSpecifier(fromFile: string, specifier: string): string | null {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return packageSubpath(fromFile, specifier);
  if (/\.(m?js|json|node)$/.test(specifier)) return null;
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const ext of ['.ts', '.tsx', '.js']) if (fs.existsSync(base + ext)) return `${specifier}.js`;
  for (const ext of ['.ts', '.tsx', '.js']) if (fs.existsSync(path.join(base, `index${ext}`))) return `${specifier}/index.js`;
  throw new Error(`${path.relative(root, fromFile)}: cannot resolve import '${specifier}'`);
}

/** Rewrites the specifiers of `import … from`, `export … from` and `import()` in the emitted code. */
const specifiers: ts.TransformerFactory<ts.SourceFile> = (context) => (source) => {
  const f = context.factory;
  const rewrite = (literal: ts.Expression): ts.StringLiteral | null => {
    if (!ts.isStringLiteral(literal)) return null;
    const to = nodeSpecifier(source.fileName, literal.text);
    return to ? f.createStringLiteral(to) : null;
  };
  const visit = (node: ts.Node): ts.Node => {
    if (ts.isImportDeclaration(node)) {
      const to = rewrite(node.moduleSpecifier);
      if (to) return f.updateImportDeclaration(node, node.modifiers, node.importClause, to, node.attributes);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const to = rewrite(node.moduleSpecifier);
      if (to) return f.updateExportDeclaration(node, node.modifiers, node.isTypeOnly, node.exportClause, to, node.attributes);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      const to = rewrite(node.arguments[0]);
      if (to) return f.updateCallExpression(node, node.expression, node.typeArguments, [to, ...node.arguments.slice(1)]);
    }
    return ts.visitEachChild(node, visit, context);
  };
  return ts.visitNode(source, visit) as ts.SourceFile;
};

/** Compiles tsconfig.build.json into dist/; throws with the compiler's messages on any error. */
export function compile({ check = true } = {}): number {
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  };
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.build.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.formatDiagnostic(d, host));
    },
  });
  if (!parsed) throw new Error('tsconfig.build.json could not be read');
  // Without the check (--no-check) the emitted code is the same: isolatedModules makes each file compile alone.
  const options = check ? parsed.options : { ...parsed.options, noCheck: true };
  const program = ts.createProgram({ rootNames: parsed.fileNames, options, projectReferences: parsed.projectReferences });
  const emitted = program.emit(undefined, undefined, undefined, false, { after: [specifiers] });
  const errors = [...(check ? ts.getPreEmitDiagnostics(program) : program.getSyntacticDiagnostics()), ...parsed.errors, ...emitted.diagnostics].filter(
    (d) => d.category === ts.DiagnosticCategory.Error,
  );
  if (errors.length) throw new Error(`the TypeScript compiler reported ${errors.length} error(s):\n${ts.formatDiagnosticsWithColorAndContext(errors, host)}`);
  return program.getSourceFiles().filter((s) => !s.isDeclarationFile && !s.fileName.includes('/node_modules/')).length;
}

/** `check: false` (`--no-check`): emit only, for when `npm run typecheck` has run already (the tests). */
export async function build({ check = true } = {}): Promise<void> {
  const started = Date.now();
  fs.rmSync(dist, { recursive: true, force: true });
  const files = compile({ check });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  fs.writeFileSync(path.join(dist, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: 'module' }, null, 2)}\n`);
  fs.cpSync(path.join(root, 'console'), path.join(dist, 'console'), { recursive: true });
  const bundle = await bundleWorkflows();
  fs.writeFileSync(path.join(dist, 'workflow-bundle.js'), bundle.code);
  console.log(
    `built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s: ${files} modules compiled${check ? ' (type-checked)' : ''}, ` +
      `dist/workflow-bundle.js (${(bundle.code.length / 1024).toFixed(0)} KiB)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { 'no-check': { type: 'boolean', default: false } } });
  await build({ check: !values['no-check'] });
}
