#!/usr/bin/python3
"""Every refusal the CLI writes itself says it in Chinese first (README, "Exit codes").

Reads each cli_fail(...) call in cli/*.c and its format string (the adjacent string literals).
A format passes if it holds a Chinese sentence before " / " (cli_fail prints that sentence
first), or if it only passes on a message from the library ("%s", "%s: %s"): those print the
message table's Chinese sentence for their code, which tests/test_messages.c holds to both
languages. Prints each call that does neither, with its file and line; exits 1 if any.
usage: check_cli_words.py [CLI_DIR]"""
import glob
import os
import re
import sys

cli = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "cli")
PASSTHROUGH = {"%s", "%s: %s", "%s: %s%s", "%s; nothing was sent"}
HAN = re.compile(r"[\u4e00-\u9fff]")
bad, seen = [], 0


def split_args(text):
    """The top-level arguments of a call, split at commas outside parentheses and strings."""
    out, cur, depth, i = [], "", 0, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            cur += text[i:j + 1]
            i = j + 1
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    out.append(cur)
    return out


for path in sorted(glob.glob(os.path.join(cli, "*.c"))):
    src = open(path, encoding="utf-8").read()
    for m in re.finditer(r"\bcli_fail\(", src):
        if src[m.start() - 4:m.start()] == "int ":
            continue  # the definition
        # the call's arguments up to the matching parenthesis
        depth, i = 1, m.end()
        while depth and i < len(src):
            depth += {"(": 1, ")": -1}.get(src[i], 0)
            i += 1
        args = split_args(src[m.end():i - 1])
        fmt = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', args[2])) if len(args) > 2 else ""
        seen += 1
        line = src.count("\n", 0, m.start()) + 1
        if fmt in PASSTHROUGH:
            continue
        head = fmt.split(" / ", 1)
        if len(head) == 2 and HAN.search(head[0]):
            continue
        bad.append(f"{os.path.relpath(path)}:{line}: no Chinese sentence before \" / \": \"{fmt[:70]}\"")
for b in bad:
    print(b)
print(f"{seen} refusals read, {len(bad)} without their own Chinese sentence")
sys.exit(1 if bad or seen < 100 else 0)
