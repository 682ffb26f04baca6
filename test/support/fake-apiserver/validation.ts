/**
 * `validation` reproduces the field validation the real apiserver runs on the kinds served here
 * (k8s.io/kubernetes `pkg/apis/*\/validation`), with the same field paths and message wording, so
 * a controller that writes an object a cluster would reject is rejected here too (422 Invalid).
 * It covers the rules Portico's objects can hit, not every rule of every kind.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isRecord } from './patch.js';
import type { ResourceInfo } from './resources.js';
import type { StatusCause } from './status.js';

type Obj = Record<string, unknown>;

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const wildcardSubdomain = /^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ianaSvcName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

const subdomainMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const labelMsg =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const dns1035Msg =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** Collects causes with the real server's `reason` strings. */
class Errors {
  readonly causes: StatusCause[] = [];

  required(field: string, detail = ''): void {
    this.causes.push({
      reason: 'FieldValueRequired',
      message: `Required value${detail ? `: ${detail}` : ''}`,
      field,
    });
  }

  invalid(field: string, value: unknown, detail: string): void {
    this.causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
      field,
    });
  }

  notSupported(field: string, value: unknown, supported: readonly string[]): void {
    this.causes.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
      field,
    });
  }

  duplicate(field: string, value: unknown): void {
    this.causes.push({
      reason: 'FieldValueDuplicate',
      message: `Duplicate value: ${JSON.stringify(value)}`,
      field,
    });
  }

  forbidden(field: string, detail: string): void {
    this.causes.push({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field });
  }

  tooMany(field: string, actual: number, max: number): void {
    this.causes.push({
      reason: 'FieldValueTooMany',
      message: `Too many: ${actual}: must have at most ${max} items`,
      field,
    });
  }

  tooLong(field: string, max: number): void {
    this.causes.push({
      reason: 'FieldValueTooLong',
      message: `Too long: may not be more than ${max} bytes`,
      field,
    });
  }
}

