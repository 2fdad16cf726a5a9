"""``specsvc completion bash|zsh``: the shell code that completes commands and options."""

from __future__ import annotations

import argparse
from typing import Any

import argcomplete

from specsvc.cli.common import add_command

SHELLS = ("bash", "zsh")


def add_completion_command(commands: Any, options: Any) -> None:
    completion = add_command(
        commands,
        "completion",
        "print the shell code that completes specsvc's commands and options",
        [
            'eval "$(specsvc completion bash)"   # in ~/.bashrc',
            'eval "$(specsvc completion zsh)"    # in ~/.zshrc',
        ],
        [options],
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    completion.set_defaults(handler=_completion)


def _completion(args: argparse.Namespace) -> int:
    print(argcomplete.shellcode(["specsvc"], shell=args.shell), end="")
    return 0
