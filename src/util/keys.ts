/**
 * `keys` builds every object key Portico uses, in one place (Contour's `NamespacedNameOf`).
 * Cluster-scoped objects (IngressClass) have no namespace and key as their bare name.
 */

/** `objectKey` returns `"namespace/name"`, or `"name"` for a cluster-scoped object. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** `backendKey` returns `"namespace/service:port"`, where port is the Service port's number or name. */
export function backendKey(namespace: string, service: string, port: number | string): string {
  return `${namespace}/${service}:${port}`;
}
