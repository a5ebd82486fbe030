// GET /dashboard and its files: served without a key, under a policy that allows only the page's own files.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, keyFor, TEST_KEY, type TestApp } from './helper.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ apiKeys: [keyFor(TEST_KEY)] });
});
afterAll(() => t.app.close());

const assetUrls = (html: string) => [...html.matchAll(/(?:src|href)="\.?\/?(dashboard\/assets\/[^"]+)"/g)].map((m) => `/${m[1]}`);

describe('GET /dashboard', () => {
  it('serves the page without a key, under its own policy: its files and the hashed import map, no inline code, no eval', async () => {
    const response = await t.app.inject('/dashboard');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-cache');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const importMap = /<script type="importmap">(.*?)<\/script>/s.exec(response.body)![1]!;
    expect(csp).toContain(`'sha256-${createHash('sha256').update(importMap).digest('base64')}'`);
    // Every other script is a file of the service; nothing is fetched from elsewhere.
    const scripts = [...response.body.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
    for (const attributes of scripts) expect(attributes).toMatch(/type="importmap"|type="application\/json"|src="dashboard\/assets\//);
    expect(response.body).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(response.body).toContain('data-keys="required"');
  });

  it('tells the page when no key is needed', async () => {
    const open = await buildTestApp();
    expect((await open.app.inject('/dashboard')).body).toContain('data-keys="off"');
    await open.app.close();
  });

  it('serves every file the page names, cacheable for good under its content hash, gzipped when the browser takes it', async () => {
    const urls = assetUrls((await t.app.inject('/dashboard')).body);
    const importMap = JSON.parse(/<script type="importmap">(.*?)<\/script>/s.exec((await t.app.inject('/dashboard')).body)![1]!) as { imports: Record<string, string> };
    urls.push(...Object.values(importMap.imports).map((url) => url.replace(/^\.\//, '/')));
    expect(urls).toHaveLength(6);
    for (const url of urls) {
      const plain = await t.app.inject(url);
      expect(plain.statusCode, url).toBe(200);
      expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(plain.headers['content-type']).toMatch(url.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      expect(url).toContain(createHash('sha256').update(plain.rawPayload).digest('hex').slice(0, 12));
      const zipped = await t.app.inject({ url, headers: { 'accept-encoding': 'gzip, deflate, br' } });
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(zipped.headers.vary).toBe('accept-encoding');
      expect(gunzipSync(zipped.rawPayload).equals(plain.rawPayload)).toBe(true);
    }
  });

  it('answers a file it does not have with 404 in the usual error shape', async () => {
    const response = await t.app.inject('/dashboard/assets/vega.000000000000.js');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ statusCode: 404, error: 'Not Found', message: expect.stringContaining('reload /dashboard') });
  });

  it('gives vega-interpreter every name it imports from vega-util', () => {
    // The page maps vega-util onto the Vega build it has loaded; a new interpreter importing more would break the charts.
    const interpreter = readFileSync(createRequire(import.meta.url).resolve('vega-interpreter'), 'utf8');
    const imports = [...interpreter.matchAll(/^import \{([^}]*)\} from '([^']+)';$/gm)];
    expect(imports.map((m) => m[2])).toEqual(['vega-util']);
    const needed = imports[0]![1]!.split(',').map((name) => name.trim()).sort();
    const bridge = readFileSync('src/server/dashboard/vega-util.js', 'utf8');
    const exported = /export const \{([^}]*)\} = vega;/.exec(bridge)![1]!.split(',').map((name) => name.trim()).sort();
    expect(exported).toEqual(needed);
  });
});
