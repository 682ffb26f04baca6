/**
 * `ingress-admission` decides one AdmissionRequest for an Ingress with the controller's own code:
 * the same `translate` (class selection, `validateIngress`, backend resolution) run on the one
 * object, plus a look-up of its paths in an index of the routes currently served.
 *
 * SECURITY: admission only parses and validates. It never renders configuration, never writes a
 * file, never runs a program or a config test on the object under review. ingress-nginx's
 * CVE-2025-1974 ("IngressNightmare") came from its webhook rendering an nginx configuration from
 * the reviewed object and running `nginx -t` on it, which let anyone able to reach the webhook run
 * code in the controller. Keep it that way: a new check plugs into `validateIngress` (a pure
 * function of the object), not into anything that executes.
 */

import { readIngressAnnotations } from '../model/annotations/registry.js';
import type { Diagnostic } from '../model/diagnostics.js';
import type { Ingress, IngressClass, Service } from '../model/objects.js';
import { resolveRateLimitPolicies } from '../model/rate-limit-policy.js';
import { routeKey } from '../model/translate/conflicts.js';
import type { TranslateOptions } from '../model/translate/translate.js';
import { DEFAULT_BACKEND_FLAG, translate } from '../model/translate/translate.js';
import type { Route, RoutingModel } from '../model/types.js';
import type { ObjectStore, StoredObject } from '../store/object-store.js';
import { objectKey } from '../util/keys.js';
import type { AdmissionRequest, AdmissionVerdict } from './review.js';

/** `IngressAdmissionOptions` is what a review reads: settings, the store and the served model. */
export interface IngressAdmissionOptions {
  readonly translate: TranslateOptions;
  readonly store: ObjectStore;
  /** The model the controller serves now; undefined before the first sync. */
  readonly currentModel: () => RoutingModel | undefined;
  /** See `AdmissionServerOptions.secretExists`. */
  readonly secretExists?: SecretExists;
}

/**
 * `SecretExists` says whether a Secret exists: true, false, or undefined when it cannot tell (e.g.
 * its namespace is not watched). No warning is given for undefined.
 */
export type SecretExists = (namespace: string, name: string) => boolean | undefined;

/** `AdmissionOutcome` is a verdict plus the object it is about (`"Ingress ns/name"`), for logs. */
export interface AdmissionOutcome {
  readonly verdict: AdmissionVerdict;
  readonly object?: string;
}

/** `MAX_LISTED` caps how many problems a denial message spells out; the rest are counted. */
const MAX_LISTED = 10;

const ALLOW: AdmissionVerdict = Object.freeze({ allowed: true, warnings: Object.freeze([]) });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `canaryWarnings` names the paths of a canary Ingress that no main route serves (they serve nothing). */
function canaryWarnings(ingress: Ingress, index: RouteIndex): string[] {
  const out: string[] = [];
  (ingress.spec?.rules ?? []).forEach((rule, i) => {
    const host = (rule.host ?? '').toLowerCase();
    (rule.http?.paths ?? []).forEach((entry, j) => {
      const path = entry.path === undefined || entry.path === '' ? '/' : entry.path;
      const owner = index.owner(routeKey(host, path, entry.pathType as Route['pathType']));
      if (owner === undefined || owner.pathType !== entry.pathType) {
        out.push(
          `spec.rules[${i}].http.paths[${j}].path: canary for path "${path}" (${entry.pathType}) on ${describeHost(host)} has no main route yet: it serves nothing until a main Ingress defines this host, path and pathType`,
        );
      }
    });
  });
  return out;
}

function describeHost(host: string): string {
  return host === '' ? 'rules without host' : `host "${host}"`;
}

function describeDiagnostic(d: Diagnostic): string {
  return d.field === '' ? d.message : `${d.field}: ${d.message}`;
}

function listed(items: readonly string[]): string {
  const shown = items.slice(0, MAX_LISTED).join('; ');
  return items.length > MAX_LISTED ? `${shown}; and ${items.length - MAX_LISTED} more` : shown;
}

/**
 * `RouteIndex` maps each served host+path+pathType (the conflict key of `routeKey`) to the route
 * that owns it. Built once per model, so a review costs a few map look-ups however many Ingresses
 * the cluster has.
 */
export class RouteIndex {
  readonly #owners = new Map<string, Route>();
  readonly catchAll: string | undefined;

  constructor(model: RoutingModel) {
    for (const route of model.routes)
      this.#owners.set(routeKey(route.host, route.path, route.pathType, route.regex), route);
    this.catchAll = model.catchAll?.ingress;
  }

  /** `owner` returns the route that serves `key`, if any. */
  owner(key: string): Route | undefined {
    return this.#owners.get(key);
  }

  /** `size` is the number of indexed routes. */
  get size(): number {
    return this.#owners.size;
  }
}

/**
 * `IngressAdmission` answers reviews. `onModel` must be called with every model the controller
 * publishes; until the first one, path collisions cannot be checked and the review says so in a
 * warning instead of guessing.
 */
