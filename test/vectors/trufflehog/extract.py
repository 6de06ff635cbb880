#!/usr/bin/env python3
"""
Extracts, as data, the labelled inputs of trufflehog's detector pattern tests
(github.com/trufflesecurity/trufflehog, pkg/detectors/<detector>/*_test.go, integration tests
left out) for the detectors of providers keyturn has rules for. Each test case's `input` is a
positive when its `want` lists at least one secret, a negative when `want` is empty or nil.
Inputs are evaluated from the Go source: string literals, string variables and constants of the
file, `fmt.Sprintf` with %s/%v/%d/%q/%%, `+` and `strings.Repeat`; a case built any other way is
left out and counted in `skipped`. No trufflehog code is carried over: only the test inputs and
their labels.

Usage: extract.py <trufflehog git dir> > test/vectors/trufflehog/examples.json
"""
import json, re, subprocess, sys

GIT_DIR = sys.argv[1]

# trufflehog detector directory (under pkg/detectors) -> keyturn provider (rule kind)
DETECTORS = {
    'adafruitio': 'adafruit', 'airtablepersonalaccesstoken': 'airtable', 'alibaba': 'alibaba', 'anthropic': 'anthropic',
    'atlassian/v2': 'atlassian', 'auth0managementapitoken': 'auth0', 'aws/access_keys': 'aws', 'aws/session_keys': 'aws',
    'azure_storage': 'azure', 'azure_entra/serviceprincipal/v2': 'azure', 'azureappconfigconnectionstring': 'azure',
    'azuredevopspersonalaccesstoken': 'azure', 'bitbucketapppassword': 'bitbucket', 'cloudflareapitoken/v1': 'cloudflare',
    'cloudflareglobalapikey/v1': 'cloudflare', 'cloudflarecakey': 'cloudflare', 'cloudinary': 'cloudinary',
    'contentfulpersonalaccesstoken': 'contentful', 'databrickstoken': 'databricks', 'datadogapikey': 'datadog',
    'datadogtoken': 'datadog', 'digitaloceantoken': 'digitalocean', 'digitaloceanv2': 'digitalocean',
    'discordbottoken': 'discord', 'discordwebhook': 'discord', 'dockerhub/v2': 'docker', 'doppler': 'doppler',
    'dropbox': 'dropbox', 'duffeltoken': 'duffel', 'fastlypersonaltoken': 'fastly', 'figmapersonalaccesstoken/v1': 'figma',
    'figmapersonalaccesstoken/v2': 'figma', 'flutterwave': 'flutterwave', 'github/v2': 'github', 'github/v1': 'github',
    'gitlab/v1': 'gitlab', 'gitlab/v2': 'gitlab', 'gitlab/v3': 'gitlab', 'googlegemini': 'google', 'grafana': 'grafana',
    'grafanaserviceaccount': 'grafana', 'groq': 'groq', 'harness': 'harness',
    'hashicorpvault/hashicorpvaulttoken': 'hashicorp', 'hashicorpvault/hashicorpvaultbatchtoken': 'hashicorp',
    'heroku/v1': 'heroku', 'heroku/v2': 'heroku', 'huggingface': 'huggingface', 'jwt': 'jwt', 'launchdarkly': 'launchdarkly',
    'linearapi': 'linear', 'mailchimp': 'mailchimp', 'mailgun': 'mailgun', 'mapbox': 'mapbox',
    'microsoftteamswebhook/v1': 'microsoft-teams', 'microsoftteamswebhook/v2': 'microsoft-teams', 'netlify/v1': 'netlify',
    'netlify/v2': 'netlify', 'newrelicpersonalapikey': 'newrelic', 'newreliclicensekey': 'newrelic',
    'newrelicbrowserkey': 'newrelic', 'newrelicuserkey': 'newrelic', 'notion': 'notion', 'npmtoken': 'npm',
    'npmtokenv2': 'npm', 'nugetapikey': 'nuget', 'okta': 'okta', 'openai': 'openai', 'openaiadmin': 'openai',
    'paypaloauth': 'paypal', 'plaidkey': 'plaid', 'planetscale': 'planetscale', 'planetscaledb': 'planetscale',
    'postman': 'postman', 'prefect': 'prefect', 'privatekey': 'private-key', 'pulumi': 'pulumi', 'pypi': 'pypi',
    'readme': 'readme', 'replicate': 'replicate', 'rubygems': 'rubygems', 'sendgrid': 'sendgrid',
    'sentryorgtoken': 'sentry', 'sentrytoken/v2': 'sentry', 'shippo': 'shippo', 'shopify': 'shopify', 'slack': 'slack',
    'slackwebhook': 'slack', 'snowflake': 'snowflake', 'sourcegraph': 'sourcegraph', 'square': 'square',
    'squareapp': 'square', 'stripe': 'stripe', 'supabasetoken': 'supabase', 'tailscale': 'tailscale',
    'telegrambottoken': 'telegram', 'twilio': 'twilio', 'twilioapikey': 'twilio', 'twitch': 'twitch',
    'twitchaccesstoken': 'twitch', 'typeform/v2': 'typeform', 'vercel': 'vercel', 'xai': 'xai',
}


