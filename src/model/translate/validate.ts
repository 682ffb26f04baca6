/**
 * `validate` re-implements the API server's Ingress validation (k8s `pkg/apis/networking/validation`,
 * `ValidateIngressSpec` and below) for the fields Portico reads. File mode feeds unvalidated YAML
 * through here, so every shape is checked before translation trusts it.
 */

import type { StoredObject } from '../../store/object-store.js';
import { readIngressAnnotations } from '../annotations/registry.js';
import type { Diagnostic, DiagnosticCode } from '../diagnostics.js';
import type { Ingress } from '../objects.js';
import { hostProblem, isDns1035Label, isDns1123Subdomain } from './hosts.js';
import { type DiagnosticFactory, diagnosticsFor } from './locate.js';
import { regexPathProblems } from './regex-paths.js';

/** `PATH_TYPES` lists the supported `pathType` values, in the API server's message order. */
export const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'] as const;

// The API server refuses these in Exact and Prefix paths (CVE-2021-25745 hardening).
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'] as const;
const INVALID_PATH_SUFFIXES = ['/..', '/.'] as const;

type Report = (code: DiagnosticCode, field: string, message: string) => void;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/**
 * `portNameProblems` checks an IANA_SVC_NAME (k8s `IsValidPortName`) and returns every reason it
 * is invalid.
 */
export function portNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (name.length > 15) problems.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) {
    problems.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  }
  if (!/[a-z]/.test(name)) problems.push('must contain at least one letter (a-z)');
  if (name.includes('--')) problems.push('must not contain consecutive hyphens');
  if (name.startsWith('-') || name.endsWith('-')) problems.push('must not begin or end with a hyphen');
  return problems;
}

function pathSegmentProblem(value: string): string | undefined {
  if (value === '.' || value === '..') return `may not be '${value}'`;
  if (value.includes('/') || value.includes('%')) return "may not contain '/' or '%'";
  return undefined;
}

/**
 * `validateBackend` checks one `IngressBackend` (k8s `validateIngressBackend`): exactly one of
 * service and resource; a service has a DNS-1035 name and exactly one of port number (1-65535) and
 * port name (IANA_SVC_NAME).
 */
function validateBackend(backend: unknown, field: string, report: Report): void {
  const code = 'PORTICO_ERR_BACKEND_INVALID';
  if (!isRecord(backend)) {
    report(code, field, 'resource or service backend is required');
    return;
  }
  const { service, resource } = backend;
  const hasService = service !== undefined && service !== null;
  const hasResource = resource !== undefined && resource !== null;
  if (hasService && hasResource) {
    report(code, field, 'cannot set both resource and service backends');
    return;
  }
  if (hasResource) {
    const f = `${field}.resource`;
    if (!isRecord(resource)) {
      report(code, f, 'must be an object with kind and name');
      return;
    }
    const { apiGroup, kind, name } = resource;
    if (apiGroup !== undefined && (typeof apiGroup !== 'string' || !isDns1123Subdomain(apiGroup))) {
      report(code, `${f}.apiGroup`, `invalid value ${describe(apiGroup)}: must be a DNS-1123 subdomain`);
    }
    for (const [key, value] of [
      ['kind', kind],
      ['name', name],
    ] as const) {
      if (typeof value !== 'string' || value === '') {
        report(code, `${f}.${key}`, `${key} is required`);
        continue;
      }
      const problem = pathSegmentProblem(value);
      if (problem) report(code, `${f}.${key}`, `invalid value ${describe(value)}: ${problem}`);
    }
    return;
  }
  if (!hasService) {
    report(code, field, 'resource or service backend is required');
    return;
  }
  const f = `${field}.service`;
  if (!isRecord(service)) {
    report(code, f, 'must be an object with name and port');
    return;
  }
  const { name, port } = service;
  if (typeof name !== 'string' || name === '') {
    report(code, `${f}.name`, 'Required value: service name is required');
  } else if (!isDns1035Label(name)) {
    report(
      code,
      `${f}.name`,
      `invalid value ${describe(name)}: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`,
    );
  }
  const portRecord = isRecord(port) ? port : {};
  if (port !== undefined && !isRecord(port)) {
    report(code, `${f}.port`, `invalid value ${describe(port)}: must be an object with name or number`);
    return;
  }
  const portName = portRecord['name'];
  const portNumber = portRecord['number'];
  const hasName = portName !== undefined && portName !== '';
  const hasNumber = portNumber !== undefined && portNumber !== 0;
  if (hasName && hasNumber) {
    report(code, field, 'cannot set both port name & port number');
  } else if (hasName) {
    const problems = typeof portName === 'string' ? portNameProblems(portName) : ['must be a string'];
    for (const problem of problems) {
      report(code, `${f}.port.name`, `invalid value ${describe(portName)}: ${problem}`);
    }
  } else if (hasNumber) {
    if (
      typeof portNumber !== 'number' ||
      !Number.isInteger(portNumber) ||
      portNumber < 1 ||
      portNumber > 65535
    ) {
      report(
        code,
        `${f}.port.number`,
        `invalid value ${describe(portNumber)}: must be between 1 and 65535, inclusive`,
      );
    }
  } else {
    report(code, field, 'port name or number is required');
  }
}

