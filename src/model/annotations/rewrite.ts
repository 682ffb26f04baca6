/**
 * `rewrite` is regex paths and what goes upstream instead of the request path (ingress-nginx's
 * `rewrite` and `xforwardedprefix` packages): `use-regex`, `rewrite-target`, `x-forwarded-prefix`
 * and `app-root`. Values are validated here; regex paths are compiled (compile check) at
 * translation and once per snapshot (compile/snapshot.ts); the data plane applies the result
 * (proxy/rewrite.ts).
 */
import type { Parsed } from '../settings/validators.js';
import type { RewritePolicy } from '../types.js';
import { type AnnotationReader, defineAnnotations } from './spec.js';
import { boolean, type Described, described } from './validators.js';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

// ingress-nginx's `RegexPathWithCapture` characters: unreserved, `/`, `:` and `$` (for `$1`…).
const PATH_CHARS = /^[-._~a-zA-Z0-9/:$]*$/;
const QUERY_CHARS = /^[-._~a-zA-Z0-9/:$&=%]*$/;
const PERCENT = /%(?![0-9a-fA-F]{2})/;

/** Every `$` must start a capture reference `$1`…`$9`; undefined when they all do, else the error. */
function captureProblem(value: string): string | undefined {
  for (let i = value.indexOf('$'); i !== -1; i = value.indexOf('$', i + 1)) {
    const next = value.charCodeAt(i + 1);
    if (!(next >= 0x31 && next <= 0x39)) {
      const name = /^\$[A-Za-z_0-9{]*/.exec(value.slice(i))?.[0] ?? '$';
      return name === '$'
        ? '`$` must be followed by a capture group number 1 to 9'
        : `\`${name}\` is not supported: only capture groups \`$1\` to \`$9\` (nginx variables are not expanded)`;
    }
  }
  return undefined;
}

/**
 * `rewriteTarget` reads a path with `$1`…`$9` capture references, optionally followed by a query
 * (`/new/$1?tab=$2`). An empty value means "no rewrite", as in ingress-nginx.
 */
export const rewriteTarget: Described<string> = described((raw) => {
  if (raw === '') return ok('');
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = q === -1 ? '' : raw.slice(q + 1);
  if (path.startsWith('//')) return fail('must be a path, not `//host`');
  if (!PATH_CHARS.test(path)) {
    return fail('may contain only letters, digits, `-._~/:` and capture groups `$1` to `$9` before the `?`');
  }
  if (!QUERY_CHARS.test(query) || query.includes('?') || PERCENT.test(query)) {
    return fail(
      'the query part may contain only letters, digits, `-._~/:&=`, `%XX` escapes and `$1` to `$9`',
    );
  }
  const capture = captureProblem(raw);
  if (capture !== undefined) return fail(capture);
  return ok(raw);
}, 'path, may use `$1` … `$9`, optional `?query`');

/** `forwardedPrefix` reads the X-Forwarded-Prefix value; spaces are removed, as ingress-nginx does. */
export const forwardedPrefix: Described<string> = described((raw) => {
  const v = raw.replaceAll(' ', '');
  if (v === '') return ok('');
  if (!PATH_CHARS.test(v))
    return fail('may contain only letters, digits, `-._~/:` and capture groups `$1` to `$9`');
  const capture = captureProblem(v);
  if (capture !== undefined) return fail(capture);
  return ok(v);
}, 'path, may use `$1` … `$9`');

/** `appRoot` reads an absolute path on the same host (ingress-nginx refuses absolute URLs). */
export const appRoot: Described<string> = described((raw) => {
  const v = raw.trim();
  if (v === '') return ok('');
  if (!v.startsWith('/') || v.startsWith('//'))
    return fail('must be an absolute path on the same host, like `/app1`');
  if (!/^[-._~a-zA-Z0-9/:]*$/.test(v)) return fail('may contain only letters, digits and `-._~/:`');
  return ok(v);
}, 'absolute path');

export const rewriteAnnotations = defineAnnotations(
  'rewrite',
  'Regex paths and URL rewriting: what the backend receives instead of the request path.',
  {
    'use-regex': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: every Prefix and ImplementationSpecific path of this Ingress is an RE2 regular expression, matched case-insensitively from the start of the path (`^<path>`). Exact paths stay exact. Per host, Exact paths win; then regex paths, longest pattern first (the first that matches wins); a Prefix path of another Ingress wins over them only when it is longer than the matching pattern. A pattern RE2 cannot compile (lookaround, backreferences, possessive quantifiers) rejects the Ingress. Simple patterns (ASCII literals, `.`, classes, `\\d` `\\w` `\\s`, `*` `+` `?`, groups, alternatives of fixed strings, `$`) run on the V8 engine when Portico proves it gives the answers of RE2 in linear time, tens of times cheaper per match (`bench/regex-engines.ts`); `regexEngine` in `/routes` says where each pattern runs.',
      differs:
        "Applies only to this Ingress's paths: ingress-nginx turns every path of the host into a regex, whatever Ingress defines it (kubernetes/ingress-nginx#7586). Patterns are RE2, not PCRE, and every alternative is anchored (`^(?:a|b)`, where nginx's `^a|b` leaves `b` unanchored). Other Ingresses' Prefix paths keep element-wise matching and compete with regex paths by length, as nginx's location sort does; on equal length the regex wins.",
    },
    'rewrite-target': {
      validate: rewriteTarget,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: "The path sent upstream instead of the request path; `$1` … `$9` are the capture groups of the matched path (a missing group is empty). Implies `use-regex`. The query string of the request is kept: appended after the target, or after the target's own query with `&`. A target equal to the path rewrites nothing, as in ingress-nginx. WebSocket upgrades are rewritten too.",
      differs:
        'nginx variables (`$host`, `$request_uri`, …) are refused, not expanded; a result without a leading `/` gets one. On an Exact path the target is sent with capture groups empty.',
    },
    'x-forwarded-prefix': {
      validate: forwardedPrefix,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: 'Sends `X-Forwarded-Prefix: <value>` upstream (replacing any the client sent) on requests that `rewrite-target` rewrites; may use `$1` … `$9`. An empty value sends nothing.',
    },
    'app-root': {
      validate: appRoot,
      scope: 'location',
      risk: 'low',
      default: '(none)',
      doc: "A request for exactly `/` on this Ingress's routes is answered `302` to `<scheme>://<host><app-root>`; every other path is proxied as usual.",
    },
  },
);

