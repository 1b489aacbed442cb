// The webhook's JSON body parser (server/json-body.ts): JSON.parse alone for a body that cannot hold a
// `__proto__` or `constructor` key, fastify's own parser for every other. Every spelling of those keys
// that fastify's parser refuses must be seen by the pre-check, and through the app every body is
// answered as fastify's parser answers it: refused keys, escapes, a byte order mark, empty and broken
// bodies.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import fastify from 'fastify';
import { buildApp } from '../../src/server/app.ts';
import type { HandledReview } from '../../src/server/app.ts';
import { mayHoldPrototypeKey } from '../../src/server/json-body.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';

/** Each character of `name` written out or as a \u escape (lower- or upper-case hex), every mix. */
function spellings(name: string): string[] {
  let all = [''];
  for (const ch of name) {
    const hex = ch.charCodeAt(0).toString(16).padStart(4, '0');
    const forms = [...new Set([ch, `\\u${hex}`, `\\u${hex.toUpperCase()}`])];
    all = all.flatMap((prefix) => forms.map((form) => prefix + form));
  }
  return all;
}

/** fastify's own JSON parser (what the app used before). */
const fastifysParser = fastify().getDefaultJsonParser('error', 'error');

/** Whether fastify's own JSON parser refuses `text`. */
function fastifyRefuses(text: string): boolean {
  const parse = fastifysParser;
  let refused: boolean | undefined;
  parse({} as never, text, (error) => (refused = error !== null && error !== undefined));
  assert.notEqual(refused, undefined, 'the parser answers at once');
  return refused!;
}

