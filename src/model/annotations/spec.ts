/**
 * `spec` defines how annotation families are declared and read. Every annotation Portico
 * understands is a row in a family table (`defineAnnotations`): its validator, scope, risk,
 * documentation and the prefixes it is read under. Values are read only through those tables
 * (`AnnotationReader.read` takes a typed key), so an annotation cannot be used without a spec,
 * and `npm run gen:docs` renders docs/annotations.md from the same rows (DESIGN §3).
 */
import type { Parsed, Validator } from '../settings/validators.js';

export type { Parsed, Validator } from '../settings/validators.js';

/** `Prefix` is an annotation namespace Portico reads. */
export type Prefix = 'portico.dev' | 'nginx.ingress.kubernetes.io';

/** `PREFIXES` in precedence order: when both spellings are set, Portico's own wins. */
export const PREFIXES: readonly Prefix[] = ['portico.dev', 'nginx.ingress.kubernetes.io'];

/**
 * `Scope` says what a value applies to: `location` values apply to the routes of the Ingress that
 * sets them; `host` values apply to the whole host, and the oldest Ingress of the host that sets
 * them wins (ingress-nginx's server-level annotations).
 */
export type Scope = 'host' | 'location';

/** `Risk` follows ingress-nginx's annotation risk levels (what a hostile Ingress author could do). */
export type Risk = 'low' | 'medium' | 'high' | 'critical';

/** `AnnotationSpec` is one row of a family table. */
export interface AnnotationSpec<T> {
  readonly validate: Validator<T>;
  readonly scope: Scope;
  readonly risk: Risk;
  /** The value in force when the annotation is absent, as users write it (for the docs). */
  readonly default: string;
  readonly doc: string;
  /** Older names read as well (e.g. `whitelist-source-range`); the main name wins when both are set. */
  readonly aliases?: readonly string[];
  /** Where the meaning differs from ingress-nginx's annotation of the same name. */
  readonly differs?: string;
  /** Prefixes this key is read under (default: both). */
  readonly prefixes?: readonly Prefix[];
}

/** `AnnotationTable` maps annotation names (without prefix) to their specs. */
// biome-ignore lint/suspicious/noExplicitAny: the value type of each row is recovered by `ValueOf`.
export type AnnotationTable = Readonly<Record<string, AnnotationSpec<any>>>;

/** `ValueOf` is the parsed type of one row. */
export type ValueOf<S> = S extends AnnotationSpec<infer T> ? T : never;

/** `AnnotationFamily` is one named table (one module per family). */
export interface AnnotationFamily<T extends AnnotationTable> {
  readonly family: string;
  /** One sentence about the family, for the docs. */
  readonly summary: string;
  readonly specs: T;
}

/** `defineAnnotations` declares a family; the table type is kept so reads are typed by key. */
export function defineAnnotations<T extends AnnotationTable>(
  family: string,
  summary: string,
  specs: T,
): AnnotationFamily<T> {
  return Object.freeze({ family, summary, specs });
}

/**
 * `AnnotationResult` is a family parser's outcome (ingress-nginx's taxonomy as a union):
 * `absent` keeps defaults; `invalid` rejects the Ingress (its last good version keeps serving);
 * `deny` fails closed — the configuration is well-formed but must not be served (the routes it
 * covers answer 503, everything else keeps serving).
 */
export type AnnotationResult<T> =
  | { readonly kind: 'absent' }
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'deny'; readonly value: T; readonly reason: string };

/** `FieldValue` is one annotation read successfully, with where it was written. */
export interface FieldValue<T> {
  readonly value: T;
  /** The full key as written, e.g. `nginx.ingress.kubernetes.io/ssl-redirect`. */
  readonly key: string;
  /** Diagnostic field path, e.g. `metadata.annotations["nginx.ingress.kubernetes.io/ssl-redirect"]`. */
  readonly field: string;
}

/** `annotationField` is the diagnostic field path of an annotation key. */
export function annotationField(key: string): string {
  return `metadata.annotations[${JSON.stringify(key)}]`;
}

/** `AnnotationProblem` is an invalid value: the reader collects them, the registry reports them. */
export interface AnnotationProblem {
  readonly field: string;
  readonly message: string;
}

/**
 * `AnnotationReader` reads one Ingress's annotations through family tables. Invalid values are
 * collected (not thrown) and read as absent, so a parser sees only good values and the registry
 * rejects the Ingress with every problem listed at once.
 */
export class AnnotationReader {
  readonly #annotations: Readonly<Record<string, unknown>>;
  readonly #problems: AnnotationProblem[] = [];
  readonly #warnings: AnnotationProblem[] = [];
  /** Full keys read through a table (the rest are reported as unknown). */
  readonly #consumed = new Set<string>();
  /** The Ingress's namespace, for Secret references. */
  readonly namespace: string;

  constructor(annotations: Readonly<Record<string, unknown>> | undefined, namespace: string) {
    this.#annotations = annotations ?? {};
    this.namespace = namespace;
  }

  get problems(): readonly AnnotationProblem[] {
    return this.#problems;
  }

  /** `warnings` are well-formed values that are ignored (e.g. a spelling another one overrides). */
  get warnings(): readonly AnnotationProblem[] {
    return this.#warnings;
  }

  /** `warning` records a value that is read but not used; the Ingress is still served. */
  warning(field: string, message: string): void {
    this.#warnings.push({ field, message });
  }

  /** `consumed` says whether a full key belongs to a table that was read. */
  consumed(key: string): boolean {
    return this.#consumed.has(key);
  }

  /** `problem` records an invalid combination found by a family parser (e.g. verify without a CA). */
  problem(field: string, message: string): void {
    this.#problems.push({ field, message });
  }

  /**
   * `read` returns the value of `name` in `family`, undefined when absent or invalid. Precedence:
   * the main name before aliases, `portico.dev/` before `nginx.ingress.kubernetes.io/`.
   */
  read<T extends AnnotationTable, K extends keyof T & string>(
    family: AnnotationFamily<T>,
    name: K,
  ): FieldValue<ValueOf<T[K]>> | undefined {
    const spec = family.specs[name];
    if (spec === undefined) throw new Error(`annotation ${name} is not in family ${family.family}`);
    const prefixes = spec.prefixes ?? PREFIXES;
    let found: { key: string; raw: unknown } | undefined;
    for (const n of [name, ...(spec.aliases ?? [])]) {
      for (const prefix of prefixes) {
        const key = `${prefix}/${n}`;
        this.#consumed.add(key);
        if (found === undefined && Object.hasOwn(this.#annotations, key)) {
          found = { key, raw: this.#annotations[key] };
        }
      }
    }
    if (found === undefined) return undefined;
    const field = annotationField(found.key);
    if (typeof found.raw !== 'string') {
      this.#problems.push({ field, message: 'must be a string (quote it in YAML)' });
      return undefined;
    }
    const parsed: Parsed<ValueOf<T[K]>> = spec.validate(found.raw);
    if (!parsed.ok) {
      this.#problems.push({ field, message: `${JSON.stringify(found.raw)}: ${parsed.reason}` });
      return undefined;
    }
    return { value: parsed.value, key: found.key, field };
  }

  /** `keys` lists the annotation keys under Portico's prefixes, for the unknown-key check. */
  ownKeys(): string[] {
    return Object.keys(this.#annotations).filter((k) => PREFIXES.some((p) => k.startsWith(`${p}/`)));
  }
}