export class IngressAdmission {
  readonly #options: IngressAdmissionOptions;
  #indexed: RoutingModel | undefined;
  #index: RouteIndex | undefined;

  constructor(options: IngressAdmissionOptions) {
    this.#options = options;
  }

  /** `onModel` rebuilds the route index from a newly published model (a no-op for the same model). */
  onModel(model: RoutingModel): void {
    if (model === this.#indexed) return;
    this.#indexed = model;
    this.#index = new RouteIndex(model);
  }

  #currentIndex(): RouteIndex | undefined {
    // The server may start after the controller published; pick that model up on first use.
    const model = this.#options.currentModel();
    if (model !== undefined) this.onModel(model);
    return this.#index;
  }

  /** `review` decides one request. Anything but CREATE/UPDATE of a networking.k8s.io Ingress is allowed. */
  review(request: AdmissionRequest): AdmissionOutcome {
    const { resource } = request;
    if (resource.group !== 'networking.k8s.io' || resource.resource !== 'ingresses')
      return { verdict: ALLOW };
    // Status writes (ours included) are not content changes; DELETE must never be blocked by routing.
    if (request.subResource !== undefined) return { verdict: ALLOW };
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { verdict: ALLOW };

    const stored = this.#storedIngress(request.object, request);
    if (!stored) {
      return {
        verdict: {
          allowed: false,
          status: { code: 400, reason: 'BadRequest', message: `request.object is not an Ingress object` },
          warnings: [],
        },
      };
    }
    const meta = stored.object.metadata;
    const self = objectKey(meta.namespace, String(meta.name));
    const label = `Ingress ${self}`;
    const result = this.#translateOne(stored);
    const report = result.ingresses[0];
    if (report === undefined || report.state === 'ignored') return { verdict: ALLOW, object: label };

    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      return {
        object: label,
        verdict: {
          allowed: false,
          status: {
            code: 400,
            reason: 'BadRequest',
            message: `${label} is invalid: ${listed(errors.map(describeDiagnostic))}`,
          },
          warnings: [],
        },
      };
    }

    // A canary translated alone never finds its main route; whether it does is checked below.
    const warnings = result.diagnostics
      .filter((d) => d.severity === 'warning' && d.code !== 'PORTICO_WARN_CANARY')
      .map(describeDiagnostic);
    warnings.push(...this.#secretWarnings(stored.object));

    const index = this.#currentIndex();
    if (!index) {
      warnings.push(
        'Portico has not synced with the cluster yet: path collisions with other Ingresses were not checked',
      );
      return { object: label, verdict: { allowed: true, warnings } };
    }
    // An UPDATE may keep a collision it already had (it is then a loser at runtime, and blocking
    // unrelated edits to it would help nobody); it may not add a new one.
    const kept = request.operation === 'UPDATE' ? this.#servedKeys(request.oldObject, request) : new Set();
    const collisions: string[] = [];
    for (const route of result.routes) {
      const key = routeKey(route.host, route.path, route.pathType, route.regex);
      const owner = index.owner(key);
      if (owner === undefined || owner.ingress === self) continue;
      const what = `path "${route.path}" (${route.pathType}) on ${describeHost(route.host)}`;
      if (kept.has(key)) {
        warnings.push(
          `${route.field}.path: ${what} is ignored: already defined by Ingress ${owner.ingress} (older)`,
        );
      } else {
        collisions.push(`${route.field}.path: ${what} is already defined by Ingress ${owner.ingress}`);
      }
    }
    if (collisions.length > 0) {
      return {
        object: label,
        verdict: {
          allowed: false,
          status: {
            code: 403,
            reason: 'Forbidden',
            message: `${label} collides with existing Ingresses (the oldest Ingress keeps a path): ${listed(collisions)}`,
          },
          warnings,
        },
      };
    }
    if (readIngressAnnotations(stored.object).canary !== undefined) {
      warnings.push(...canaryWarnings(stored.object, index));
    }
    const hasRules = (stored.object.spec?.rules ?? []).length > 0;
    if (
      !hasRules &&
      stored.object.spec?.defaultBackend &&
      index.catchAll !== undefined &&
      index.catchAll !== self &&
      index.catchAll !== DEFAULT_BACKEND_FLAG
    ) {
      warnings.push(
        `spec.defaultBackend: not used as the catch-all while Ingress ${index.catchAll} (older) supplies it`,
      );
    }
    return { object: label, verdict: { allowed: true, warnings } };
  }

