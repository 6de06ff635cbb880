#!/usr/bin/env python3
"""
Extracts the true- and false-positive examples that gitleaks keeps beside each of its rules
(cmd/generate/config/rules/*.go) into examples.json, as data.

    python3 extract.py <gitleaks git dir> <commit> > examples.json

Literal examples are copied as they are written. Examples gitleaks generates at test time are
reproduced by evaluating the same expressions: `secrets.NewSecret(<regex>)` draws a random string
matching the regex (as gitleaks' reggen does; here from a fixed seed, so the file is stable), and
`utils.GenerateSampleSecrets(id, secret)` / `utils.GenerateSampleSecret(id, secret)` wrap the
secret in the same templates as gitleaks' cmd/generate/config/utils/generate.go (INI, JSON, XML,
YAML, C#, Go, Java, Kotlin, PHP, Python, logstash, Makefile, setProperty). Expressions that use
anything else (a local variable, another helper) are left out and counted in `skipped`.
Only gitleaks' examples are taken, never its regexes.
"""
import json, random, re, subprocess, sys

GIT_DIR, COMMIT = sys.argv[1], sys.argv[2]

def git(*args):
    return subprocess.run(['git', '--git-dir', GIT_DIR, *args], check=True, capture_output=True, text=True).stdout

# --- the sample templates of utils.GenerateSampleSecrets (copied as data: they are examples' wrappers)
TEMPLATES = [
    '{i}Token="{s}"', '{i}Token = "{s}"', '{i}Token={s}', '{i}Token = {s}',
    '{\n    "{i}_token": "{s}"\n}', '{"config.ini": "{I}_TOKEN={s}\\nBACKUP_ENABLED=true"}',
    '<{i}Token>\n    {s}\n</{i}Token>',
    '{i}_token: {s}', "{i}_token: '{s}'", '{i}_token: "{s}"',
    'string {i}Token = "{s}";', 'var {i}Token string = "{s}"', '{i}Token := "{s}"', '{i}Token := `{s}`',
    'String {i}Token = "{s}";', 'var {i}Token = "{s}"', '${i}Token .= "{s}"',
    "{i}Token = '{s}'", '{i}Token = "{s}"',
    'System.setProperty("{I}_TOKEN", "{s}")', '  "{i}Token" => "{s}"',
    '{i}_TOKEN = "{s}"', '{i}_TOKEN := "{s}"', '{i}_TOKEN ::= "{s}"', '{i}_TOKEN :::= "{s}"', '{i}_TOKEN ?= "{s}"',
]

def sample_secrets(ident, secret):
    return [t.replace('{i}', ident).replace('{I}', ident.upper()).replace('{s}', secret) for t in TEMPLATES]

def sample_secret(ident, secret):
    return f'{ident}_api_token = "{secret}"'