/** `validatePath` checks one `HTTPIngressPath` (k8s `validateHTTPIngressPath`). */
function validatePath(entry: unknown, field: string, report: Report): void {
  const code = 'PORTICO_ERR_PATH_INVALID';
  if (!isRecord(entry)) {
    report(code, field, 'must be an object with path, pathType and backend');
    return;
  }
  const { path, pathType } = entry;
  if (path !== undefined && typeof path !== 'string') {
    report(code, `${field}.path`, `invalid value ${describe(path)}: must be a string`);
  } else if (pathType === undefined || pathType === null || pathType === '') {
    report(code, `${field}.pathType`, 'pathType must be specified');
  } else if (pathType === 'Exact' || pathType === 'Prefix') {
    const p = path ?? '';
    if (!p.startsWith('/')) {
      report(code, `${field}.path`, `invalid value ${describe(p)}: must be an absolute path`);
    }
    if (p.length > 0) {
      for (const seq of INVALID_PATH_SEQUENCES) {
        if (p.includes(seq))
          report(code, `${field}.path`, `invalid value ${describe(p)}: must not contain '${seq}'`);
      }
      for (const suffix of INVALID_PATH_SUFFIXES) {
        if (p.endsWith(suffix)) {
          report(code, `${field}.path`, `invalid value ${describe(p)}: cannot end with '${suffix}'`);
        }
      }
    }
  } else if (pathType === 'ImplementationSpecific') {
    if (path !== undefined && path.length > 0 && !path.startsWith('/')) {
      report(code, `${field}.path`, `invalid value ${describe(path)}: must be an absolute path`);
    }
  } else {
    report(
      code,
      `${field}.pathType`,
      `unsupported value ${describe(pathType)}: supported values: ${PATH_TYPES.map((t) => `"${t}"`).join(', ')}`,
    );
  }
  validateBackend(entry['backend'], `${field}.backend`, report);
}

function validateRules(rules: unknown, report: Report): void {
  if (!Array.isArray(rules)) {
    report('PORTICO_ERR_OBJECT_INVALID', 'spec.rules', 'must be a list');
    return;
  }
  rules.forEach((rule: unknown, i) => {
    const field = `spec.rules[${i}]`;
    if (!isRecord(rule)) {
      report('PORTICO_ERR_OBJECT_INVALID', field, 'must be an object');
      return;
    }
    const { host, http } = rule;
    if (host !== undefined && host !== '') {
      const problem = typeof host === 'string' ? hostProblem(host) : 'must be a string';
      if (problem)
        report('PORTICO_ERR_HOST_INVALID', `${field}.host`, `invalid value ${describe(host)}: ${problem}`);
    }
    // A rule without `http` is valid: it names a host whose traffic goes to the default backend.
    if (http === undefined || http === null) return;
    if (!isRecord(http)) {
      report('PORTICO_ERR_OBJECT_INVALID', `${field}.http`, 'must be an object with paths');
      return;
    }
    const paths = http['paths'];
    if (!Array.isArray(paths) || paths.length === 0) {
      report(
        'PORTICO_ERR_PATH_INVALID',
        `${field}.http.paths`,
        'Required value: at least one path is required',
      );
      return;
    }
    paths.forEach((entry: unknown, j) => {
      validatePath(entry, `${field}.http.paths[${j}]`, report);
    });
  });
}

