"""The man page pathint(1) (docs/pathint.1.scd) against `pathint --help`, so the two cannot drift.

Checks: the COMMANDS section lists exactly the commands of `pathint --help` with the same
one-line descriptions; each command has a section (# TRAIN, # SAMPLE, ...) with the same usage
line and exactly the options of `pathint CMD --help`, each with the same argument name and the
same description; and scdoc turns the source into a man page.

Usage: check_man_page.py PATHINT_TOOL SOURCE.scd [SCDOC]
"""
import re
import subprocess
import sys


def run_help(tool, *args):
    done = subprocess.run([tool, *args, "--help"], capture_output=True, text=True, check=True)
    return done.stdout


def unescape(text):
    return re.sub(r"\\(.)", r"\1", text)


def parse_help_commands(text):
    block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^  (\w+)\s{2,}(.*)$", block, re.M))


def parse_help_options(text):
    block = text.split("Options:\n", 1)[1].split("\n\n", 1)[0]
    options = {}
    for line in block.splitlines():
        m = re.match(r"^\s+(?:(-\w), )?(--[\w-]+)(?: (\S+))?\s{2,}(.*)$", line)
        if not m:
            raise SystemExit(f"cannot parse the help line {line!r}")
        short, long, arg, desc = m.groups()
        options[long] = (short, arg, desc.strip())
    return options


def parse_man(source):
    """{section title: [(term line, indented text)]} and the plain paragraphs of each section."""
    sections = {}
    current = None
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# "):
            current = line[2:].strip()
            sections[current] = {"entries": [], "paragraphs": []}
        elif current and line.strip() and not line.startswith("\t"):
            follow = lines[i + 1] if i + 1 < len(lines) else ""
            if follow.startswith("\t"):
                sections[current]["entries"].append((line, unescape(follow[1:].strip())))
                i += 1
            else:
                sections[current]["paragraphs"].append(unescape(line.strip()))
        i += 1
    return sections


def main():
    tool, scd = sys.argv[1], sys.argv[2]
    scdoc = sys.argv[3] if len(sys.argv) > 3 else None
    source = open(scd, encoding="utf-8").read()
    man = parse_man(source)
    problems = []

    commands = parse_help_commands(run_help(tool))
    listed = {re.fullmatch(r"\*(\w+)\*", term).group(1): desc
              for term, desc in man.get("COMMANDS", {"entries": []})["entries"]}
    if set(listed) != set(commands):
        problems.append(f"COMMANDS lists {sorted(listed)}, --help lists {sorted(commands)}")
    for name, desc in commands.items():
        if name in listed and listed[name] != desc.strip():
            problems.append(f"command {name}: man says {listed[name]!r}, --help says {desc.strip()!r}")

    command_sections = {t for t in man if t.lower() in commands}
    extra = {t for t in man if t not in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS",
                                          "EXAMPLES", "SEE ALSO") and t not in command_sections}
    if extra:
        problems.append(f"sections that are neither commands nor fixed: {sorted(extra)}")
    for name in commands:
        title = name.upper()
        if title not in man:
            problems.append(f"no section '# {title}' for the command {name}")
            continue
        text = run_help(tool, name)
        usage = text.splitlines()[0].replace("Usage: ", "", 1)
        if usage not in man[title]["paragraphs"]:
            problems.append(f"{title}: usage line {usage!r} missing (has {man[title]['paragraphs'][:1]})")
        options = parse_help_options(text)
        documented = {}
        for term, desc in man[title]["entries"]:
            m = re.fullmatch(r"(?:\*(-\w)\*, )?\*(--[\w\\-]+)\*(?: _(\S+)_)?", term)
            if not m:
                problems.append(f"{title}: cannot parse the option line {term!r}")
                continue
            short, long, arg = m.groups()
            documented[unescape(long)] = (short, arg and unescape(arg), desc)
        for long in sorted(set(options) | set(documented)):
            if long not in documented:
                problems.append(f"{name}: {long} is in --help but not in the man page")
            elif long not in options:
                problems.append(f"{name}: {long} is in the man page but not in --help")
            elif documented[long] != options[long]:
                problems.append(f"{name} {long}: man page {documented[long]} != --help {options[long]}")

    if scdoc:
        done = subprocess.run([scdoc], input=source.encode(), capture_output=True)
        if done.returncode != 0 or b".TH" not in done.stdout:
            problems.append(f"scdoc failed: {done.stderr.decode(errors='replace')}")

    for p in problems:
        print("man page drift:", p)
    if problems:
        return 1
    print(f"man page matches --help: {len(commands)} commands, "
          f"{sum(len(parse_help_options(run_help(tool, c))) for c in commands)} options")
    return 0


if __name__ == "__main__":
    sys.exit(main())
