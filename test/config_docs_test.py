#!/usr/bin/python3
"""docs/configuration.md documents exactly the flags the binaries have.

    config_docs_test.py DOC BINARY...

Runs `BINARY --help` for each binary and reads every flag it prints with its
default (server/host/command_line.h's listing: "    --name (help); default:
VALUE;", wrapped lines joined). DOC holds the flag tables, each between
    <!-- flags: NAME [NAME...] -->   and   <!-- end flags -->
where NAME is a binary's file name: the table documents flags of every binary
it names (a table shared by both servers names both). A table row is
    | `--flag` | `DEFAULT` | meaning |
with DEFAULT as --help prints it, string quotes dropped (an empty value is
written `""`). The test fails, naming each problem, if a binary prints a flag
that no table of it documents, if a documented default differs from the
printed one, if a table documents a flag the binary does not have, or if one
flag is documented twice for a binary. --dump prints the rows --help implies.
"""

import os
import re
import subprocess
import sys

FLAG_LINE = re.compile(r"^    --([A-Za-z0-9_]+) \(")
TABLE_BEGIN = re.compile(r"^<!-- flags: ([A-Za-z0-9_ ]+) -->$")
TABLE_END = "<!-- end flags -->"
ROW = re.compile(r"^\| `--([A-Za-z0-9_]+)` \| `([^`]*)` \|")


def help_flags(binary):
    """{flag: default} as `binary --help` prints them."""
    result = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        sys.exit(f"FAIL {binary} --help: exit status {result.returncode}\n{result.stderr}")
    records, current = [], None
    for line in result.stdout.splitlines():
        if FLAG_LINE.match(line):
            if current is not None:
                records.append(current)
            current = line.strip()
        elif current is not None and line.startswith("      "):
            current += " " + line.strip()
        else:
            if current is not None:
                records.append(current)
            current = None
    if current is not None:
        records.append(current)
    flags = {}
    for record in records:
        name = FLAG_LINE.match("    " + record).group(1)
        match = re.search(r"; default: (.*);$", record)
        if match is None:
            sys.exit(f"FAIL {binary} --help: no default in: {record}")
        value = match.group(1)
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        flags[name] = value if value != "" else '""'
    if not flags:
        sys.exit(f"FAIL {binary} --help: no flag listed\n{result.stdout}")
    return flags


def doc_tables(path):
    """[(binary names, {flag: default}, line number)] from the doc."""
    tables, current, problems = [], None, []
    with open(path, encoding="utf-8") as doc:
        for number, line in enumerate(doc, 1):
            line = line.rstrip("\n")
            begin = TABLE_BEGIN.match(line)
            if begin:
                current = (begin.group(1).split(), {}, number)
                continue
            if line == TABLE_END:
                if current is None:
                    problems.append(f"{path}:{number}: end marker without a table")
                else:
                    tables.append(current)
                current = None
                continue
            if current is not None and line.startswith("| `--"):
                row = ROW.match(line)
                if row is None:
                    problems.append(f"{path}:{number}: not a | `--flag` | `DEFAULT` | row: {line}")
                    continue
                if row.group(1) in current[1]:
                    problems.append(f"{path}:{number}: --{row.group(1)} twice in one table")
                current[1][row.group(1)] = row.group(2)
    if current is not None:
        problems.append(f"{path}:{current[2]}: table not closed with {TABLE_END}")
    return tables, problems


def main():
    args = sys.argv[1:]
    dump = "--dump" in args
    args = [a for a in args if a != "--dump"]
    if len(args) < 2:
        sys.exit(__doc__)
    doc, binaries = args[0], args[1:]
    if dump:
        for binary in binaries:
            print(f"## {os.path.basename(binary)}")
            for name, value in sorted(help_flags(binary).items()):
                print(f"| `--{name}` | `{value}` | |")
        return 0
    tables, problems = doc_tables(doc)
    names = {os.path.basename(b): b for b in binaries}
    for table_binaries, _, line in tables:
        for name in table_binaries:
            if name not in names:
                problems.append(f"{doc}:{line}: table for '{name}', which this test was not given")
    for name, binary in names.items():
        printed = help_flags(binary)
        documented = {}
        for table_binaries, rows, line in tables:
            if name not in table_binaries:
                continue
            for flag, value in rows.items():
                if flag in documented:
                    problems.append(f"{name}: --{flag} documented twice (tables at lines "
                                    f"{documented[flag][1]} and {line})")
                documented[flag] = (value, line)
        if not documented:
            problems.append(f"{name}: no flag table in {doc}")
        for flag, value in sorted(printed.items()):
            if flag not in documented:
                problems.append(f"{name}: --{flag} (default `{value}`) is not documented in {doc}")
            elif documented[flag][0] != value:
                problems.append(f"{name}: --{flag} is documented with default "
                                f"`{documented[flag][0]}` (line {documented[flag][1]}), "
                                f"--help says `{value}`")
        for flag, (_, line) in sorted(documented.items()):
            if flag not in printed:
                problems.append(f"{name}: --{flag} is documented (table at line {line}) but "
                                f"{name} has no such flag")
        if not problems:
            print(f"ok   {name}: {len(printed)} flags, each documented with its default")
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