function rec(v: unknown): Obj {
  return isRecord(v) ? v : {};
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function checkSubdomain(e: Errors, field: string, value: string): void {
  if (value.length > 253) e.invalid(field, value, 'must be no more than 253 characters');
  if (!dns1123Subdomain.test(value)) e.invalid(field, value, subdomainMsg);
}

function checkLabel(e: Errors, field: string, value: string): void {
  if (value.length > 63) e.invalid(field, value, 'must be no more than 63 characters');
  if (!dns1123Label.test(value)) e.invalid(field, value, labelMsg);
}

function checkDns1035(e: Errors, field: string, value: string): void {
  if (value.length > 63) e.invalid(field, value, 'must be no more than 63 characters');
  if (!dns1035Label.test(value)) e.invalid(field, value, dns1035Msg);
}

function checkQualifiedName(e: Errors, field: string, key: string): void {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && (prefix === '' || prefix.length > 253 || !dns1123Subdomain.test(prefix))) {
    e.invalid(field, key, `prefix part ${subdomainMsg}`);
  }
  if (name === '' || name.length > 63 || !qualifiedNamePart.test(name)) {
    e.invalid(
      field,
      key,
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
}

function checkName(e: Errors, info: ResourceInfo, field: string, name: string): void {
  switch (info.nameRule) {
    case 'dns1123-label':
      checkLabel(e, field, name);
      return;
    case 'dns1035-label':
      checkDns1035(e, field, name);
      return;
    case 'path-segment':
      if (name === '.' || name === '..' || name.includes('/') || name.includes('%')) {
        e.invalid(field, name, "may not contain '/' or '%' and may not be '.' or '..'");
      }
      return;
    default:
      checkSubdomain(e, field, name);
  }
}

function validateMeta(e: Errors, info: ResourceInfo, obj: Obj): void {
  const meta = rec(obj['metadata']);
  const name = meta['name'];
  if (typeof name !== 'string' || name === '') {
    e.required('metadata.name', 'name or generateName is required');
  } else {
    checkName(e, info, 'metadata.name', name);
  }
  if (info.namespaced && (typeof meta['namespace'] !== 'string' || meta['namespace'] === '')) {
    e.required('metadata.namespace');
  }
  for (const [key, value] of Object.entries(rec(meta['labels']))) {
    checkQualifiedName(e, 'metadata.labels', key);
    if (typeof value !== 'string' || value.length > 63 || !labelValue.test(value)) {
      e.invalid(
        'metadata.labels',
        value,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      );
    }
  }
  let annotationBytes = 0;
  for (const [key, value] of Object.entries(rec(meta['annotations']))) {
    checkQualifiedName(e, 'metadata.annotations', key.toLowerCase());
    annotationBytes += key.length + (typeof value === 'string' ? value.length : 0);
  }
  if (annotationBytes > 256 * 1024) e.tooLong('metadata.annotations', 256 * 1024);
}

function checkPort(e: Errors, field: string, port: unknown): void {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    e.invalid(field, port, 'must be between 1 and 65535, inclusive');
  }
}

function checkHost(e: Errors, field: string, host: string): void {
  if (isIPv4(host) || isIPv6(host)) {
    e.invalid(field, host, 'must be a DNS name, not an IP address');
    return;
  }
  if (host.includes('*')) {
    if (!wildcardSubdomain.test(host)) {
      e.invalid(
        field,
        host,
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      );
    }
    return;
  }
  checkSubdomain(e, field, host);
}

function validateIngressBackend(e: Errors, field: string, backend: Obj): void {
  const service = backend['service'];
  const resource = backend['resource'];
  if (service !== undefined && resource !== undefined) {
    e.invalid(field, '', 'cannot set both resource and service backends');
    return;
  }
  if (service === undefined && resource === undefined) {
    e.invalid(field, '', 'resource or service backend is required');
    return;
  }
  if (service !== undefined) {
    const svc = rec(service);
    const name = svc['name'];
    if (typeof name !== 'string' || name === '') e.required(`${field}.service.name`);
    else checkDns1035(e, `${field}.service.name`, name);
    const port = rec(svc['port']);
    const hasName = typeof port['name'] === 'string' && port['name'] !== '';
    const hasNumber = port['number'] !== undefined && port['number'] !== 0;
    if (hasName && hasNumber)
      e.invalid(`${field}.service.port`, '', 'cannot set both port name & port number');
    else if (hasName) {
      const pn = String(port['name']);
      if (!ianaSvcName.test(pn) || pn.length > 15 || !/[a-z]/.test(pn) || pn.includes('--')) {
        e.invalid(`${field}.service.port.name`, pn, 'must be a valid IANA_SVC_NAME');
      }
    } else if (hasNumber) checkPort(e, `${field}.service.port.number`, port['number']);
    else e.required(`${field}.service.port`, 'port name or number is required');
  } else {
    const res = rec(resource);
    if (typeof res['kind'] !== 'string' || res['kind'] === '') e.required(`${field}.resource.kind`);
    if (typeof res['name'] !== 'string' || res['name'] === '') e.required(`${field}.resource.name`);
  }
}

const pathTypes = ['Exact', 'ImplementationSpecific', 'Prefix'] as const;

function validateIngress(e: Errors, obj: Obj): void {
  const spec = rec(obj['spec']);
  const rules = arr(spec['rules']);
  if (spec['defaultBackend'] === undefined && rules.length === 0) {
    e.invalid('spec', spec, 'either `defaultBackend` or `rules` must be specified');
  }
  if (spec['defaultBackend'] !== undefined)
    validateIngressBackend(e, 'spec.defaultBackend', rec(spec['defaultBackend']));
  const className = spec['ingressClassName'];
  if (typeof className === 'string') checkSubdomain(e, 'spec.ingressClassName', className);
  arr(spec['tls']).forEach((tls, i) => {
    arr(rec(tls)['hosts']).forEach((host, j) => {
      if (typeof host === 'string') checkHost(e, `spec.tls[${i}].hosts[${j}]`, host);
    });
  });
  rules.forEach((raw, i) => {
    const rule = rec(raw);
    const host = rule['host'];
    if (typeof host === 'string' && host !== '') checkHost(e, `spec.rules[${i}].host`, host);
    if (rule['http'] === undefined) return;
    const paths = arr(rec(rule['http'])['paths']);
    if (paths.length === 0) e.required(`spec.rules[${i}].http.paths`);
    paths.forEach((rawPath, j) => {
      const field = `spec.rules[${i}].http.paths[${j}]`;
      const p = rec(rawPath);
      const pathType = p['pathType'];
      const path = typeof p['path'] === 'string' ? p['path'] : '';
      if (pathType === undefined || pathType === null || pathType === '') {
        e.required(`${field}.pathType`, 'pathType must be specified');
      } else if (!pathTypes.includes(pathType as (typeof pathTypes)[number])) {
        e.notSupported(`${field}.pathType`, pathType, pathTypes);
      } else if (pathType === 'Exact' || pathType === 'Prefix') {
        if (!path.startsWith('/')) {
          e.invalid(`${field}.path`, path, 'must be an absolute path');
        } else {
          for (const bad of ['//', '/./', '/../', '%2f', '%2F']) {
            if (path.includes(bad)) e.invalid(`${field}.path`, path, `must not contain '${bad}'`);
          }
          for (const bad of ['/..', '/.']) {
            if (path.endsWith(bad)) e.invalid(`${field}.path`, path, `cannot end with '${bad}'`);
          }
        }
      } else if (path !== '' && !path.startsWith('/')) {
        e.invalid(`${field}.path`, path, 'must be an absolute path');
      }
      validateIngressBackend(e, `${field}.backend`, rec(p['backend']));
    });
  });
}

function validateIngressClass(e: Errors, obj: Obj): void {
  const spec = rec(obj['spec']);
  const controller = spec['controller'];
  if (typeof controller === 'string' && controller.length > 250) e.tooLong('spec.controller', 250);
  if (typeof controller === 'string' && controller !== '')
    checkQualifiedName(e, 'spec.controller', controller);
}

const protocols = ['SCTP', 'TCP', 'UDP'] as const;
const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;

function validateService(e: Errors, obj: Obj): void {
  const spec = rec(obj['spec']);
  const type = spec['type'];
  if (!serviceTypes.includes(type as (typeof serviceTypes)[number])) {
    e.notSupported('spec.type', type, serviceTypes);
  }
  const ports = arr(spec['ports']);
  if (ports.length === 0 && type !== 'ExternalName' && spec['clusterIP'] !== 'None') e.required('spec.ports');
  const names = new Set<string>();
  ports.forEach((raw, i) => {
    const p = rec(raw);
    const field = `spec.ports[${i}]`;
    const name = p['name'];
    if (ports.length > 1 && (typeof name !== 'string' || name === '')) e.required(`${field}.name`);
    if (typeof name === 'string' && name !== '') {
      checkLabel(e, `${field}.name`, name);
      if (names.has(name)) e.duplicate(`${field}.name`, name);
      names.add(name);
    }
    checkPort(e, `${field}.port`, p['port']);
    if (!protocols.includes(p['protocol'] as (typeof protocols)[number])) {
      e.notSupported(`${field}.protocol`, p['protocol'], protocols);
    }
    const target = p['targetPort'];
    if (typeof target === 'number') checkPort(e, `${field}.targetPort`, target);
    else if (typeof target === 'string' && (!ianaSvcName.test(target) || target.length > 15)) {
      e.invalid(
        `${field}.targetPort`,
        target,
        'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      );
    }
    if (p['nodePort'] !== undefined && type !== 'NodePort' && type !== 'LoadBalancer') {
      e.forbidden(`${field}.nodePort`, "may not be used when `type` is 'ClusterIP'");
    }
  });
  if (type === 'ExternalName') {
    const ext = spec['externalName'];
    if (typeof ext !== 'string' || ext === '') e.required('spec.externalName');
    else checkSubdomain(e, 'spec.externalName', ext.replace(/\.$/, ''));
  }
}

const addressTypes = ['FQDN', 'IPv4', 'IPv6'] as const;

/**
 * The real `ValidateEndpointIP`: addresses a Service may never point at. Note it rejects only
 * link-local multicast (224.0.0.0/24, ff02::/10), not all multicast.
 */
function endpointIPProblem(ip: string): string | undefined {
  if (isIPv4(ip)) {
    const [a = 0, b = 0, c = 0] = ip.split('.').map(Number);
    if (ip === '0.0.0.0') return 'may not be unspecified (0.0.0.0)';
    if (a === 127) return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
    if (a === 169 && b === 254) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
    if (a === 224 && b === 0 && c === 0) {
      return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
    }
    return undefined;
  }
  const lower = ip.toLowerCase();
  const groups = expandIPv6(lower);
  if (groups.every((g) => g === 0)) return 'may not be unspecified (::)';
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) {
    return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
  }
  const first = groups[0] ?? 0;
  if ((first & 0xffc0) === 0xfe80) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
  if ((first & 0xff0f) === 0xff02)
    return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
  // An IPv4-mapped address is judged as the IPv4 address it carries, as Go's net.IP does.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const v4 = `${(groups[6] ?? 0) >> 8}.${(groups[6] ?? 0) & 255}.${(groups[7] ?? 0) >> 8}.${(groups[7] ?? 0) & 255}`;
    return endpointIPProblem(v4);
  }
  return undefined;
}

