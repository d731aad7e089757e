// Writes the commented sample config/roost.toml and docs/configuration.md from the config schema,
// so both always list every key with its real default. Run: npm run gen:config
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleConfig, configurationReference } from '../src/config/load.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, 'config', 'roost.toml'), sampleConfig());
writeFileSync(join(root, 'docs', 'configuration.md'), configurationReference());
process.stdout.write('wrote config/roost.toml and docs/configuration.md\n');
