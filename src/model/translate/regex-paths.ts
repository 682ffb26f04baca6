/**
 * `regex-paths` says which paths of an Ingress are regexes (`use-regex` / `rewrite-target`) and
 * checks that RE2 compiles each of them, so a pattern RE2 refuses rejects the Ingress at
 * translation (its last good version keeps serving) instead of failing at request time.
 */

import { compileRegex } from '../../util/re2.js';
import { regexSource } from '../annotations/rewrite.js';
import type { PathType } from '../objects.js';
import { matchClass } from './conflicts.js';

/** `routeRegex` is the RE2 source a path is matched with, or undefined when it is not a regex path. */
export function routeRegex(
  useRegex: boolean | undefined,
  path: string,
  pathType: PathType,
): string | undefined {
  if (useRegex !== true || matchClass(pathType) === 'Exact') return undefined;
  return regexSource(path);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `RegexPathProblem` is a path RE2 cannot compile, with the field of the path. */
export interface RegexPathProblem {
  readonly field: string;
  readonly message: string;
}

/**
 * `regexPathProblems` compiles every Prefix and ImplementationSpecific path of `rules` (the
 * unvalidated `spec.rules`) and names each one RE2 refuses. Shapes validation already reports are
 * skipped, never thrown on.
 */
export function regexPathProblems(rules: unknown): RegexPathProblem[] {
  if (!Array.isArray(rules)) return [];
  const out: RegexPathProblem[] = [];
  rules.forEach((rule: unknown, i) => {
    const paths = isRecord(rule) && isRecord(rule['http']) ? rule['http']['paths'] : undefined;
    if (!Array.isArray(paths)) return;
    paths.forEach((entry: unknown, j) => {
      if (!isRecord(entry)) return;
      const { path, pathType } = entry;
      if (pathType !== 'Prefix' && pathType !== 'ImplementationSpecific') return;
      const p = typeof path === 'string' && path !== '' ? path : '/';
      if (path !== undefined && typeof path !== 'string') return;
      const compiled = compileRegex(p, regexSource(p));
      if (!compiled.ok) {
        out.push({
          field: `spec.rules[${i}].http.paths[${j}].path`,
          message: `invalid value ${JSON.stringify(p)}: ${compiled.reason}; use-regex (or rewrite-target) makes this path an RE2 regular expression`,
        });
      }
    });
  });
  return out;
}