function expandIPv6(ip: string): number[] {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16));
}

function validateEndpointSlice(e: Errors, obj: Obj): void {
  const addressType = obj['addressType'];
  if (addressType === undefined || addressType === '') {
    e.required('addressType');
  } else if (!addressTypes.includes(addressType as (typeof addressTypes)[number])) {
    e.notSupported('addressType', addressType, addressTypes);
  }
  const endpoints = arr(obj['endpoints']);
  if (endpoints.length > 1000) e.tooMany('endpoints', endpoints.length, 1000);
  endpoints.forEach((raw, i) => {
    const ep = rec(raw);
    const addresses = arr(ep['addresses']);
    const field = `endpoints[${i}].addresses`;
    if (addresses.length === 0) e.required(field, 'must contain at least 1 address');
    if (addresses.length > 100) e.tooMany(field, addresses.length, 100);
    addresses.forEach((address, j) => {
      const af = `${field}[${j}]`;
      const text = typeof address === 'string' ? address : '';
      if (addressType === 'IPv4') {
        if (!isIPv4(text)) e.invalid(af, address, 'must be a valid IPv4 address');
        else {
          const problem = endpointIPProblem(text);
          if (problem) e.invalid(af, address, problem);
        }
      } else if (addressType === 'IPv6') {
        if (!isIPv6(text) || isIPv4(text)) e.invalid(af, address, 'must be a valid IPv6 address');
        else {
          const problem = endpointIPProblem(text);
          if (problem) e.invalid(af, address, problem);
        }
      } else if (addressType === 'FQDN') {
        checkSubdomain(e, af, text);
      }
    });
    const hostname = ep['hostname'];
    if (typeof hostname === 'string') checkLabel(e, `endpoints[${i}].hostname`, hostname);
    const nodeName = ep['nodeName'];
    if (typeof nodeName === 'string') checkSubdomain(e, `endpoints[${i}].nodeName`, nodeName);
  });
  const ports = arr(obj['ports']);
  if (ports.length > 20000) e.tooMany('ports', ports.length, 20000);
  const names = new Set<string>();
  ports.forEach((raw, i) => {
    const p = rec(raw);
    const name = typeof p['name'] === 'string' ? p['name'] : '';
    if (name !== '') checkLabel(e, `ports[${i}].name`, name);
    if (names.has(name)) e.duplicate(`ports[${i}].name`, name);
    names.add(name);
    if (p['protocol'] !== undefined && !protocols.includes(p['protocol'] as (typeof protocols)[number])) {
      e.notSupported(`ports[${i}].protocol`, p['protocol'], protocols);
    }
    if (p['port'] !== undefined && p['port'] !== null) checkPort(e, `ports[${i}].port`, p['port']);
  });
}

