/**
 * `defaults` applies the server-side defaulting and decode checks of the real apiserver for the
 * served kinds: values controllers read back (a Service port's `targetPort`, `protocol`, an
 * allocated `clusterIP`, a Secret's `type`), and the timestamp normalisation the Go types do on
 * every round trip (`metav1.Time` to seconds, `metav1.MicroTime` to microseconds).
 */
import { isRecord } from './patch.js';
import type { ResourceInfo } from './resources.js';
import { ApiError, badRequest, failure } from './status.js';

type Obj = Record<string, unknown>;

/** `Allocator` hands out ClusterIPs and NodePorts, as the real service REST does. */
export class Allocator {
  private nextIp = 10;
  private nextNodePort = 30000;
  private readonly usedNodePorts = new Set<number>();

  clusterIP(): string {
    const n = this.nextIp++;
    return `10.96.${Math.floor(n / 256) % 256}.${n % 256}`;
  }

  nodePort(): number {
    for (let i = 0; i < 2768; i++) {
      const port = this.nextNodePort;
      this.nextNodePort = port >= 32767 ? 30000 : port + 1;
      if (!this.usedNodePorts.has(port)) {
        this.usedNodePorts.add(port);
        return port;
      }
    }
    throw new ApiError(failure(500, 'InternalError', 'range is full: no NodePorts left'));
  }

  claimNodePort(port: number): void {
    this.usedNodePorts.add(port);
  }
}

/** `formatTime` renders a `metav1.Time` (RFC 3339, second precision, UTC). */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

const timePattern = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(kindName: string, field: string, value: unknown): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const m = typeof value === 'string' ? timePattern.exec(value) : null;
  const date = m ? new Date(value as string) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw badRequest(
      `${kindName} in version "v1" cannot be handled as a ${kindName}: parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00" (field ${field})`,
    );
  }
  return date;
}

function micro(value: string, date: Date): string {
  // Keep up to six fractional digits of the original text: Date has only milliseconds.
  const m = timePattern.exec(value);
  const frac = (m?.[2] ?? '.').slice(1).padEnd(6, '0').slice(0, 6);
  return `${date.toISOString().slice(0, 19)}.${frac}Z`;
}

function normaliseTime(obj: Obj, key: string, kindName: string, field: string, kind: 'time' | 'micro'): void {
  const value = obj[key];
  const date = parseTime(kindName, field, value);
  if (date === undefined) return;
  obj[key] = kind === 'time' ? formatTime(date) : micro(String(value), date);
}

function decodeError(kind: string, struct: string, field: string, got: unknown, want: string): ApiError {
  const jsonType = Array.isArray(got) ? 'array' : got === null ? 'null' : typeof got;
  return badRequest(
    `${kind} in version "v1" cannot be handled as a ${kind}: json: cannot unmarshal ${jsonType} into Go struct field ${struct}.${field} of type ${want}`,
  );
}

function checkType(
  kind: string,
  struct: string,
  field: string,
  value: unknown,
  want: 'string' | 'int32',
): void {
  if (value === undefined || value === null) return;
  if (want === 'string' && typeof value !== 'string') throw decodeError(kind, struct, field, value, 'string');
  if (
    want === 'int32' &&
    (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 2 ** 31)
  ) {
    throw decodeError(kind, struct, field, value, 'int32');
  }
}

function checkStringMap(kind: string, field: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (!isRecord(value)) throw decodeError(kind, 'ObjectMeta', field, value, 'map[string]string');
  for (const v of Object.values(value)) {
    if (typeof v !== 'string') throw decodeError(kind, 'ObjectMeta', field, v, 'string');
  }
}

/**
 * `decodeChecks` rejects bodies the Go decoder would refuse (wrong JSON types on the fields we
 * know), with the real 400 wording, and normalises timestamps as the Go types would on output.
 */
export function decodeChecks(info: ResourceInfo, obj: Obj): void {
  const meta = obj['metadata'];
  if (!isRecord(meta)) throw decodeError(info.kind, info.kind, 'metadata', meta, 'v1.ObjectMeta');
  checkType(info.kind, 'ObjectMeta', 'metadata.name', meta['name'], 'string');
  checkType(info.kind, 'ObjectMeta', 'metadata.namespace', meta['namespace'], 'string');
  checkType(info.kind, 'ObjectMeta', 'metadata.generateName', meta['generateName'], 'string');
  checkType(info.kind, 'ObjectMeta', 'metadata.resourceVersion', meta['resourceVersion'], 'string');
  checkStringMap(info.kind, 'metadata.labels', meta['labels']);
  checkStringMap(info.kind, 'metadata.annotations', meta['annotations']);
  if (info.resource === 'leases') {
    const spec = obj['spec'];
    if (spec === undefined || spec === null) return;
    if (!isRecord(spec)) throw decodeError('Lease', 'Lease', 'spec', spec, 'v1.LeaseSpec');
    checkType('Lease', 'LeaseSpec', 'spec.holderIdentity', spec['holderIdentity'], 'string');
    checkType('Lease', 'LeaseSpec', 'spec.leaseDurationSeconds', spec['leaseDurationSeconds'], 'int32');
    checkType('Lease', 'LeaseSpec', 'spec.leaseTransitions', spec['leaseTransitions'], 'int32');
    checkType('Lease', 'LeaseSpec', 'spec.strategy', spec['strategy'], 'string');
    checkType('Lease', 'LeaseSpec', 'spec.preferredHolder', spec['preferredHolder'], 'string');
    normaliseTime(spec, 'acquireTime', 'Lease', 'spec.acquireTime', 'micro');
    normaliseTime(spec, 'renewTime', 'Lease', 'spec.renewTime', 'micro');
  }
}

