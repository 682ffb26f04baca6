/**
 * Helpers for the fake API server's own tests: a real client-node `KubeConfig` for a server, the
 * `Status` body of a failed call, and bounded waiting.
 */
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import type { FakeApiServer } from '../../support/fake-apiserver/index.js';

/** `kubeConfigFor` loads the server's kubeconfig into a client-node `KubeConfig`. */
export function kubeConfigFor(server: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig());
  return kc;
}

/** `StatusBody` is the part of a `Status` the tests look at. */
export interface StatusBody {
  readonly kind?: string;
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly details?: { readonly causes?: readonly { field: string; message: string; reason: string }[] };
}

/** `failureOf` runs `fn`, expects a client-node `ApiException`, and returns its code and Status body. */
export async function failureOf(fn: () => Promise<unknown>): Promise<{ code: number; status: StatusBody }> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiException) {
      const raw: unknown = err.body;
      const status = (typeof raw === 'string' ? JSON.parse(raw) : raw) as StatusBody;
      return { code: err.code, status };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** `waitFor` polls `check` until it returns true, failing after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