/** `RewriteSettings` is the family's outcome. */
export interface RewriteSettings {
  /** `use-regex: "true"` or a `rewrite-target`: Prefix and ImplementationSpecific paths are regexes. */
  readonly useRegex: boolean;
  readonly policy?: RewritePolicy;
}

/** `parseRewrite` reads the family; `x-forwarded-prefix` without a rewrite is reported as ignored. */
export function parseRewrite(reader: AnnotationReader): RewriteSettings {
  const useRegex = reader.read(rewriteAnnotations, 'use-regex');
  const target = reader.read(rewriteAnnotations, 'rewrite-target');
  const prefix = reader.read(rewriteAnnotations, 'x-forwarded-prefix');
  const root = reader.read(rewriteAnnotations, 'app-root');
  const hasTarget = target !== undefined && target.value !== '';
  if (prefix !== undefined && prefix.value !== '' && !hasTarget) {
    reader.warning(prefix.field, 'has no effect without rewrite-target (as in ingress-nginx); ignored');
  }
  const policy: RewritePolicy = {
    ...(hasTarget ? { target: target.value } : {}),
    ...(hasTarget && prefix !== undefined && prefix.value !== '' ? { forwardedPrefix: prefix.value } : {}),
    ...(root !== undefined && root.value !== '' ? { appRoot: root.value } : {}),
  };
  return {
    useRegex: useRegex?.value === true || hasTarget,
    ...(Object.keys(policy).length > 0 ? { policy: Object.freeze(policy) } : {}),
  };
}

/**
 * `regexSource` is the RE2 source a regex path is matched with: anchored at the start like
 * ingress-nginx's `~* "^<path>"`, with every alternative inside the anchor.
 */
export function regexSource(path: string): string {
  return `^(?:${path})`;
}
