// Commits `count` times to a bundle, retrying on CONFLICT; prints each committed message (and each
// CONFLICT on stderr).
// Used by the concurrency and crash tests as a real, separate writer process.
import { open } from '../../src/index.js';

const [bundleDir, countArg, tag] = process.argv.slice(2);
const count = Number(countArg);

for (let i = 0; i < count; i++) {
  const message = `${tag}-${i}`;
  for (;;) {
    const bundle = await open(bundleDir!);
    const builder = await bundle.extend().setDescription(message);
    try {
      await builder.commit(message);
      process.stdout.write(`${message}\n`);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== 'CONFLICT') throw err;
      process.stderr.write(`conflict ${message}\n`);
    } finally {
      await Promise.all([builder.close(), bundle.close()]);
    }
  }
}