  /**
   * `#storedIngress` fills in what the API server may leave out of an embedded object: `kind`, and
   * the namespace and name it sends beside the object.
   */
  #storedIngress(object: unknown, request: AdmissionRequest): StoredObject<Ingress> | undefined {
    if (!isRecord(object) || !isRecord(object['metadata'])) return undefined;
    const metadata = object['metadata'];
    const namespace =
      typeof metadata['namespace'] === 'string' && metadata['namespace'] !== ''
        ? metadata['namespace']
        : (request.namespace ?? 'default');
    const name =
      typeof metadata['name'] === 'string' && metadata['name'] !== '' ? metadata['name'] : request.name;
    const ingress = {
      ...object,
      kind: 'Ingress',
      metadata: { ...metadata, namespace, ...(name !== undefined ? { name } : {}) },
    } as unknown as Ingress;
    return { object: ingress };
  }

  /** `#translateOne` runs translation on one Ingress with the classes and the Services it names. */
  #translateOne(stored: StoredObject<Ingress>): RoutingModel {
    const { store } = this.#options;
    const ingressClasses: StoredObject<IngressClass>[] = store.list('IngressClass');
    const services: StoredObject<Service>[] = [];
    const namespace = stored.object.metadata.namespace;
    for (const name of referencedServices(stored.object)) {
      const svc = store.get('Service', namespace, name);
      if (svc) services.push(svc);
    }
    // The referenced RateLimitPolicy only: its state decides the warnings the user is shown. Without
    // the controller's history a rejected policy reads as never good, which only words the warning.
    const annotations = readIngressAnnotations(stored.object);
    const ref = annotations.rateLimitPolicy;
    const policy = ref === undefined ? undefined : store.get('RateLimitPolicy', ref.namespace, ref.name);
    const rateLimitPolicies = resolveRateLimitPolicies(policy === undefined ? [] : [policy]).policies;
    // What response-shaping annotations name (issue 8): the error backend and the headers ConfigMap.
    const shaping = annotations.responseShaping;
    const errorService = shaping?.customErrors?.backend?.value;
    const errorSvc = errorService === undefined ? undefined : store.get('Service', namespace, errorService);
    if (errorSvc !== undefined) services.push(errorSvc);
    const headers = shaping?.customHeaders?.value;
    const headersCm =
      headers === undefined
        ? undefined
        : store.get('ConfigMap', headers.namespace ?? namespace ?? 'default', headers.name);
    return translate(
      {
        ingresses: [stored],
        ingressClasses,
        services,
        rateLimitPolicies,
        ...(headersCm !== undefined ? { configMaps: [headersCm] } : {}),
      },
      this.#options.translate,
    );
  }

  /** `#servedKeys` returns the conflict keys the previous version of the object claimed, if it was ours. */
  #servedKeys(oldObject: unknown, request: AdmissionRequest): Set<string> {
    const stored = this.#storedIngress(oldObject, request);
    if (!stored) return new Set();
    const result = this.#translateOne(stored);
    if (result.ingresses[0]?.state !== 'served') return new Set();
    return new Set(result.routes.map((r) => routeKey(r.host, r.path, r.pathType, r.regex)));
  }

  /**
   * `#secretWarnings` reports TLS Secrets that do not exist (yet) in the store. A warning, never a
   * denial: apply order must not matter, and the Secret may be created a moment later (or issued by
   * cert-manager after the Ingress exists).
   */
  #secretWarnings(ingress: Ingress): string[] {
    const out: string[] = [];
    const namespace = ingress.metadata.namespace ?? 'default';
    const { store, secretExists } = this.#options;
    (ingress.spec?.tls ?? []).forEach((tls, i) => {
      const name = tls.secretName;
      if (name === undefined || name === '') return;
      const secret = store.get('Secret', namespace, name);
      // NOTE: in cluster mode the store holds only Secrets some served Ingress already references
      // (src/k8s/secrets.ts), so absence from the store proves nothing; `secretExists` asks the
      // Secret informers instead. Without it (file mode, tests) the store is the whole truth.
      const exists = secret !== undefined ? true : secretExists ? secretExists(namespace, name) : false;
      if (exists === false) {
        out.push(
          `spec.tls[${i}].secretName: secret "${namespace}/${name}" not found: its hosts get the default certificate until it exists`,
        );
        return;
      }
      const data = secret?.object.data;
      if (data !== undefined && (data['tls.crt'] === undefined || data['tls.key'] === undefined)) {
        out.push(
          `spec.tls[${i}].secretName: secret "${namespace}/${name}" has no tls.crt and tls.key: its hosts get the default certificate`,
        );
      }
    });
    return out;
  }
}

/**
 * `referencedServices` lists the Service names an Ingress points at. It runs before validation (on
 * whatever the request held), so it reads the object as `unknown` and skips every oddity: translation
 * rejects those objects anyway.
 */
function referencedServices(ingress: Ingress): Set<string> {
  const names = new Set<string>();
  const spec = ingress.spec;
  const add = (name: unknown): void => {
    if (typeof name === 'string' && name !== '') names.add(name);
  };
  add(spec?.defaultBackend?.service?.name);
  for (const rule of Array.isArray(spec?.rules) ? (spec?.rules ?? []) : []) {
    const paths = isRecord(rule) && isRecord(rule.http) ? rule.http.paths : undefined;
    if (!Array.isArray(paths)) continue;
    for (const entry of paths) {
      if (isRecord(entry) && isRecord(entry.backend) && isRecord(entry.backend.service)) {
        add(entry.backend.service.name);
      }
    }
  }
  return names;
}