function validateTls(tls: unknown, report: Report): void {
  if (!Array.isArray(tls)) {
    report('PORTICO_ERR_OBJECT_INVALID', 'spec.tls', 'must be a list');
    return;
  }
  tls.forEach((entry: unknown, i) => {
    const field = `spec.tls[${i}]`;
    if (!isRecord(entry)) {
      report('PORTICO_ERR_OBJECT_INVALID', field, 'must be an object');
      return;
    }
    const { hosts, secretName } = entry;
    if (hosts !== undefined) {
      if (!Array.isArray(hosts)) {
        report('PORTICO_ERR_HOST_INVALID', `${field}.hosts`, 'must be a list');
      } else {
        hosts.forEach((host: unknown, j) => {
          const problem = typeof host === 'string' ? hostProblem(host) : 'must be a string';
          // The API server does not refuse IP addresses in TLS hosts, only malformed names.
          if (problem && problem !== 'must be a DNS name, not an IP address') {
            report(
              'PORTICO_ERR_HOST_INVALID',
              `${field}.hosts[${j}]`,
              `invalid value ${describe(host)}: ${problem}`,
            );
          }
        });
      }
    }
    if (secretName !== undefined && secretName !== '') {
      if (typeof secretName !== 'string' || !isDns1123Subdomain(secretName)) {
        report(
          'PORTICO_ERR_OBJECT_INVALID',
          `${field}.secretName`,
          `invalid value ${describe(secretName)}: a Secret name must be a lowercase RFC 1123 subdomain`,
        );
      }
    }
  });
}

/**
 * `validateIngress` returns an error diagnostic for every problem in the Ingress's own content, as
 * the API server would refuse it. Broken references (a missing Service) are not checked here: they
 * are not invalidity, and translation reports them as warnings. An empty list means the object is
 * valid; the controller keeps the last good version of an object for which this list is not empty.
 */
export function validateIngress(stored: StoredObject<Ingress>): Diagnostic[] {
  const make: DiagnosticFactory = diagnosticsFor(stored);
  const out: Diagnostic[] = [];
  const report: Report = (code, field, message) => {
    out.push(make('error', code, field, message));
  };
  const object: unknown = stored.object;
  if (!isRecord(object) || !isRecord(object['metadata']) || typeof object['metadata']['name'] !== 'string') {
    report('PORTICO_ERR_OBJECT_INVALID', 'metadata.name', 'Required value: name is required');
    return out;
  }
  const spec = object['spec'];
  if (spec !== undefined && !isRecord(spec)) {
    report('PORTICO_ERR_OBJECT_INVALID', 'spec', 'must be an object');
    return out;
  }
  const s = spec ?? {};
  // Annotation values are checked with the object: a bad one rejects this version (last good serves).
  const annotations = readIngressAnnotations(object as unknown as Ingress);
  for (const problem of annotations.problems) {
    report('PORTICO_ERR_ANNOTATION_INVALID', problem.field, problem.message);
  }
  const { rules, defaultBackend, tls, ingressClassName } = s;
  const hasRules = Array.isArray(rules) ? rules.length > 0 : rules !== undefined && rules !== null;
  const hasDefault = defaultBackend !== undefined && defaultBackend !== null;
  if (!hasRules && !hasDefault) {
    report('PORTICO_ERR_OBJECT_INVALID', 'spec', 'either `defaultBackend` or `rules` must be specified');
  }
  if (hasDefault) validateBackend(defaultBackend, 'spec.defaultBackend', report);
  if (hasRules) validateRules(rules, report);
  if (hasRules && annotations.useRegex === true) {
    for (const problem of regexPathProblems(rules))
      report('PORTICO_ERR_PATH_INVALID', problem.field, problem.message);
  }
  if (tls !== undefined && tls !== null) validateTls(tls, report);
  if (ingressClassName !== undefined && ingressClassName !== null) {
    if (typeof ingressClassName !== 'string' || !isDns1123Subdomain(ingressClassName)) {
      report(
        'PORTICO_ERR_OBJECT_INVALID',
        'spec.ingressClassName',
        `invalid value ${describe(ingressClassName)}: must be a lowercase RFC 1123 subdomain`,
      );
    }
  }
  return out;
}