describe('the JSON body parser', () => {
  test("every spelling of __proto__ and constructor that fastify's parser refuses is left to it", () => {
    let refused = 0;
    let texts = 0;
    for (const name of ['__proto__', 'constructor'])
      for (const spelled of spellings(name))
        // (a constructor key is refused when it holds a prototype)
        for (const text of [
          `{"a":1,"${spelled}":{"prototype":{"b":2}}}`,
          `{"x":[{"${spelled}" \n :{"prototype":null}}]}`,
        ]) {
          texts++;
          if (!fastifyRefuses(text)) continue;
          refused++;
          assert.ok(mayHoldPrototypeKey(text), `left to fastify's parser: ${text}`);
        }
    // Every one is refused by fastify's parser: each mix of written-out and escaped characters counts.
    assert.equal(refused, texts);
    assert.ok(texts > 2 * (2 ** 9 + 2 ** 11), `spellings: ${texts}`);
  });

  test('an ordinary review is not suspected; a key or escape that might be one is', () => {
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u', object: { metadata: { labels: { app: 'web', proto: 'x', construct: 'y' } } } },
    });
    assert.equal(mayHoldPrototypeKey(review), false);
    assert.equal(mayHoldPrototypeKey('{"name":"caf\\u00e9"}'), true);
    assert.equal(mayHoldPrototypeKey('{"note":"the constructor field"}'), true);
    assert.equal(mayHoldPrototypeKey('{"__proto__":1}'), true);
  });

  describe('through the app', () => {
    const review = (extra = '') =>
      `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",${extra}"request":{"uid":"u-1"}}`;
    const setup = () => {
      const bodies: unknown[] = [];
      const app = buildApp({
        handleReview: (body): HandledReview => {
          bodies.push(body);
          return { ok: false, message: 'seen' };
        },
        readiness: () => ({ ready: true, reasons: [] }),
        metrics: createMetrics({ processMetrics: false }),
        logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }),
      });
      const post = (payload: string) =>
        app.inject({
          method: 'POST',
          url: '/validate',
          headers: { 'content-type': 'application/json' },
          payload,
        });
      return { app, bodies, post };
    };

    test('a body with a __proto__ or constructor key, written out or escaped: 400, never handled', async () => {
      const { bodies, post } = setup();
      for (const key of ['__proto__', 'constructor', '\\u005f_proto__', 'constructo\\u0072']) {
        const r = await post(review(`"${key}":{"prototype":{"allowed":true}},`));
        assert.equal(r.statusCode, 400, key);
        assert.match(r.json().error, /^request body is not valid JSON: /, key);
      }
      assert.equal(bodies.length, 0);
    });

    test('escaped text, a byte order mark and plain bodies are handled as parsed', async () => {
      const { bodies, post } = setup();
      await post(review('"note":"caf\\u00e9",'));
      await post(`\ufeff${review()}`);
      await post(review('"note":"plain",'));
      assert.deepEqual(bodies, [
        JSON.parse(review('"note":"café",')),
        JSON.parse(review()),
        JSON.parse(review('"note":"plain",')),
      ]);
    });

    // Every content type fastify's JSON parser took before (parameters, upper case) and none other
    // (application/*+json, text/json: 415), every body answered alike: the app beside bare fastify with
    // its default parser, the same body limit and text/plain removed, as the app did before.
    test("each content type and body: the status and parsed body of fastify's default parser", async () => {
      const bodyLimit = 300;
      const bare = fastify({ bodyLimit });
      bare.removeContentTypeParser('text/plain');
      bare.post('/validate', async (request) => ({ body: request.body }));
      const seen: unknown[] = [];
      const app = buildApp({
        handleReview: (body): HandledReview => {
          seen.push(body);
          return { ok: false, message: 'seen' };
        },
        readiness: () => ({ ready: true, reasons: [] }),
        metrics: createMetrics({ processMetrics: false }),
        logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }),
        bodyLimitBytes: bodyLimit,
      });
      const contentTypes = [
        undefined,
        'application/json',
        'application/json; charset=utf-8',
        'APPLICATION/JSON',
        'Application/Json; Charset=UTF-8',
        'application/json ; x=y',
        'application/json;',
        'application/merge-patch+json',
        'application/vnd.api+json',
        'application/jsonx',
        'text/json',
        'text/plain',
        'application/json, text/plain',
        '*/*',
      ];
      const bodies: Array<string | Buffer> = [
        review(),
        `\ufeff${review()}`,
        '',
        '  \n ',
        'null',
        '"text"',
        '[1]',
        review('"note":"caf\\u00e9",'),
        review('"__proto__":{"allowed":true},'),
        review('"constructor":{"prototype":{"allowed":true}},'),
        review('"\\u005f_proto__":{"allowed":true},'),
        '{"note":"__proto__ and constructor as values"}',
        `{"note":"${'é'.repeat(120)}"}`,
        `{"note":"${'é'.repeat(160)}"}`,
        Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
        Buffer.from('{"lone":"\ud800"}'),
        '{"lone":"\\ud800"}',
        '{"a":1,"a":2}',
      ];
      for (const contentType of contentTypes)
        for (const payload of bodies) {
          const headers = contentType === undefined ? {} : { 'content-type': contentType };
          const request = { method: 'POST' as const, url: '/validate', headers, payload };
          const [expected, actual] = [await bare.inject(request), await app.inject(request)];
          const what = `${contentType} ${JSON.stringify(String(payload).slice(0, 40))}`;
          assert.equal(
            actual.statusCode === 400 && seen.length === 1 ? 200 : actual.statusCode,
            expected.statusCode,
            what,
          );
          if (expected.statusCode === 200) assert.deepEqual(seen, [expected.json().body], what);
          seen.length = 0;
        }
      await bare.close();
    });

    test("empty and broken bodies: fastify's 400s, never handled", async () => {
      const { bodies, post } = setup();
      const empty = await post('');
      assert.equal(empty.statusCode, 400);
      assert.match(empty.json().error, /^request body is not valid JSON: .*empty/i);
      for (const broken of ['{"apiVersion":', '{"a":1}}', 'nul', '{"a":"\\u12"}']) {
        const r = await post(broken);
        assert.equal(r.statusCode, 400, broken);
        assert.match(r.json().error, /^request body is not valid JSON: /, broken);
      }
      assert.equal(bodies.length, 0);
    });
  });
});
