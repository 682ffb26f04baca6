/**
 * `server` is the validating admission webhook's HTTPS endpoint. The API server POSTs an
 * AdmissionReview to `/networking/v1/ingresses` (ingress-nginx's path, so its webhook manifests can
 * be pointed here) or `/validate`; the answer comes from `IngressAdmission`, which validates with the
 * controller's own pure translation and never renders or runs anything (see ingress-admission.ts,
 * CVE-2025-1974).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import type { TranslateOptions } from '../model/translate/translate.js';
import type { RoutingModel } from '../model/types.js';
import type { ObjectStore } from '../store/object-store.js';
import { CertReloader } from './certs.js';
import { IngressAdmission, type SecretExists } from './ingress-admission.js';
import { decodeReview, encodeReview } from './review.js';

/** `REVIEW_PATHS` are the paths that accept an AdmissionReview. */
export const REVIEW_PATHS: ReadonlySet<string> = new Set(['/validate', '/networking/v1/ingresses']);

/**
 * `MAX_BODY_BYTES` bounds a review body. An object is at most ~1.5 MiB in etcd and an UPDATE carries
 * two of them, so 8 MiB leaves room without letting a client make the process buffer without limit.
 */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** `AdmissionServerOptions` configures `createAdmissionServer`. */
export interface AdmissionServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** Folder with `tls.crt` and `tls.key`; watched, so a rotated certificate is picked up. */
  readonly certDir: string;
  readonly logger: Logger;
  readonly metrics: PorticoMetrics;
  readonly translate: TranslateOptions;
  readonly store: ObjectStore;
  /** The model the controller serves now; undefined before the first sync. */
  readonly currentModel: () => RoutingModel | undefined;
  /**
   * Whether a TLS Secret exists, for the "secret not found" warning. Cluster mode should pass the
   * Secret informers' knowledge (`presence(ns)?.resourceVersionOf(ns, name) !== undefined`, or
   * undefined for an unwatched namespace), because the store keeps only referenced Secrets.
   * Default: look in the store.
   */
  readonly secretExists?: SecretExists;
  /** How often the certificate files are re-read in case a watch event was missed (default 60 s). */
  readonly certPollIntervalMs?: number;
}

/** `AdmissionServer` is the running webhook. */
export interface AdmissionServer {
  /** `start` loads the certificate and listens; resolves with the bound port (useful with port 0). */
  start(): Promise<{ port: number }>;
  /** `onModel` must be called with every model the controller publishes: it rebuilds the path index. */
  onModel(model: RoutingModel): void;
  /** `close` stops listening, lets in-flight reviews finish briefly, then closes every connection. */
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge(`body exceeds ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answerText(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = `portico admission: ${message}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** `createAdmissionServer` builds the webhook; nothing listens until `start`. */
export function createAdmissionServer(options: AdmissionServerOptions): AdmissionServer {
  const logger = options.logger.child({ component: 'admission' });
  const { metrics } = options;
  const admission = new IngressAdmission({
    translate: options.translate,
    store: options.store,
    currentModel: options.currentModel,
    ...(options.secretExists ? { secretExists: options.secretExists } : {}),
  });
  let server: Server | undefined;
  let reloader: CertReloader | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    if (!REVIEW_PATHS.has(path)) {
      answerText(
        res,
        404,
        `no webhook at ${JSON.stringify(path)}; POST AdmissionReviews to ${[...REVIEW_PATHS].join(' or ')}`,
      );
      return;
    }
    if (req.method !== 'POST') {
      answerText(res, 405, `method ${req.method ?? ''} not allowed; use POST`, { allow: 'POST' });
      return;
    }
    let body: string;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      metrics.admissionReviews.inc({ result: 'error' });
      if (err instanceof BodyTooLarge) answerText(res, 413, err.message, { connection: 'close' });
      else res.destroy();
      return;
    }
    const decoded = decodeReview(body);
    if (!decoded.ok) {
      metrics.admissionReviews.inc({ result: 'error' });
      logger.warn({ reason: decoded.message }, 'admission: malformed AdmissionReview');
      answerText(res, 400, decoded.message);
      return;
    }
    const { request } = decoded;
    const outcome = admission.review(request);
    const { verdict } = outcome;
    metrics.admissionReviews.inc({ result: verdict.allowed ? 'allowed' : 'denied' });
    if (!verdict.allowed) {
      logger.info(
        {
          object: outcome.object,
          operation: request.operation,
          uid: request.uid,
          dryRun: request.dryRun === true,
          reason: verdict.status?.message,
        },
        'admission: denied',
      );
    } else if (verdict.warnings.length > 0) {
      logger.debug(
        { object: outcome.object, warnings: verdict.warnings },
        'admission: allowed with warnings',
      );
    }
    const json = JSON.stringify(encodeReview(request.uid, verdict));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  };

  return {
    async start() {
      reloader = new CertReloader({
        dir: options.certDir,
        logger,
        pollIntervalMs: options.certPollIntervalMs ?? 60_000,
        onChange: (pair) => server?.setSecureContext({ cert: pair.cert, key: pair.key }),
      });
      const pair = await reloader.start();
      const s = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
        handle(req, res).catch((err: unknown) => {
          // A bug in validation must cost one review, not the process (failurePolicy decides then).
          metrics.admissionReviews.inc({ result: 'error' });
          logger.error({ err }, 'admission: review failed');
          if (!res.headersSent) answerText(res, 500, 'internal error while reviewing');
          else res.destroy();
        });
      });
      // The API server gives a webhook 10 s by default; a client slower than that is not one.
      s.requestTimeout = 10_000;
      s.headersTimeout = 10_000;
      s.on('tlsClientError', (err) => logger.debug({ err }, 'admission: TLS handshake failed'));
      server = s;
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(options.listen.port, options.listen.host, () => {
            s.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        reloader.close();
        server = undefined;
        throw err;
      }
      const port = (s.address() as AddressInfo).port;
      logger.info(
        { host: options.listen.host, port, certDir: options.certDir },
        'admission: webhook listening',
      );
      return { port };
    },
    onModel(model) {
      admission.onModel(model);
    },
    async close() {
      reloader?.close();
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeIdleConnections();
      const force = setTimeout(() => s.closeAllConnections(), 2_000);
      force.unref();
      await closed;
      clearTimeout(force);
    },
  };
}