def git(*args):
    return subprocess.run(['git', '--git-dir', GIT_DIR, *args], check=True, capture_output=True, text=True).stdout


ESC = {'n': '\n', 't': '\t', 'r': '\r', '"': '"', '\\': '\\', "'": "'", 'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v'}


def unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != '\\':
            out.append(c); i += 1; continue
        n = body[i + 1]
        if n in ESC:
            out.append(ESC[n]); i += 2
        elif n == 'x':
            out.append(chr(int(body[i + 2:i + 4], 16))); i += 4
        elif n == 'u':
            out.append(chr(int(body[i + 2:i + 6], 16))); i += 6
        else:
            raise ValueError('escape')
    return ''.join(out)


class Unsupported(Exception):
    pass


class Parser:
    """Evaluates the small subset of Go string expressions the tests use."""

    def __init__(self, src, env):
        self.src, self.env = src, env

    def ws(self, i):
        while True:
            m = re.match(r'(?:\s+|//[^\n]*)', self.src[i:])
            if not m or not m.group(0):
                return i
            i += len(m.group(0))

    def expr(self, i):
        v, i = self.term(i)
        while True:
            j = self.ws(i)
            if self.src.startswith('+', j) and not self.src.startswith('+=', j):
                w, i = self.term(j + 1)
                v += w
            else:
                return v, i

    def args(self, i):
        vals = []
        i = self.ws(i)
        if self.src.startswith(')', i):
            return vals, i + 1
        while True:
            v, i = self.expr(i)
            vals.append(v)
            i = self.ws(i)
            if self.src.startswith(',', i):
                i = self.ws(i + 1)
                if self.src.startswith(')', i):
                    return vals, i + 1
                continue
            if self.src.startswith(')', i):
                return vals, i + 1
            raise Unsupported('args')

    def term(self, i):
        i = self.ws(i)
        s = self.src
        if s.startswith('`', i):
            j = s.index('`', i + 1)
            return s[i + 1:j], j + 1
        if s.startswith('"', i):
            m = re.match(r'"((?:[^"\\\n]|\\.)*)"', s[i:])
            if not m:
                raise Unsupported('string')
            return unescape(m.group(1)), i + len(m.group(0))
        if re.match(r'\d', s[i:i + 1]):
            m = re.match(r'\d+', s[i:])
            return int(m.group(0)), i + len(m.group(0))
        m = re.match(r'[A-Za-z_][\w.]*', s[i:])
        if not m:
            raise Unsupported('term')
        name = m.group(0)
        i += len(name)
        if name in ('fmt.Sprintf', 'strings.Repeat', 'string'):
            j = self.ws(i)
            if not s.startswith('(', j):
                raise Unsupported(name)
            vals, i = self.args(j + 1)
            if name == 'string':
                return str(vals[0]), i
            if name == 'strings.Repeat':
                return str(vals[0]) * int(vals[1]), i
            return sprintf(vals[0], vals[1:]), i
        if name in self.env:
            j = self.ws(i)
            if s.startswith('(', j) or s.startswith('[', j):
                raise Unsupported('call or index')
            return self.env[name], i
        raise Unsupported(name)


