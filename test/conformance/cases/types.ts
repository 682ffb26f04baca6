/**
 * `types` describes a conformance case: self-contained manifests plus requests and the backend
 * that must answer each. The same tables drive the pure runner (translate → compile → match) and a
 * runner that starts the real Portico process with loopback backends.
 */
import type { MatchKind } from '../../../src/compile/types.js';
import type { KubeObject } from '../../../src/model/objects.js';
import type { TranslateOptions } from '../../../src/model/translate/translate.js';

/** `ConformanceExpectation` is the answer a request must get. */
export interface ConformanceExpectation {
  /** `'namespace/service:port'` (the port as the Ingress wrote it), or `'not-found'` for the built-in 404. */
  readonly backend: string;
  /** How the answer was found, when the case cares. */
  readonly kind?: MatchKind;
}

/** `ConformanceRequest` is one request: `host` as sent in the Host header (`''` for none), `path` as the request target. */
export interface ConformanceRequest {
  readonly host: string;
  readonly path: string;
  readonly expect: ConformanceExpectation;
}

/** `ConformanceCase` is one scenario, named after the rule it checks; `source` cites where it comes from. */
export interface ConformanceCase {
  readonly name: string;
  /** Upstream file (and scenario) this case translates. */
  readonly source: string;
  /**
   * Every object the scenario needs: IngressClasses, Ingresses, Services and EndpointSlices. Every
   * backend a request expects has ready endpoints on 127.0.0.x, one address per Service, so a
   * process runner can map each address to a real loopback backend.
   */
  readonly manifests: readonly KubeObject[];
  readonly requests: readonly ConformanceRequest[];
  /** Controller settings that differ from `CONFORMANCE_OPTIONS`. */
  readonly options?: Partial<TranslateOptions>;
}

/** `CONFORMANCE_OPTIONS` are the controller settings every case starts from. */
export const CONFORMANCE_OPTIONS: TranslateOptions = Object.freeze({
  controllerClass: 'portico.dev/ingress-controller',
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
});
