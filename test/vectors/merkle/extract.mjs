// Regenerates inclusion.json and consistency.json from a local clone of
// github.com/transparency-dev/merkle: copies every probe under testdata/inclusion and
// testdata/consistency verbatim (data only), keyed by its path.
// Usage: node test/vectors/merkle/extract.mjs <path-to-git-dir> <commit>
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const [gitDir, commit] = process.argv.slice(2);
const git = (...args) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
// uint64 values beyond 2^53 would lose precision as JSON numbers: keep them as decimal strings.
const quoteBig = (text) => text.replace(/(:\s*)(\d{16,})/g, '$1"$2"');
for (const kind of ['inclusion', 'consistency']) {
  const paths = git('ls-tree', '-r', '--name-only', commit, `testdata/${kind}`).split('\n').filter((p) => p.endsWith('.json'));
  const probes = paths.map((path) => ({ path, ...JSON.parse(quoteBig(git('show', `${commit}:${path}`))) }));
  const out = {
    source: { repository: 'https://github.com/transparency-dev/merkle', commit, path: `testdata/${kind}/`, license: 'Apache-2.0' },
    note: 'Probes copied verbatim as data; hashes are standard base64, proof null means an empty proof; integers beyond 2^53 are decimal strings.',
    probes,
  };
  writeFileSync(new URL(`./${kind}.json`, import.meta.url), JSON.stringify(out, null, 1) + '\n');
  console.log(kind, probes.length);
}