def sprintf(fmt, args):
    out, k, i = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != '%':
            out.append(c); i += 1; continue
        verb = fmt[i + 1]
        if verb == '%':
            out.append('%')
        elif verb in 'svd':
            out.append(str(args[k])); k += 1
        elif verb == 'q':
            out.append(json.dumps(str(args[k]))); k += 1
        else:
            raise Unsupported('verb ' + verb)
        i += 2
    if k != len(args):
        raise Unsupported('argument count')
    return ''.join(out)


def bindings(src):
    """String variables and constants of the file: `name = expr` / `name := expr` (in order)."""
    env = {}
    for m in re.finditer(r'(?m)^\s*(?:(?:var|const)\s+)?([A-Za-z_]\w*)(?:\s+string)?\s*:?=\s*(?=[`"A-Za-z_])', src):
        try:
            v, end = Parser(src, env).expr(m.end())
        except (Unsupported, ValueError, IndexError, KeyError):
            continue
        rest = src[end:end + 3]
        if isinstance(v, str) and re.match(r'\s*(?:\n|//|\)|;|$)', rest):
            env.setdefault(m.group(1), v)
    return env


def cases(src):
    env = bindings(src)
    found, skipped = [], 0
    for m in re.finditer(r'\binput:\s*', src):
        nxt = src.find('input:', m.end())
        want = re.compile(r'\bwant:\s*').search(src, m.end(), nxt if nxt > 0 else len(src))
        if not want:
            skipped += 1
            continue
        try:
            text, _ = Parser(src, env).expr(m.end())
        except (Unsupported, ValueError, IndexError, KeyError):
            skipped += 1
            continue
        w = src[want.end():want.end() + 400]
        if re.match(r'nil\b|\[\]string\{\s*\}', w):
            positive = False
        elif re.match(r'\[\]string\{\s*[^}\s]', w):
            positive = True
        else:
            skipped += 1
            continue
        if isinstance(text, str) and text.strip():
            found.append((positive, text))
    return found, skipped


def main():
    commit = git('rev-parse', 'HEAD').strip()
    files = [f for f in git('ls-tree', '-r', '--name-only', 'HEAD', 'pkg/detectors').splitlines()
             if f.endswith('_test.go') and 'integration' not in f]
    detectors = []
    for d, provider in sorted(DETECTORS.items()):
        prefix = f'pkg/detectors/{d}/'
        mine = [f for f in files if f.startswith(prefix) and '/' not in f[len(prefix):]]
        positives, negatives, skipped = [], [], 0
        for f in mine:
            got, s = cases(git('show', f'HEAD:{f}'))
            skipped += s
            for positive, text in got:
                (positives if positive else negatives).append(text)
        if positives or negatives:
            detectors.append({'detector': d, 'provider': provider, 'files': mine,
                              'positives': list(dict.fromkeys(positives)), 'negatives': list(dict.fromkeys(negatives)), 'skipped': skipped})
    json.dump({
        'source': {'repository': 'https://github.com/trufflesecurity/trufflehog', 'path': 'pkg/detectors/*/*_test.go',
                   'commit': commit, 'license': 'AGPL-3.0 (trufflehog); only test inputs and their labels are carried, as data',
                   'extractedBy': 'test/vectors/trufflehog/extract.py'},
        'note': "Inputs of trufflehog's detector pattern tests: positive when the test wants at least one secret found, negative when it wants none.",
        'detectors': detectors,
    }, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write('\n')


main()