# --- a small generator of strings matching a regex (the subset gitleaks' examples use)
class Gen:
    def __init__(self, rnd): self.rnd = rnd
    def run(self, pattern):
        self.p, self.i = pattern, 0
        out = self.alt()
        return out
    def peek(self): return self.p[self.i] if self.i < len(self.p) else ''
    def alt(self):
        branches = [self.seq()]
        while self.peek() == '|':
            self.i += 1; branches.append(self.seq())
        return self.rnd.choice(branches)
    def seq(self):
        out = ''
        while self.i < len(self.p) and self.peek() not in '|)':
            atom = self.atom()
            lo, hi = self.quant()
            n = lo if hi == lo else self.rnd.randint(lo, hi)
            out += ''.join(atom() for _ in range(n))
        return out
    def quant(self):
        c = self.peek()
        if c == '{':
            j = self.p.index('}', self.i); body = self.p[self.i+1:j]; self.i = j + 1
            if ',' in body:
                a, b = body.split(','); return int(a), int(b) if b else int(a)
            return int(body), int(body)
        if c and c in '?*+':
            self.i += 1; return {'?': (0, 1), '*': (0, 0), '+': (1, 1)}[c]
        return 1, 1
    def cls_chars(self, body):
        chars, k = [], 0
        while k < len(body):
            c = body[k]
            if c == '\\':
                e = body[k+1]; k += 2
                chars += list({'d': '0123456789', 'w': 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_', 's': ' '}.get(e, e))
                continue
            if k + 2 < len(body) and body[k+1] == '-':
                chars += [chr(x) for x in range(ord(c), ord(body[k+2]) + 1)]; k += 3; continue
            chars.append(c); k += 1
        return chars
    def atom(self):
        c = self.peek()
        if c == '(':
            self.i += 1
            if self.p.startswith('?:', self.i): self.i += 2
            start = self.i
            # re-run the group each repetition
            depth, j = 1, self.i
            while depth:
                if self.p[j] == '\\': j += 2; continue
                if self.p[j] == '(': depth += 1
                elif self.p[j] == ')': depth -= 1
                j += 1
            body = self.p[start:j-1]; self.i = j
            return lambda: Gen(self.rnd).run(body)
        if c == '[':
            j = self.i + 1
            while self.p[j] != ']':
                j += 2 if self.p[j] == '\\' else 1
            chars = self.cls_chars(self.p[self.i+1:j]); self.i = j + 1
            return lambda: self.rnd.choice(chars)
        if c == '\\':
            e = self.p[self.i+1]; self.i += 2
            if e == 'd': return lambda: self.rnd.choice('0123456789')
            if e == 'w': return lambda: self.rnd.choice('abcdefghijklmnopqrstuvwxyz0123456789')
            if e == 'z': return lambda: ''
            return lambda: e
        if c in '^$': self.i += 1; return lambda: ''
        self.i += 1
        return lambda: c

HELPERS = {
    'Numeric': lambda n: f'[0-9]{{{n}}}', 'Hex': lambda n: f'[a-f0-9]{{{n}}}', 'AlphaNumeric': lambda n: f'[a-z0-9]{{{n}}}',
    'AlphaNumericExtendedShort': lambda n: f'[a-z0-9_-]{{{n}}}', 'AlphaNumericExtended': lambda n: f'[a-z0-9=_\\-]{{{n}}}',
    'AlphaNumericExtendedLong': lambda n: f'[a-z0-9\\/=_\\+\\-]{{{n}}}',
}

class Skip(Exception): pass

TOKEN = re.compile(r'\s+|//[^\n]*|"(?:\\.|[^"\\\n])*"|`[^`]*`|\.\.\.|[A-Za-z_][A-Za-z0-9_.]*|\[\]string|[(){},+]|.', re.S)

def go_string(tok):
    if tok[0] == '`': return tok[1:-1]
    body, out, k = tok[1:-1], '', 0
    while k < len(body):
        c = body[k]
        if c != '\\': out += c; k += 1; continue
        e = body[k+1]
        if e in 'ntr': out += {'n': '\n', 't': '\t', 'r': '\r'}[e]; k += 2
        elif e == 'x': out += chr(int(body[k+2:k+4], 16)); k += 4
        elif e == 'u': out += chr(int(body[k+2:k+6], 16)); k += 6
        else: out += e; k += 2
    return out

class Parser:
    def __init__(self, src, pos, rnd):
        self.toks = []
        for m in TOKEN.finditer(src, pos):
            t = m.group(0)
            if t.isspace() or t.startswith('//'): continue
            self.toks.append(t)
            if len(self.toks) > 4000: break
        self.k, self.rnd, self.skipped = 0, rnd, 0
    def peek(self): return self.toks[self.k] if self.k < len(self.toks) else ''
    def take(self, want=None):
        t = self.peek()
        if want is not None and t != want: raise Skip(f'expected {want}, got {t}')
        self.k += 1; return t
    def expr(self):
        """A list of strings (a []string) or a single string."""
        value = self.term()
        while self.peek() == '+':
            self.take(); right = self.term()
            if isinstance(value, list) or isinstance(right, list): raise Skip('+ on a list')
            value += right
        return value
    def args(self):
        self.take('('); out = []
        while self.peek() != ')':
            out.append(self.expr_safe())
            if self.peek() == '...': self.take()
            if self.peek() == ',': self.take()
        self.take(')'); return out
    def expr_safe(self):
        start = self.k
        try:
            return self.expr()
        except Skip:
            # skip to the end of this element
            self.k, depth = start, 0
            while self.k < len(self.toks):
                t = self.peek()
                if depth == 0 and t in (',', ')', '}'): break
                if t in '({': depth += 1
                if t in ')}': depth -= 1
                self.k += 1
            self.skipped += 1
            return None
    def term(self):
        t = self.peek()
        if t.startswith('"') or t.startswith('`'): self.take(); return go_string(t)
        if t == '[]string':
            self.take(); self.take('{'); out = []
            while self.peek() != '}':
                v = self.expr_safe()
                if isinstance(v, list): out += v
                elif v is not None: out.append(v)
                if self.peek() == ',': self.take()
            self.take('}'); return out
        if t == 'append':
            self.take(); parts = self.args(); out = []
            for p in parts:
                if isinstance(p, list): out += p
                elif p is not None: out.append(p)
            return out
        if t == 'secrets.NewSecret':
            self.take(); (pattern,) = self.args()
            if not isinstance(pattern, str): raise Skip('pattern')
            try:
                return Gen(self.rnd).run(pattern)
            except (IndexError, ValueError, KeyError) as err:
                raise Skip(f'pattern {pattern}') from err
        if t.startswith('utils.') and t[6:] in HELPERS:
            self.take(); (n,) = self.args(); return HELPERS[t[6:]](n)
        if t == 'utils.Hex8_4_4_4_12':
            self.take(); self.args(); return '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
        if t == 'utils.GenerateSampleSecrets':
            self.take(); ident, secret = self.args()
            if not isinstance(ident, str) or not isinstance(secret, str): raise Skip('args')
            return sample_secrets(ident, secret)
        if t == 'utils.GenerateSampleSecret':
            self.take(); ident, secret = self.args()
            if not isinstance(ident, str) or not isinstance(secret, str): raise Skip('args')
            return sample_secret(ident, secret)
        if t == 'strings.Repeat':
            self.take(); s, n = self.args(); return s * int(n) if isinstance(s, str) and isinstance(n, str) and n.isdigit() else (_ for _ in ()).throw(Skip('repeat'))
        if re.fullmatch(r'\d+', t): self.take(); return t
        raise Skip(f'unknown {t}')

def rules_of(path, source):
    out = []
    for fn in re.split(r'\nfunc ', source)[1:]:
        rid = re.search(r'RuleID:\s*"([^"]+)"', fn)
        if not rid: continue
        rule = {'gitleaksRule': rid.group(1), 'file': path.split('/')[-1], 'positives': [], 'negatives': [], 'skipped': 0}
        rnd = random.Random(f'{COMMIT}:{rid.group(1)}')
        for m in re.finditer(r'\b(tps|fps|tp|fp)\s*(?::=|=)\s*', fn):
            p = Parser(fn, m.end(), rnd)
            try:
                value = p.expr()
            except Skip:
                rule['skipped'] += 1; continue
            rule['skipped'] += p.skipped
            values = value if isinstance(value, list) else [value]
            key = 'positives' if m.group(1).startswith('t') else 'negatives'
            for v in values:
                if isinstance(v, str) and v not in rule[key]: rule[key].append(v)
        out.append(rule)
    return out

files = [f for f in git('ls-tree', '--name-only', COMMIT, 'cmd/generate/config/rules/').split() if f.endswith('.go')]
rules = []
for f in files:
    rules += rules_of(f, git('show', f'{COMMIT}:{f}'))
json.dump({
    'source': {'repository': 'https://github.com/gitleaks/gitleaks', 'path': 'cmd/generate/config/rules/*.go', 'commit': COMMIT,
               'license': 'MIT (gitleaks)', 'extractedBy': 'test/vectors/gitleaks/extract.py'},
    'note': 'True- (positives) and false-positive (negatives) examples kept beside each gitleaks rule. Literal examples are copied; generated ones are reproduced by evaluating the same expressions with a fixed seed (random strings from the same regexes, wrapped in the same sample templates).',
    'rules': rules,
}, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write('\n')
