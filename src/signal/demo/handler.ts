// HTTP handler for the demo page: `/` (and `/index.html`) serve the page,
// `/vendor/ion-sdk.min.js` and `/vendor/json-rpc.min.js` serve ion-sdk-js's
// browser bundles from the installed package. Only these fixed paths are
// matched (on the raw request path, before any normalisation), so nothing
// else on disk is reachable. Anything else is left to the caller's routes.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { renderDemoPage } from './page.js';

export interface DemoHandlerOptions {
  /** WebSocket path the page connects to (same origin). Default `/ws`. */
  wsPath?: string;
}

interface Asset {
  body: Buffer;
  type: string;
}

const VENDOR_FILES: Record<string, string> = {
  '/vendor/ion-sdk.min.js': 'dist/ion-sdk.min.js',
  '/vendor/json-rpc.min.js': 'dist/json-rpc.min.js',
};

/**
 * Reads ion-sdk-js's browser bundles once. ion-sdk-js is a devDependency: when
 * it is not installed, the vendor routes are simply not handled (404 from the
 * caller) and the page reports that the bundles failed to load.
 */
function loadVendorAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let root: string;
  try {
    root = dirname(createRequire(import.meta.url).resolve('ion-sdk-js/package.json'));
  } catch {
    return assets;
  }
  for (const [route, file] of Object.entries(VENDOR_FILES)) {
    try {
      assets.set(route, { body: readFileSync(join(root, file)), type: 'application/javascript' });
    } catch {
      // Missing bundle: leave the route unhandled.
    }
  }
  return assets;
}

export function createDemoHandler(opts: DemoHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const page: Asset = { body: Buffer.from(renderDemoPage(opts.wsPath ?? '/ws'), 'utf8'), type: 'text/html; charset=utf-8' };
  const assets = loadVendorAssets();
  assets.set('/', page);
  assets.set('/index.html', page);

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const asset = assets.get(path);
    if (!asset) return false;
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': asset.body.length,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else res.end(asset.body);
    return true;
  };
}