/** `normaliseStoredTimes` normalises timestamps of a stored (core-form) object. */
export function normaliseStoredTimes(info: ResourceInfo, obj: Obj): void {
  const meta = obj['metadata'];
  if (isRecord(meta))
    normaliseTime(meta, 'deletionTimestamp', info.kind, 'metadata.deletionTimestamp', 'time');
  if (info.storage === 'events') {
    normaliseTime(obj, 'eventTime', 'Event', 'eventTime', 'micro');
    normaliseTime(obj, 'firstTimestamp', 'Event', 'firstTimestamp', 'time');
    normaliseTime(obj, 'lastTimestamp', 'Event', 'lastTimestamp', 'time');
    const series = obj['series'];
    if (isRecord(series))
      normaliseTime(series, 'lastObservedTime', 'Event', 'series.lastObservedTime', 'micro');
  }
}

function rec(obj: Obj, key: string): Obj {
  const value = obj[key];
  if (isRecord(value)) return value;
  const fresh: Obj = {};
  obj[key] = fresh;
  return fresh;
}

/**
 * `applyDefaults` fills the fields the real server defaults or allocates. `prev` is the stored
 * object on update: allocated values (ClusterIP, NodePorts) a client omitted are carried over, as
 * the real service REST's `patchAllocatedValues` does.
 */
export function applyDefaults(info: ResourceInfo, obj: Obj, prev: Obj | undefined, alloc: Allocator): void {
  switch (`${info.group}/${info.resource}`) {
    case '/services':
      defaultService(obj, prev, alloc);
      break;
    case '/secrets':
      if (obj['type'] === undefined || obj['type'] === '') obj['type'] = 'Opaque';
      break;
    case 'discovery.k8s.io/endpointslices':
      for (const port of Array.isArray(obj['ports']) ? obj['ports'] : []) {
        if (isRecord(port) && (port['protocol'] === undefined || port['protocol'] === ''))
          port['protocol'] = 'TCP';
      }
      break;
    case '/namespaces': {
      const meta = rec(obj, 'metadata');
      const labels = rec(meta, 'labels');
      if (typeof meta['name'] === 'string') labels['kubernetes.io/metadata.name'] = meta['name'];
      const spec = rec(obj, 'spec');
      if (spec['finalizers'] === undefined) spec['finalizers'] = ['kubernetes'];
      break;
    }
  }
}

function defaultService(obj: Obj, prev: Obj | undefined, alloc: Allocator): void {
  const spec = rec(obj, 'spec');
  const prevSpec = prev && isRecord(prev['spec']) ? prev['spec'] : undefined;
  if (spec['type'] === undefined || spec['type'] === '') spec['type'] = 'ClusterIP';
  const type = spec['type'];
  if (spec['sessionAffinity'] === undefined) spec['sessionAffinity'] = 'None';
  const ports = Array.isArray(spec['ports']) ? spec['ports'] : [];
  const prevPorts = prevSpec && Array.isArray(prevSpec['ports']) ? prevSpec['ports'] : [];
  for (const port of ports) {
    if (!isRecord(port)) continue;
    if (port['protocol'] === undefined || port['protocol'] === '') port['protocol'] = 'TCP';
    if (port['targetPort'] === undefined || port['targetPort'] === 0 || port['targetPort'] === '') {
      port['targetPort'] = port['port'];
    }
    if (type === 'NodePort' || type === 'LoadBalancer') {
      if (port['nodePort'] === undefined || port['nodePort'] === 0) {
        const old = prevPorts.find(
          (p) => isRecord(p) && p['port'] === port['port'] && (p['protocol'] ?? 'TCP') === port['protocol'],
        );
        port['nodePort'] =
          isRecord(old) && typeof old['nodePort'] === 'number' ? old['nodePort'] : alloc.nodePort();
      } else if (typeof port['nodePort'] === 'number') {
        alloc.claimNodePort(port['nodePort']);
      }
    }
  }
  if (type !== 'ExternalName') {
    if (spec['clusterIP'] === undefined || spec['clusterIP'] === '') {
      const old = prevSpec?.['clusterIP'];
      spec['clusterIP'] = typeof old === 'string' && old !== '' ? old : alloc.clusterIP();
    }
    spec['clusterIPs'] = [spec['clusterIP']];
    if (spec['clusterIP'] !== 'None' || spec['ipFamilies'] === undefined) spec['ipFamilies'] ??= ['IPv4'];
    spec['ipFamilyPolicy'] ??= 'SingleStack';
    spec['internalTrafficPolicy'] ??= 'Cluster';
  }
  if (type === 'NodePort' || type === 'LoadBalancer') spec['externalTrafficPolicy'] ??= 'Cluster';
  if (type === 'LoadBalancer') spec['allocateLoadBalancerNodePorts'] ??= true;
}

/**
 * `statusOnCreate` is what the real strategies' `PrepareForCreate` leaves in `.status`: Ingress and
 * Service status is cleared, a Pod starts Pending, a Namespace Active; Nodes keep what they were
 * created with.
 */
export function statusOnCreate(info: ResourceInfo, obj: Obj): void {
  switch (`${info.group}/${info.resource}`) {
    case 'networking.k8s.io/ingresses':
    case '/services':
      obj['status'] = { loadBalancer: {} };
      break;
    case '/pods':
      obj['status'] = { phase: 'Pending' };
      break;
    case '/namespaces':
      obj['status'] = { phase: 'Active' };
      break;
    // A custom resource with a status subresource: the apiserver drops status sent on create.
    case 'portico.dev/ratelimitpolicies':
    case 'portico.dev/l4routes':
      delete obj['status'];
      break;
  }
}
