"""Hostile inputs shared by the intake, REST and gRPC tests: each must be a ValidationError."""

from __future__ import annotations

import random

# ~440 bytes that would expand to 9**9 * 6 strings if aliases were followed.
BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "j: [*i,*i,*i,*i,*i,*i]\n"
)

YAML_ATTACKS: dict[str, str] = {
    "billion-laughs": BILLION_LAUGHS,
    "python-object-apply": "a: !!python/object/apply:os.system ['echo hi']\n",
    "python-name": "a: !!python/name:os.system\n",
    "binary": "a: !!binary aGVsbG8=\n",
    "set": "a: !!set {x, y}\n",
    "unknown-tag": "a: !foo bar\n",
    "anchor": "a: &x 1\n",
    "alias": "a: 1\nb: *x\n",
    "merge-key": "base: {a: 1}\n<<: {a: 1}\n",
    "duplicate-key": "a: 1\na: 2\n",
    "yes-key": "yes: 1\n",
    "1000-deep": "a: " + "[" * 1000 + "]" * 1000 + "\n",
    "nan": "a: .nan\n",
    "infinity": "a: -.inf\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "top-level-list": "- a\n- b\n",
    "top-level-scalar": "just text\n",
    "empty": "",
    "whitespace-only": "  \n\t\n",
    "comment-only": "# nothing\n",
    "unclosed-flow": "a: [1, 2\n",
    "nul-byte": "a: \x00\n",
}

# Names a spec may not have: wrong case, edges, length, look-alike letters, separators.
BAD_NAMES: dict[str, str] = {
    "upper": "UPPER",
    "trailing-underscore": "a_",
    "leading-dash": "-x",
    "trailing-dash": "x-",
    "129-chars": "a" * 129,
    "latin-lookalike": "sp\u00e9c",
    "cyrillic-a": "\u0430bc",
    "fullwidth": "\uff41bc",
    "space": "a b",
    "empty": "",
    "slash": "a/b",
    "dot-dot": "..",
    "nul": "a\x00b",
    "trailing-newline": "abc\n",
}

# A regex-rules spec (under 2 KB) whose patterns no input matches (there is no "c") and
# whose DFAs grow with every new run of "a" and "b" they read: work and memory for RE2.
DFA_HOSTILE_RULES = "rule: {any: [" + ", ".join(
    f"{{field: f, matches: '[ab]*{x}[ab]{{{n}}}c'}}" for n in range(12, 22) for x in "ab"
) + "]}\n"


def ab_text(size: int, seed: int = 1) -> str:
    """``size`` random a's and b's: input that keeps DFA_HOSTILE_RULES busy."""
    chooser = random.Random(seed)
    return "".join(chooser.choice("ab") for _ in range(size))
