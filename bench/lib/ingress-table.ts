/**
 * `ingress-table` builds the synthetic Ingress table the in-process benches share: N Ingresses in
 * namespace `bench`, 1 host and 3 paths each (Prefix `/`, Prefix `/api/v1`, Exact `/healthz`), one
 * Service per Ingress and an EndpointSlice of 3 ready endpoints.
 */
import type { EndpointSlice, Ingress, IngressClass, Service } from '../../src/model/objects.js';
import type { TranslateInput, TranslateOptions } from '../../src/model/translate/translate.js';

export const TABLE_OPTIONS: TranslateOptions = {
  controllerClass: 'portico.dev/ingress-controller',
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
};

/** `tableHost` is the host of the i-th Ingress. */
export function tableHost(i: number): string {
  return `app-${String(i).padStart(5, '0')}.bench.portico.test`;
}

export interface IngressTable {
  readonly input: TranslateInput;
  readonly slices: EndpointSlice[];
}

/** `ingressTable` builds the table of `n` Ingresses. */
export function ingressTable(n: number): IngressTable {
  const cls: IngressClass = {
    kind: 'IngressClass',
    metadata: { name: 'portico' },
    spec: { controller: TABLE_OPTIONS.controllerClass },
  };
  const ingresses: Ingress[] = [];
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const name = `app-${i}`;
    const backend = { service: { name, port: { number: 80 } } };
    ingresses.push({
      kind: 'Ingress',
      metadata: {
        name,
        namespace: 'bench',
        creationTimestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
      },
      spec: {
        ingressClassName: 'portico',
        rules: [
          {
            host: tableHost(i),
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend },
                { path: '/api/v1', pathType: 'Prefix', backend },
                { path: '/healthz', pathType: 'Exact', backend },
              ],
            },
          },
        ],
      },
    });
    services.push({
      kind: 'Service',
      metadata: { name, namespace: 'bench' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    const base = `10.${(i >> 8) & 255}.${i & 255}`;
    slices.push({
      kind: 'EndpointSlice',
      metadata: { name: `${name}-abc`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080 }],
      endpoints: [1, 2, 3].map((k) => ({ addresses: [`${base}.${k}`], conditions: { ready: true } })),
    });
  }
  return {
    input: {
      ingresses: ingresses.map((object) => ({ object })),
      ingressClasses: [{ object: cls }],
      services: services.map((object) => ({ object })),
    },
    slices,
  };
}
