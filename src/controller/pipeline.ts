/**
 * `pipeline` wires the controller to the real pure layers: routing core translation and
 * validation, snapshot compilation and the endpoint table.
 */
import { compileSnapshot } from '../compile/snapshot.js';
import { buildEndpointTable, collectBackends } from '../endpoints/slices.js';
import { classifyIngress, indexClasses } from '../model/translate/class.js';
import { translate } from '../model/translate/translate.js';
import { validateIngress } from '../model/translate/validate.js';
import type { Pipeline } from './loop.js';

/** `defaultPipeline` is the production `Pipeline`. */
export const defaultPipeline: Pipeline = {
  translate,
  validateIngress,
  compileSnapshot,
  buildEndpointTable,
  collectBackends,
  ownership(classes, options) {
    const index = indexClasses(classes, options);
    return (ingress) => {
      try {
        return classifyIngress(ingress, index, options).served;
      } catch {
        // A malformed object can break the class check; validate it so the user learns why.
        return true;
      }
    };
  },
};
