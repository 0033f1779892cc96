# The completions cannot drift from the CLI: this walks `kwh --help`, `kwh GROUP --help` and
# `kwh GROUP SUB --help` for the subcommands, long options, fixed option values ({a,b,c}) and
# fixed first arguments (relay actions, report names), and checks that each is offered by the
# bash and fish completions (by running them) and appears in the zsh one. A group that is not
# built yet has no options yet; that is tolerated.
. "$(dirname "$0")/lib.sh"
export PATH=$(dirname "$KWH"):$PATH
# The shells may write history and settings under $HOME: keep them in the test's folder.
export HOME=$T XDG_CONFIG_HOME=$T/.config XDG_DATA_HOME=$T/.local/share
export KWH_COMPLETIONS=$KWH_SOURCE/completions

/usr/bin/python3 - <<'PY'
import os, re, shutil, subprocess, sys

kwh = os.environ["KWH"]
comp = os.environ["KWH_COMPLETIONS"]

def help_of(path):
    r = subprocess.run([kwh, *path, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: kwh {' '.join(path)} --help exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout

def sections(text):
    out, sec = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\w[\w ]*):$", line)
        if m:
            sec = m.group(1)
            out.setdefault(sec, [])
        elif line.startswith("  ") and sec:
            out[sec].append(line)
        elif line and not line.startswith(" "):
            sec = None
    return out

facts = {"sub": set(), "opt": set(), "val": set(), "pos": set()}
unbuilt = []

def walk(path):
    s = sections(help_of(path))
    for line in s.get("Options", []):
        column = re.split(r"\s{2,}", line.strip())[0]
        if not column.startswith("-"):
            continue
        names = column.split(" ")[0]
        for name in re.findall(r"--[\w-]+", names):
            facts["opt"].add((tuple(path), name))
            m = re.search(r":\{([^}]*)\}", column)
            if m:
                for v in m.group(1).split(","):
                    facts["val"].add((tuple(path), name, v))
    positionals = [l for l in s.get("Positionals", []) if not l.startswith("   ")]
    if positionals:
        m = re.search(r":\{([^}]*)\}", positionals[0])
        if m:
            for v in m.group(1).split(","):
                facts["pos"].add((tuple(path), v))
    for line in s.get("Subcommands", []):
        if line.startswith("   "):
            continue
        name = line.split()[0]
        facts["sub"].add((tuple(path), name))
        if "not built yet" in line:
            unbuilt.append(" ".join(path + [name]))
        walk(path + [name])

walk([])
if not any(p == () and n == "sell" for p, n in facts["sub"]):
    sys.exit("FAIL: could not read the subcommands from kwh --help")

# Queries: (words before the cursor, the word being completed) -> what each shell must offer.
queries = {}
def want(words, cur, item):
    queries.setdefault((tuple(words), cur), set()).add(item)

for path, name in facts["sub"] | facts["pos"]:
    want(path, "", name)
for path, opt in facts["opt"]:
    if opt in ("--help",) and path:
        continue  # every command's -h; the global one is checked at the top
    want(path, "--", opt)
for path, opt, v in facts["val"]:
    want(path + (opt,), "", v)

def run_bash():
    script = [f". {comp}/kwh.bash", "q() { COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _kwh; printf '%s\\n' \"${COMPREPLY[@]}\"; }"]
    keys = sorted(queries)
    for i, (words, cur) in enumerate(keys):
        args = " ".join(["kwh"] + [f"'{w}'" for w in words] + [f"'{cur}'"])
        script.append(f"echo '@@{i}'; q {args}")
    r = subprocess.run(["bash", "--norc", "--noprofile"], input="\n".join(script), capture_output=True, text=True)
    return keys, r

def run_fish():
    keys = sorted(queries)
    script = [f"source {comp}/kwh.fish"]
    for i, (words, cur) in enumerate(keys):
        line = " ".join(["kwh", *words, cur])
        script.append(f"echo '@@{i}'; complete -C '{line}'")
    r = subprocess.run(["fish", "--no-config"], input="\n".join(script), capture_output=True, text=True)
    return keys, r

def offered(keys, r):
    got, cur = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("@@"):
            cur = keys[int(line[2:])]
            got[cur] = set()
        elif cur is not None and line:
            got[cur].add(line.split("\t")[0])
    return got

problems = []
def check(shell, runner):
    keys, r = runner()
    if r.stderr.strip():
        problems.append(f"{shell}: errors while completing: {r.stderr.strip()[:500]}")
    got = offered(keys, r)
    for key in keys:
        missing = queries[key] - got.get(key, set())
        for item in sorted(missing):
            problems.append(f"{shell}: 'kwh {' '.join(key[0] + (key[1],))}<TAB>' does not offer {item}")

check("bash", run_bash)
if shutil.which("fish"):
    check("fish", run_fish)
else:
    print("note: fish is not installed; kwh.fish checked as text only", file=sys.stderr)

# zsh and (without fish) fish: every item appears as a word in the file.
texts = {"zsh": open(f"{comp}/_kwh").read(), "fish": open(f"{comp}/kwh.fish").read()}
for shell, text in texts.items():
    for items in queries.values():
        for item in items:
            if shell == "fish" and item.startswith("--"):
                ok = re.search(r"-l " + re.escape(item[2:]) + r"(\s|$)", text)
            else:
                ok = re.search(r"(?<![\w-])" + re.escape(item) + r"(?![\w-])", text)
            if not ok:
                problems.append(f"{shell}: {item} does not appear in the completion file")

n = sum(len(v) for v in queries.values())
print(f"checked {n} words in {len(queries)} completions; not built yet: {', '.join(unbuilt) or 'none'}")
if problems:
    print("\n".join(sorted(set(problems))), file=sys.stderr)
    sys.exit("FAIL: completions differ from the CLI")
PY
echo ok
