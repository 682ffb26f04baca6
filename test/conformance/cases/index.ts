/**
 * `index` gathers every conformance case, for runners that want them all.
 */
import { ingressControllerConformanceCases } from './ingress-controller-conformance.js';
import { ingressNginxE2eCases } from './ingress-nginx-e2e.js';
import { kubernetesDocsCases } from './kubernetes-docs.js';
import type { ConformanceCase } from './types.js';

/** `allConformanceCases` lists every case of every source. */
export const allConformanceCases: readonly ConformanceCase[] = [
  ...kubernetesDocsCases,
  ...ingressControllerConformanceCases,
  ...ingressNginxE2eCases,
];
