/**
 * `builders` makes Kubernetes objects for tests without YAML literals (Contour's `fixture` style):
 * `ingress('shop').host('a.example').prefix('/', svc('web', 80)).build()`.
 */

import { compileSnapshot } from '../../src/compile/snapshot.js';
import type { RouteSnapshot } from '../../src/compile/types.js';
import type {
  ConfigMap,
  Endpoint,
  EndpointSlice,
  HTTPIngressPath,
  Ingress,
  IngressBackend,
  IngressClass,
  IngressRule,
  KubeObject,
  ObjectMeta,
  PathType,
  RateLimitPolicy,
  Service,
  ServicePort,
} from '../../src/model/objects.js';
import { SERVICE_NAME_LABEL } from '../../src/model/objects.js';
import { resolveRateLimitPolicies } from '../../src/model/rate-limit-policy.js';
import type { TranslateInput, TranslateOptions } from '../../src/model/translate/translate.js';
import { translate } from '../../src/model/translate/translate.js';
import type { StoredObject } from '../../src/store/object-store.js';

/** `CONTROLLER` is the `spec.controller` value tests use for Portico's IngressClasses. */
export const CONTROLLER = 'portico.dev/ingress-controller';

/** `TEST_OPTIONS` are translate options matching `CONTROLLER` and the `portico` class. */
export const TEST_OPTIONS: TranslateOptions = Object.freeze({
  controllerClass: CONTROLLER,
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/** `svc` is a Service backend on a port number or port name: `svc('web', 80)`, `svc('web', 'http')`. */
export function svc(name: string, port: number | string): IngressBackend {
  return { service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } };
}

/** `resource` is a `resource` backend (e.g. a storage bucket), which Portico does not support. */
export function resource(kind: string, name: string, apiGroup?: string): IngressBackend {
  return { resource: apiGroup === undefined ? { kind, name } : { kind, name, apiGroup } };
}

class MetaBuilder {
  protected readonly meta: Mutable<ObjectMeta>;

  constructor(name: string, namespace: string | undefined) {
    this.meta = namespace === undefined ? { name } : { name, namespace };
  }

  /** `ns` sets the namespace. */
  ns(namespace: string): this {
    this.meta.namespace = namespace;
    return this;
  }

  /** `created` sets `creationTimestamp` (RFC 3339). */
  created(timestamp: string): this {
    this.meta.creationTimestamp = timestamp;
    return this;
  }

  /** `annotate` adds one annotation. */
  annotate(key: string, value: string): this {
    this.meta.annotations = { ...this.meta.annotations, [key]: value };
    return this;
  }

  /** `label` adds one label. */
  label(key: string, value: string): this {
    this.meta.labels = { ...this.meta.labels, [key]: value };
    return this;
  }

  /** `resourceVersion` sets `metadata.resourceVersion`. */
  resourceVersion(version: string): this {
    this.meta.resourceVersion = version;
    return this;
  }

  protected metadata(): ObjectMeta {
    return structuredClone(this.meta);
  }
}

interface RuleDraft {
  host?: string;
  paths?: HTTPIngressPath[];
}

/** `IngressBuilder` builds an Ingress; paths attach to the rule most recently opened by `host`/`rule`. */
export class IngressBuilder extends MetaBuilder {
  #className: string | undefined;
  #defaultBackend: IngressBackend | undefined;
  #rules: RuleDraft[] = [];
  #tls: { hosts?: string[]; secretName?: string }[] = [];

  /** `cls` sets `spec.ingressClassName`. */
  cls(name: string): this {
    this.#className = name;
    return this;
  }

  /** `classAnnotation` sets the legacy `kubernetes.io/ingress.class` annotation. */
  classAnnotation(value: string): this {
    return this.annotate('kubernetes.io/ingress.class', value);
  }

  /** `host` opens a new rule for `host`; following path calls add to it. */
  host(host: string): this {
    this.#rules.push({ host });
    return this;
  }

  /** `rule` opens a new rule without host. */
  rule(): this {
    this.#rules.push({});
    return this;
  }

  /**
   * `hostOnly` adds a rule with a host and no `http` (its traffic goes to the default backend). It is
   * `host` under a name that says no paths will follow.
   */
  hostOnly(host: string): this {
    return this.host(host);
  }

  /** `path` adds a path of any (even invalid) type to the current rule; omit `path` to leave it unset. */
  path(path: string | undefined, pathType: PathType | string | undefined, backend: IngressBackend): this {
    let rule = this.#rules.at(-1);
    if (!rule) {
      rule = {};
      this.#rules.push(rule);
    }
    const entry: Mutable<HTTPIngressPath> = { backend: structuredClone(backend) } as Mutable<HTTPIngressPath>;
    if (path !== undefined) entry.path = path;
    if (pathType !== undefined) entry.pathType = pathType;
    rule.paths = [...(rule.paths ?? []), entry];
    return this;
  }

  /** `prefix` adds a Prefix path. */
  prefix(path: string, backend: IngressBackend): this {
    return this.path(path, 'Prefix', backend);
  }

  /** `exact` adds an Exact path. */
  exact(path: string, backend: IngressBackend): this {
    return this.path(path, 'Exact', backend);
  }

  /** `implSpecific` adds an ImplementationSpecific path. */
  implSpecific(path: string | undefined, backend: IngressBackend): this {
    return this.path(path, 'ImplementationSpecific', backend);
  }

  /** `defaultBackend` sets `spec.defaultBackend`. */
  defaultBackend(backend: IngressBackend): this {
    this.#defaultBackend = structuredClone(backend);
    return this;
  }

  /** `tls` adds a `spec.tls` entry. */
  tls(secretName: string, ...hosts: string[]): this {
    this.#tls.push({ secretName, hosts });
    return this;
  }

  /** `build` returns the Ingress. */
  build(): Ingress {
    const spec: Mutable<NonNullable<Ingress['spec']>> = {};
    if (this.#className !== undefined) spec.ingressClassName = this.#className;
    if (this.#defaultBackend) spec.defaultBackend = structuredClone(this.#defaultBackend);
    if (this.#rules.length > 0) {
      spec.rules = this.#rules.map((r) => {
        const rule: Mutable<IngressRule> = {};
        if (r.host !== undefined) rule.host = r.host;
        if (r.paths) rule.http = { paths: structuredClone(r.paths) };
        return rule;
      });
    }
    if (this.#tls.length > 0) spec.tls = structuredClone(this.#tls);
    return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: this.metadata(), spec };
  }
}

/** `ingress` starts an Ingress in namespace `default`. */
export function ingress(name: string): IngressBuilder {
  return new IngressBuilder(name, 'default');
}

/** `IngressClassBuilder` builds an IngressClass. */
export class IngressClassBuilder extends MetaBuilder {
  #controller: string = CONTROLLER;

  /** `controller` sets `spec.controller` (default: Portico's). */
  controller(controller: string): this {
    this.#controller = controller;
    return this;
  }

  /** `isDefault` marks the class as the cluster default. */
  isDefault(value = true): this {
    return this.annotate('ingressclass.kubernetes.io/is-default-class', String(value));
  }

  /** `build` returns the IngressClass. */
  build(): IngressClass {
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: this.metadata(),
      spec: { controller: this.#controller },
    };
  }
}

/** `ingressClass` starts a cluster-scoped IngressClass handled by Portico. */
export function ingressClass(name: string): IngressClassBuilder {
  return new IngressClassBuilder(name, undefined);
}

/** `ServiceBuilder` builds a Service. */
export class ServiceBuilder extends MetaBuilder {
  #ports: ServicePort[] = [];
  #externalName: string | undefined;

  /** `port` adds a TCP port, optionally named, with its target port (default: same number). */
  port(port: number, name?: string, targetPort?: number | string): this {
    const p: Mutable<ServicePort> = { port, protocol: 'TCP', targetPort: targetPort ?? port };
    if (name !== undefined) p.name = name;
    this.#ports.push(p);
    return this;
  }

  /** `externalName` makes this an ExternalName Service pointing at `hostname`. */
  externalName(hostname: string): this {
    this.#externalName = hostname;
    return this;
  }

  /** `build` returns the Service. */
  build(): Service {
    const spec: Mutable<NonNullable<Service['spec']>> =
      this.#externalName === undefined
        ? { type: 'ClusterIP', selector: { app: this.meta.name } }
        : { type: 'ExternalName', externalName: this.#externalName };
    if (this.#ports.length > 0) spec.ports = structuredClone(this.#ports);
    return { apiVersion: 'v1', kind: 'Service', metadata: this.metadata(), spec };
  }
}

/** `service` starts a Service in namespace `default`. */
export function service(name: string): ServiceBuilder {
  return new ServiceBuilder(name, 'default');
}

/** `EndpointSliceBuilder` builds an EndpointSlice. */
export class EndpointSliceBuilder extends MetaBuilder {
  #addressType = 'IPv4';
  #ports: { name?: string; port: number; protocol: string }[] = [];
  #endpoints: Endpoint[] = [];

  /** `forService` sets the `kubernetes.io/service-name` label. */
  forService(name: string): this {
    return this.label(SERVICE_NAME_LABEL, name);
  }

  /** `addressType` sets IPv4 (default), IPv6 or FQDN. */
  addressType(type: 'IPv4' | 'IPv6' | 'FQDN'): this {
    this.#addressType = type;
    return this;
  }

  /** `port` adds a port; `name` '' or undefined is the unnamed port. */
  port(name: string | undefined, port: number): this {
    this.#ports.push(name === undefined ? { port, protocol: 'TCP' } : { name, port, protocol: 'TCP' });
    return this;
  }

  /** `ready` adds endpoints with `conditions.ready: true`. */
  ready(...addresses: string[]): this {
    for (const a of addresses)
      this.#endpoints.push({ addresses: [a], conditions: { ready: true, serving: true } });
    return this;
  }

  /** `notReady` adds endpoints with `conditions.ready: false`. */
  notReady(...addresses: string[]): this {
    for (const a of addresses)
      this.#endpoints.push({ addresses: [a], conditions: { ready: false, serving: false } });
    return this;
  }

  /** `unknown` adds endpoints without any condition (which means ready). */
  unknown(...addresses: string[]): this {
    for (const a of addresses) this.#endpoints.push({ addresses: [a] });
    return this;
  }

  /** `build` returns the EndpointSlice. */
  build(): EndpointSlice {
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: this.metadata(),
      addressType: this.#addressType,
      endpoints: structuredClone(this.#endpoints),
      ports: structuredClone(this.#ports),
    };
  }
}

/** `endpointSlice` starts an EndpointSlice in namespace `default`. */
export function endpointSlice(name: string): EndpointSliceBuilder {
  return new EndpointSliceBuilder(name, 'default');
}

/** `EchoOptions` tune `echoService`. */
export interface EchoOptions {
  readonly ns?: string;
  /** Service port number (default 80). */
  readonly port?: number;
  /** Service port name (default: unnamed). */
  readonly portName?: string;
  /** Ready endpoint addresses (default 127.0.0.1). */
  readonly addresses?: readonly string[];
  /** Endpoint (target) port (default 8080). */
  readonly targetPort?: number;
}

/**
 * `echoService` returns a Service and its EndpointSlice with ready loopback endpoints, so the same
 * manifests work for pure tests and for a runner that starts real backends.
 */
export function echoService(name: string, options: EchoOptions = {}): [Service, EndpointSlice] {
  const ns = options.ns ?? 'default';
  const port = options.port ?? 80;
  const targetPort = options.targetPort ?? 8080;
  return [
    service(name).ns(ns).port(port, options.portName, targetPort).build(),
    endpointSlice(`${name}-1`)
      .ns(ns)
      .forService(name)
      .port(options.portName ?? '', targetPort)
      .ready(...(options.addresses ?? ['127.0.0.1']))
      .build(),
  ];
}

/** `stored` wraps an object as the store keeps it. */
export function stored<T extends KubeObject>(object: T): StoredObject<T> {
  return { object };
}

/** `inputFrom` sorts a mixed list of objects into a `TranslateInput` (other kinds are dropped). */
export function inputFrom(objects: readonly KubeObject[]): TranslateInput {
  const ingresses: StoredObject<Ingress>[] = [];
  const ingressClasses: StoredObject<IngressClass>[] = [];
  const services: StoredObject<Service>[] = [];
  const policies: StoredObject<RateLimitPolicy>[] = [];
  const configMaps: StoredObject<ConfigMap>[] = [];
  for (const o of objects) {
    if (o.kind === 'ConfigMap') configMaps.push(stored(o));
    if (o.kind === 'Ingress') ingresses.push(stored(o));
    else if (o.kind === 'IngressClass') ingressClasses.push(stored(o));
    else if (o.kind === 'Service') services.push(stored(o));
    else if (o.kind === 'RateLimitPolicy') policies.push(stored(o));
  }
  // Only with policies (ConfigMaps), so inputs of every other test stay as they were.
  const withConfigMaps = configMaps.length > 0 ? { configMaps } : {};
  if (policies.length === 0) return { ingresses, ingressClasses, services, ...withConfigMaps };
  return {
    ingresses,
    ingressClasses,
    services,
    rateLimitPolicies: resolveRateLimitPolicies(policies).policies,
    ...withConfigMaps,
  };
}

/** `slicesOf` picks the EndpointSlices out of a mixed list of objects. */
export function slicesOf(objects: readonly KubeObject[]): EndpointSlice[] {
  return objects.filter((o): o is EndpointSlice => o.kind === 'EndpointSlice');
}

/** `routeObjects` runs objects through `translate` and `compileSnapshot` (generation 1). */
export function routeObjects(
  objects: readonly KubeObject[],
  options: Partial<TranslateOptions> = {},
): RouteSnapshot {
  return compileSnapshot(translate(inputFrom(objects), { ...TEST_OPTIONS, ...options }), 1);
}

/** `answer` summarises a lookup as the backend key (`ns/svc:port`) or `not-found`. */
export function answer(snapshot: RouteSnapshot, host: string, path: string): string {
  const m = snapshot.match(host, path);
  return m.backend?.key ?? 'not-found';
}
