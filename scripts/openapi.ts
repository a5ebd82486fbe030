// npm run openapi: writes openapi.yaml, the document /docs/json serves, for clients to read without a server.
import { writeFile } from 'node:fs/promises';
import { openApiYaml } from '../src/server/openapi.js';

await writeFile('openapi.yaml', await openApiYaml());
process.stdout.write('wrote openapi.yaml\n');
