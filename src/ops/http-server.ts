import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/log.js';
import { httpStatusFor, type HealthMonitor } from './health.js';
import type { FacegateMetrics } from './metrics.js';

/**
 * GET /metrics (Prometheus text) and GET /health (JSON report) on a loopback address, and
 * the live view (/live) when it is enabled.
 * Read-only: nothing here can change the door or the gallery.
 */
export class OpsHttpServer {
  private server: Server | null = null;
  private readonly logger: Logger;

  constructor(
    private readonly options: { readonly host: string; readonly port: number },
    private readonly metrics: FacegateMetrics,
    private readonly health: HealthMonitor,
    logger: Logger,
    /** Extra read-only routes (the live view); returns false when the path is not its own. */
    private readonly extra?: { handle(req: IncomingMessage, res: ServerResponse, path: string): boolean },
  ) {
    this.logger = logger.child({ module: 'ops-http' });
  }

  /** The bound port (useful with port 0 in tests); null when not listening. */
  get port(): number | null {
    const address = this.server?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : null;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        this.metrics.text().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.contentType }).end(text),
          (err: Error) => {
            this.logger.error({ err }, 'metrics collection failed');
            res.writeHead(500).end();
          },
        );
      } else if (path === '/health') {
        const report = this.health.report();
        res
          .writeHead(httpStatusFor(report.status), { 'content-type': 'application/json' })
          .end(JSON.stringify(report));
      } else if (this.extra?.handle(req, res, path)) {
        // answered
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.info({ host: this.options.host, port: this.port }, 'metrics and health endpoint listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