function validateLease(e: Errors, obj: Obj): void {
  const spec = rec(obj['spec']);
  const duration = spec['leaseDurationSeconds'];
  if (typeof duration === 'number' && duration <= 0) {
    e.invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0');
  }
  const transitions = spec['leaseTransitions'];
  if (typeof transitions === 'number' && transitions < 0) {
    e.invalid('spec.leaseTransitions', transitions, 'must be greater than or equal to 0');
  }
}

function validateSecret(e: Errors, obj: Obj): void {
  const data = rec(obj['data']);
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    if (!/^[-._a-zA-Z0-9]+$/.test(key) || key === '.' || key === '..') {
      e.invalid(
        `data[${key}]`,
        key,
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      );
    }
    total += typeof value === 'string' ? Math.floor((value.length * 3) / 4) : 0;
  }
  if (total > 1024 * 1024) e.tooLong('data', 1024 * 1024);
  const type = obj['type'];
  if (type === 'kubernetes.io/tls') {
    for (const key of ['tls.crt', 'tls.key']) {
      if (!Object.hasOwn(data, key)) e.required(`data[${key}]`);
    }
  }
}

function validateConfigMap(e: Errors, obj: Obj): void {
  const seen = new Set<string>();
  for (const section of ['data', 'binaryData']) {
    for (const key of Object.keys(rec(obj[section]))) {
      if (!/^[-._a-zA-Z0-9]+$/.test(key)) {
        e.invalid(
          `${section}[${key}]`,
          key,
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        );
      }
      if (seen.has(key)) e.invalid(`${section}[${key}]`, key, 'duplicate of key present in data');
      seen.add(key);
    }
  }
}

const eventTypes = ['Normal', 'Warning'] as const;

