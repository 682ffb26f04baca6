/**
 * `selectors` parses and evaluates label and field selectors with the grammar and semantics of
 * apimachinery's `labels.Parse` and `fields.ParseSelector`: `!=`/`notin` match objects without the
 * key, `in`/`=` need it present, and a field selector on a field the kind does not index is an
 * error (the real server answers 400 "field label not supported").
 */

/** `SelectorError` is a malformed or unsupported selector; the server turns it into 400 BadRequest. */
export class SelectorError extends Error {}

type LabelOp = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

interface LabelRequirement {
  readonly key: string;
  readonly op: LabelOp;
  readonly values: readonly string[];
}

/** `LabelSelector` matches a label map. */
export type LabelSelector = (labels: Readonly<Record<string, string>>) => boolean;

const keyPattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const valuePattern = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): void {
  if (key === '' || !keyPattern.test(key) || key.length > 317) {
    throw new SelectorError(`unable to parse requirement: invalid label key "${key}"`);
  }
}

function checkValue(value: string): void {
  if (value.length > 63 || !valuePattern.test(value)) {
    throw new SelectorError(`unable to parse requirement: invalid label value: "${value}"`);
  }
}

/** Splits on commas that are not inside `( … )`, as `in (a,b)` lists contain commas. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function parseRequirement(raw: string): LabelRequirement {
  const text = raw.trim();
  if (text === '') throw new SelectorError("found '', expected: !, identifier, or 'end of string'");
  if (text.startsWith('!')) {
    const key = text.slice(1).trim();
    checkKey(key);
    return { key, op: '!', values: [] };
  }
  const setMatch = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(text);
  if (setMatch) {
    const key = setMatch[1] ?? '';
    checkKey(key);
    const values = (setMatch[3] ?? '').split(',').map((v) => v.trim());
    for (const v of values) checkValue(v);
    return { key, op: setMatch[2] === 'in' ? 'in' : 'notin', values };
  }
  const opMatch = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(text);
  if (opMatch) {
    const key = opMatch[1] ?? '';
    const value = (opMatch[3] ?? '').trim();
    checkKey(key);
    const opText = opMatch[2];
    if (opText === '>' || opText === '<') {
      if (!/^-?\d+$/.test(value)) {
        throw new SelectorError(
          `unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      }
      return { key, op: opText === '>' ? 'gt' : 'lt', values: [value] };
    }
    checkValue(value);
    return { key, op: opText === '!=' ? '!=' : '=', values: [value] };
  }
  if (/^\S+$/.test(text)) {
    checkKey(text);
    return { key: text, op: 'exists', values: [] };
  }
  throw new SelectorError(`unable to parse requirement: "${text}"`);
}

/** `parseLabelSelector` parses a `labelSelector` query value; empty selects everything. */
export function parseLabelSelector(text: string | undefined): LabelSelector {
  if (text === undefined || text.trim() === '') return () => true;
  const reqs = splitTopLevel(text).map(parseRequirement);
  return (labels) =>
    reqs.every((req) => {
      const has = Object.hasOwn(labels, req.key);
      const value = labels[req.key];
      switch (req.op) {
        case 'exists':
          return has;
        case '!':
          return !has;
        case '=':
        case 'in':
          return has && value !== undefined && req.values.includes(value);
        case '!=':
        case 'notin':
          return !has || value === undefined || !req.values.includes(value);
        case 'gt':
        case 'lt': {
          if (value === undefined || !/^-?\d+$/.test(value)) return false;
          const n = Number(value);
          const bound = Number(req.values[0]);
          return req.op === 'gt' ? n > bound : n < bound;
        }
      }
      return false;
    });
}

interface FieldRequirement {
  readonly field: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

/** `FieldSelector` matches the field map of an object (see {@link fieldsOf}). */
export type FieldSelector = (fields: Readonly<Record<string, string>>) => boolean;

/** Splits on unescaped commas; `\,` `\=` `\!` `\\` are escapes, as in `fields.ParseSelector`. */
function splitEscaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[i + 1];
      i++;
    } else if (ch === sep) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function unescapeField(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/**
 * `parseFieldSelector` parses a `fieldSelector` query value and checks every field against the
 * kind's indexed fields (`supported`), failing like the real server does for any other field.
 */
export function parseFieldSelector(text: string | undefined, supported: readonly string[]): FieldSelector {
  if (text === undefined || text.trim() === '') return () => true;
  const reqs: FieldRequirement[] = [];
  for (const part of splitEscaped(text, ',')) {
    if (part.trim() === '') continue;
    const m = /^((?:[^=!\\]|\\.)+?)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = (m[1] ?? '').trim();
    if (!supported.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
    reqs.push({ field, op: m[2] === '!=' ? '!=' : '=', value: unescapeField(m[3] ?? '') });
  }
  return (fields) =>
    reqs.every((req) => {
      const actual = fields[req.field] ?? '';
      return req.op === '=' ? actual === req.value : actual !== req.value;
    });
}

function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * The fields each kind indexes for field selectors, by `group/resource` (the real registries'
 * `GetAttrs`/`SelectableFields`). Every kind has `metadata.name`; namespaced kinds add
 * `metadata.namespace`.
 */
const extraFields: Readonly<Record<string, readonly string[]>> = {
  '/secrets': ['type'],
  '/pods': [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  '/nodes': ['spec.unschedulable'],
  '/namespaces': ['status.phase'],
  '/events': [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  'events.k8s.io/events': [
    'regarding.kind',
    'regarding.namespace',
    'regarding.name',
    'regarding.uid',
    'regarding.apiVersion',
    'regarding.resourceVersion',
    'regarding.fieldPath',
    'reason',
    'reportingController',
    'type',
  ],
};

/** `supportedFields` lists the selectable fields of a resource. */
export function supportedFields(group: string, resource: string, namespaced: boolean): readonly string[] {
  return [
    'metadata.name',
    ...(namespaced ? ['metadata.namespace'] : []),
    ...(extraFields[`${group}/${resource}`] ?? []),
  ];
}

/** `fieldsOf` extracts the selectable field values of an object. */
export function fieldsOf(obj: unknown, fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of fields) {
    if (field === 'source') {
      out[field] = str(at(obj, 'source.component'));
    } else {
      out[field] = str(at(obj, field));
    }
  }
  return out;
}
