/**
 * `class` decides whether an Ingress belongs to this controller (IngressClass semantics, including
 * the legacy `kubernetes.io/ingress.class` annotation and the default class).
 */
import type { Ingress, IngressClass } from '../objects.js';

/** `INGRESS_CLASS_ANNOTATION` is the legacy, pre-`ingressClassName` way to pick a controller. */
export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

/** `DEFAULT_CLASS_ANNOTATION` marks the IngressClass that Ingresses without any class belong to. */
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/** `ClassOptions` are the controller settings class selection depends on. */
export interface ClassOptions {
  /** The `spec.controller` value of IngressClasses this controller serves. */
  readonly controllerClass: string;
  /** The value of the legacy annotation this controller serves. */
  readonly ingressClass: string;
  /** Serve Ingresses that name no class at all, even without a default IngressClass. */
  readonly watchIngressWithoutClass: boolean;
}

/** `ClassDecision` says whether an Ingress is ours and, if not, why. */
export type ClassDecision = { readonly served: true } | { readonly served: false; readonly reason: string };

const SERVED: ClassDecision = Object.freeze({ served: true });

/** `ClassIndex` is the IngressClass list, pre-digested once per translation. */
export interface ClassIndex {
  /** IngressClass name → its `spec.controller` ('' when absent). */
  readonly controllers: ReadonlyMap<string, string>;
  /** True when one of this controller's IngressClasses is marked as the cluster default. */
  readonly ownDefault: boolean;
}

/** `indexClasses` builds the `ClassIndex` for one translation pass. */
export function indexClasses(classes: readonly IngressClass[], options: ClassOptions): ClassIndex {
  const controllers = new Map<string, string>();
  let ownDefault = false;
  for (const cls of classes) {
    // Skip malformed objects rather than throw: file mode passes whatever the YAML held.
    const name: unknown = cls?.metadata?.name;
    if (typeof name !== 'string') continue;
    const controller = cls.spec?.controller ?? '';
    controllers.set(name, controller);
    if (
      controller === options.controllerClass &&
      cls.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true'
    ) {
      ownDefault = true;
    }
  }
  return { controllers, ownDefault };
}

/**
 * `classifyIngress` decides whether this controller serves `ingress`. Like ingress-nginx before
 * `ingressClassName` existed, the legacy annotation is looked at first and, when present, decides
 * alone (the API server refuses new objects that set both). Then `spec.ingressClassName` must name an
 * IngressClass whose `spec.controller` is ours. An Ingress with no class at all is ours only if one
 * of our IngressClasses is the default or `watchIngressWithoutClass` is set.
 */
export function classifyIngress(ingress: Ingress, index: ClassIndex, options: ClassOptions): ClassDecision {
  const annotation = ingress.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (annotation !== undefined) {
    return annotation === options.ingressClass
      ? SERVED
      : {
          served: false,
          reason: `annotation ${INGRESS_CLASS_ANNOTATION} "${annotation}" is not "${options.ingressClass}", the class handled by ${options.controllerClass}`,
        };
  }
  const className = ingress.spec?.ingressClassName;
  if (className !== undefined && className !== '') {
    const controller = index.controllers.get(className);
    if (controller === undefined) {
      return {
        served: false,
        reason: `ingressClassName "${className}" is not handled by ${options.controllerClass}: no IngressClass "${className}" exists`,
      };
    }
    return controller === options.controllerClass
      ? SERVED
      : {
          served: false,
          reason: `ingressClassName "${className}" is not handled by ${options.controllerClass} (its controller is "${controller}")`,
        };
  }
  if (index.ownDefault || options.watchIngressWithoutClass) return SERVED;
  return {
    served: false,
    reason: `no ingress class: set spec.ingressClassName to an IngressClass of ${options.controllerClass}, mark one as default, or enable watchIngressWithoutClass`,
  };
}