/**
 * Events in stored (core v1) form. An Event written with `eventTime` (what events.k8s.io/v1
 * clients send) gets the new API's checks; one without gets the legacy core checks.
 */
function validateEvent(e: Errors, obj: Obj, viaEventsApi: boolean): void {
  const meta = rec(obj['metadata']);
  const involved = rec(obj['involvedObject']);
  const ns = meta['namespace'];
  const involvedNs = involved['namespace'];
  const regarding = viaEventsApi ? 'regarding' : 'involvedObject';
  if (typeof involvedNs === 'string' && involvedNs !== '' && involvedNs !== ns) {
    e.invalid(`${regarding}.namespace`, involvedNs, 'does not match event.namespace');
  }
  if (obj['eventTime'] === undefined || obj['eventTime'] === null) {
    if (viaEventsApi) e.required('eventTime');
    return;
  }
  const type = obj['type'];
  if (!eventTypes.includes(type as (typeof eventTypes)[number])) e.notSupported('type', type, eventTypes);
  const controller = obj['reportingComponent'];
  if (typeof controller !== 'string' || controller === '') e.required('reportingController');
  else checkQualifiedName(e, 'reportingController', controller);
  const instance = obj['reportingInstance'];
  if (typeof instance !== 'string' || instance === '') e.required('reportingInstance');
  else if (instance.length > 128) e.tooLong('reportingInstance', 128);
  const action = obj['action'];
  if (typeof action !== 'string' || action === '') e.required('action');
  else if (action.length > 128) e.tooLong('action', 128);
  const reason = obj['reason'];
  if (typeof reason !== 'string' || reason === '') e.required('reason');
  else if (reason.length > 128) e.tooLong('reason', 128);
  const note = obj['message'];
  if (typeof note === 'string' && note.length > 1024) e.tooLong(viaEventsApi ? 'note' : 'message', 1024);
}

/** `validateObject` returns the field errors the real server would report for `obj` (stored form). */
export function validateObject(info: ResourceInfo, obj: Obj): StatusCause[] {
  const e = new Errors();
  validateMeta(e, info, obj);
  switch (`${info.group}/${info.resource}`) {
    case 'networking.k8s.io/ingresses':
      validateIngress(e, obj);
      break;
    case 'networking.k8s.io/ingressclasses':
      validateIngressClass(e, obj);
      break;
    case '/services':
      validateService(e, obj);
      break;
    case 'discovery.k8s.io/endpointslices':
      validateEndpointSlice(e, obj);
      break;
    case 'coordination.k8s.io/leases':
      validateLease(e, obj);
      break;
    case '/secrets':
      validateSecret(e, obj);
      break;
    case '/configmaps':
      validateConfigMap(e, obj);
      break;
    case '/events':
      validateEvent(e, obj, false);
      break;
    case 'events.k8s.io/events':
      validateEvent(e, obj, true);
      break;
  }
  return e.causes;
}

/** `validateUpdate` adds the update-only rules (immutable fields) for `next` replacing `prev`. */
export function validateUpdate(info: ResourceInfo, prev: Obj, next: Obj): StatusCause[] {
  const e = new Errors();
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  switch (`${info.group}/${info.resource}`) {
    case 'discovery.k8s.io/endpointslices':
      if (prev['addressType'] !== next['addressType'])
        e.invalid('addressType', next['addressType'], 'field is immutable');
      break;
    case '/secrets':
      if (prev['type'] !== next['type']) e.invalid('type', next['type'], 'field is immutable');
      if (prev['immutable'] === true) {
        if (!same(prev['data'], next['data']))
          e.forbidden('data', 'field is immutable when `immutable` is set');
        if (next['immutable'] !== true)
          e.forbidden('immutable', 'field is immutable when `immutable` is set');
      }
      break;
    case '/configmaps':
      if (prev['immutable'] === true) {
        if (!same(prev['data'], next['data']))
          e.forbidden('data', 'field is immutable when `immutable` is set');
        if (!same(prev['binaryData'], next['binaryData'])) {
          e.forbidden('binaryData', 'field is immutable when `immutable` is set');
        }
        if (next['immutable'] !== true)
          e.forbidden('immutable', 'field is immutable when `immutable` is set');
      }
      break;
    case '/services': {
      const p = rec(prev['spec']);
      const n = rec(next['spec']);
      if (p['clusterIP'] !== n['clusterIP'] && p['type'] === n['type']) {
        e.invalid('spec.clusterIPs[0]', n['clusterIP'], 'may not change once set');
      }
      break;
    }
  }
  return e.causes;
}
