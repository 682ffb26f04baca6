/**
 * `rewrite` prepares a route's `rewrite` policy once per snapshot: the `rewrite-target` template is
 * split into literal text and capture references, so a request only pays for one regex match and
 * one concatenation — and routes without a rewrite pay nothing at all. Semantics are nginx's
 * `rewrite <regex> <target> break;` as ingress-nginx writes it: the whole request path is replaced
 * by the target, `$1`…`$9` are the capture groups of the matched path (empty when absent), and the
 * request's arguments are appended (after `&` when the target has its own query; not at all when the
 * target ends with `?`).
 */
import type { RewritePolicy, Route } from '../model/types.js';
import type { CompiledRegex } from '../util/re2.js';

/** `Template` is a target split at its `$n` references: strings are literal, numbers are groups. */
type Template = readonly (string | number)[];

function parseTemplate(text: string): Template {
  const parts: (string | number)[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c === 0x24 /* $ */ && next >= 0x31 && next <= 0x39) {
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push(next - 0x30);
      i++;
    } else literal += text[i];
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

function render(template: Template, groups: RegExpExecArray | null): string {
  let out = '';
  for (const part of template) out += typeof part === 'string' ? part : (groups?.[part] ?? '');
  return out;
}

/** `UpstreamRewrite` is what a rewritten request sends upstream. */
export interface UpstreamRewrite {
  /** Path and query for the upstream request line. */
  readonly target: string;
  /** X-Forwarded-Prefix value, when `x-forwarded-prefix` is set. */
  readonly forwardedPrefix?: string;
}

/** `PreparedRewrite` is a route's `rewrite` policy, ready for the data plane. */
export interface PreparedRewrite {
  /** `app-root`: a request for exactly `/` is answered 302 to this path. */
  readonly appRoot?: string;
  /**
   * The upstream request for a request whose normalised `path` matched this route; `query` is the
   * request's query without `?` (undefined when the target had none). Absent when the route sends
   * the request target unchanged.
   */
  readonly apply?: (path: string, query: string | undefined) => UpstreamRewrite;
}

/**
 * `prepareRewrite` returns the route's prepared rewrite, or undefined when nothing changes for it.
 * `regex` is the route's compiled path (absent for Exact paths: their groups are empty).
 */
export function prepareRewrite(
  route: Route,
  policy: RewritePolicy | undefined,
  regex: CompiledRegex | undefined,
): PreparedRewrite | undefined {
  if (policy === undefined) return undefined;
  const appRoot = policy.appRoot;
  // ingress-nginx: "if the path in the ingress rule is equal to the target: no special rewrite".
  const target = policy.target !== undefined && policy.target !== route.path ? policy.target : undefined;
  if (target === undefined) return appRoot === undefined ? undefined : Object.freeze({ appRoot });
  const q = target.indexOf('?');
  const path = parseTemplate(q === -1 ? target : target.slice(0, q));
  // `/x?` keeps no arguments; `/x?a=1` gets the request's arguments after its own.
  const ownQuery = q === -1 ? undefined : parseTemplate(target.slice(q + 1));
  const prefix = policy.forwardedPrefix === undefined ? undefined : parseTemplate(policy.forwardedPrefix);
  const needsGroups = [path, ownQuery ?? [], prefix ?? []].some((t) => t.some((p) => typeof p === 'number'));
  const apply = (matched: string, query: string | undefined): UpstreamRewrite => {
    const groups = needsGroups && regex !== undefined ? regex.exec(matched) : null;
    let out = render(path, groups);
    if (out.charCodeAt(0) !== 0x2f /* / */) out = `/${out}`;
    if (ownQuery === undefined) {
      if (query !== undefined && query !== '') out += `?${query}`;
    } else if (ownQuery.length > 0) {
      out += `?${render(ownQuery, groups)}`;
      if (query !== undefined && query !== '') out += `&${query}`;
    }
    return prefix === undefined ? { target: out } : { target: out, forwardedPrefix: render(prefix, groups) };
  };
  return Object.freeze({ ...(appRoot !== undefined ? { appRoot } : {}), apply });
}
