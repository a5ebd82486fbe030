// The OpenAPI document as the service generates it, with the default limits.
import { loadArtifact } from '../model/artifact.js';
import { buildApp, servingModel } from './app.js';
import { loadConfig } from './config.js';

export async function openApiYaml(): Promise<string> {
  const config = loadConfig({});
  const { artifact } = await loadArtifact(config.modelPath);
  const app = await buildApp({ config, model: servingModel(artifact), logger: false });
  await app.ready();
  const yaml = app.swagger({ yaml: true });
  await app.close();
  return yaml;
}
