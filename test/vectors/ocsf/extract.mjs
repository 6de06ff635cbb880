// Regenerates schema.json from a local clone of github.com/ocsf/ocsf-schema: for the five event
// classes keyturn emits, the merged attributes (base_event → category parent → class, with
// $include'd files; attributes that come only from a profile are marked with it), their
// requirement and type from dictionary.json, the activity_id enum, and the same for the objects
// keyturn fills in. Only data is copied; nothing of the schema's code runs.
// Usage: node test/vectors/ocsf/extract.mjs <path-to-git-dir> <commit>
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const [gitDir, commit] = process.argv.slice(2);
const show = (path) => JSON.parse(execFileSync('git', ['--git-dir', gitDir, 'show', `${commit}:${path}`], { encoding: 'utf8' }));
const dictionary = show('dictionary.json');
const categories = show('categories.json').attributes;
const version = show('version.json').version;

function typeOf(name, own) {
  const d = dictionary.attributes[name] ?? {};
  const type = own.type ?? d.type;
  const isArray = own.is_array ?? d.is_array ?? false;
  return { type, isArray: Boolean(isArray) };
}

/** Merges one schema file's attributes into `into`, includes first, then its own. */
function mergeFile(file, into) {
  const attrs = file.attributes ?? {};
  for (const inc of attrs.$include ?? []) {
    const included = show(inc);
    const profile = included.meta === 'profile' ? included.name : undefined;
    for (const [name, def] of Object.entries(included.attributes ?? {})) {
      if (name === '$include') continue;
      into[name] = { ...(into[name] ?? {}), ...def, ...(profile === undefined ? {} : { profile }) };
    }
  }
  for (const [name, def] of Object.entries(attrs)) {
    if (name === '$include') continue;
    const merged = { ...(into[name] ?? {}), ...def };
    // Enums extend along extends (a class adds its activities to the base's 0 Unknown and 99 Other).
    if (into[name]?.enum && def.enum) merged.enum = { ...into[name].enum, ...def.enum };
    if (!('profile' in def)) delete merged.profile;
    if (merged.profile === null) delete merged.profile;
    into[name] = merged;
  }
}

function chain(load, name) {
  const files = [];
  for (let file = load(name); file !== undefined; file = file.extends ? load(file.extends) : undefined) files.unshift(file);
  return files;
}

function summarise(merged) {
  const out = {};
  for (const [name, def] of Object.entries(merged).sort(([a], [b]) => a.localeCompare(b))) {
    const { type, isArray } = typeOf(name, def);
    out[name] = {
      requirement: def.requirement ?? 'optional',
      type,
      ...(isArray ? { isArray } : {}),
      ...(def.profile ? { profile: def.profile } : {}),
    };
  }
  return out;
}

const eventPaths = { base_event: 'events/base_event.json', iam: 'events/iam/iam.json', application: 'events/application/application.json', finding: 'events/findings/finding.json' };
const classFiles = {
  authentication: 'events/iam/authentication.json',
  account_change: 'events/iam/account_change.json',
  entity_management: 'events/iam/entity_management.json',
  api_activity: 'events/application/api_activity.json',
  detection_finding: 'events/findings/detection_finding.json',
};
const loadEvent = (name) => show(classFiles[name] ?? eventPaths[name]);

const classes = {};
for (const name of Object.keys(classFiles)) {
  const files = chain(loadEvent, name);
  const merged = {};
  for (const f of files) mergeFile(f, merged);
  const category = [...files].reverse().find((f) => f.category && f.category !== 'other')?.category;
  const categoryUid = categories[category].uid;
  const classUid = categoryUid * 1000 + files.at(-1).uid;
  const activities = Object.fromEntries(Object.entries(merged.activity_id.enum).map(([id, v]) => [id, v.caption]));
  classes[classUid] = { name, caption: files.at(-1).caption, category, categoryUid, classUid, activities, attributes: summarise(merged) };
}

const objectNames = ['metadata', 'product', 'actor', 'user', 'network_endpoint', 'api', 'finding_info', 'managed_entity', 'service'];
const loadObject = (name) => show(`objects/${name}.json`);
const objects = {};
for (const name of objectNames) {
  const files = chain(loadObject, name);
  const merged = {};
  for (const f of files) mergeFile(f, merged);
  const atLeastOne = [...files].reverse().find((f) => f.constraints?.at_least_one)?.constraints.at_least_one;
  objects[name] = { attributes: summarise(merged), ...(atLeastOne ? { atLeastOne } : {}) };
}

const scalarTypes = Object.fromEntries(Object.entries(dictionary.types.attributes).map(([t, v]) => [t, v.type ?? t]));
const out = {
  source: { repository: 'https://github.com/ocsf/ocsf-schema', commit, version, paths: ['dictionary.json', 'categories.json', 'events/**', 'objects/**', 'profiles/**'], license: 'Apache-2.0' },
  note: 'Extracted as data by test/vectors/ocsf/extract.mjs. requirement as merged along extends; profile marks attributes only a profile adds.',
  scalarTypes,
  classes,
  objects,
};
writeFileSync(new URL('./schema.json', import.meta.url), JSON.stringify(out, null, 1) + '\n');
console.log(Object.values(classes).map((c) => `${c.classUid} ${c.name} ${Object.keys(c.attributes).length}`).join('\n'));
