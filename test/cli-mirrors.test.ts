// --mirror (repeatable) and containers-registries.conf mirrors reach the registry client as users
// configure them; the end-to-end behaviour through a real pull-through mirror is in fetch-mirror.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { COMMANDS } from '../src/cli/commands/index.js';
import { buildGlobalOptions } from '../src/cli/global-options.js';
import { registryOptions } from '../src/cli/open.js';
import { readRegistriesConf } from '../src/registry/registries-conf.js';
import { tempDir } from './layout-fixtures.js';

const TABLE = new Map(COMMANDS.map((c) => [c.name, c]));
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => { tmp = await tempDir('cli-mirrors'); });
afterAll(async () => { await tmp.cleanup(); });

describe('CLI mirrors', () => {
  it('--mirror is repeatable, in order, for every registry, before the registries.conf mirrors', async () => {
    const conf = join(tmp.path, 'registries.conf');
    await writeFile(conf, '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "mirror.example:5000"\n');
    const env = { HOME: tmp.path, CONTAINERS_REGISTRIES_CONF: conf };
    const parsed = parseArgs(['ls', 'busybox', '--mirror', '127.0.0.1:5001', '--mirror=10.0.0.2:5000'], TABLE);
    const global = buildGlobalOptions(parsed.global, env);
    global.confMirrors = await readRegistriesConf(env);
    const mirrors = registryOptions(global).mirrors!;
    expect(mirrors['*']).toEqual(['http://127.0.0.1:5001', 'https://10.0.0.2:5000']);
    expect(mirrors['docker.io']).toEqual(['https://mirror.example:5000']);
  });

  it('a malformed --mirror is a usage error; without mirrors none are configured', () => {
    expect(() => buildGlobalOptions(parseArgs(['ls', 'x', '--mirror', ' '], TABLE).global, {})).toThrow(/--mirror takes HOST/);
    expect(registryOptions(buildGlobalOptions(parseArgs(['ls', 'x'], TABLE).global, {})).mirrors).toBeUndefined();
  });
});
