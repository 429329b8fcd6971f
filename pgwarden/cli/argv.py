"""Global options written after the command: ``pgwarden doctor --dsn X``.

The global options (``--dsn``, ``--target``, ``--repository-dsn``, ``--config``,
``--debug``, ``--format``) belong to the root command, before the command name.
People also write them after it, so :func:`hoist` moves each one it finds after a
command name to just before that name, where the root reads it. Moved ones come after
any given before the command, so the one after the command wins (the last of
an option given twice is the one kept).

The command line is walked the way Click reads it: an option of a command that
takes a value takes the next word whatever it looks like, ``--`` ends the
options, and a command's own option of the same name (``--format`` of most
commands) stays with that command.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: the global options that take a value, and the flags
VALUED = ("--dsn", "--target", "--repository-dsn", "--config", "--format")
FLAGS = ("--debug",)


def hoist(root: Any, args: Sequence[str]) -> list[str]:
    """``args`` with the global options given after a command moved before it."""
    words = list(args)
    start = _command_start(root, words)
    if start is None:
        return words
    moved: list[str] = []
    kept: list[str] = []
    command: Any = _subcommand(root, words[start])
    kept.append(words[start])
    i = start + 1
    while i < len(words):
        word = words[i]
        if word == "--":
            kept.extend(words[i:])
            break
        name = word.split("=", 1)[0]
        own = _option(command, name) if command is not None else None
        if own is not None:
            width = _width(own, word)
            kept.extend(words[i : i + 1 + width])
            i += 1 + width
            continue
        if name in VALUED or (name in FLAGS and name == word):
            width = 1 if name in VALUED and "=" not in word else 0
            moved.extend(words[i : i + 1 + width])
            i += 1 + width
            continue
        if not word.startswith("-") and _is_group(command):
            command = _subcommand(command, word)
        kept.append(word)
        i += 1
    return words[:start] + moved + kept


def _command_start(root: Any, words: list[str]) -> int | None:
    """Where the command name is among the root's words, if there is one."""
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return None
        option = _option(root, word.split("=", 1)[0])
        if option is not None:
            i += 1 + _width(option, word)
            continue
        if word.startswith("-"):
            return None  # an unknown option: Click says so
        return i
    return None


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _subcommand(group: Any, name: str) -> Any:
    return group.commands.get(name) if _is_group(group) else None


def _option(command: Any, name: str) -> Any:
    if not name.startswith("-"):
        return None
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option" and name in (
            *param.opts,
            *param.secondary_opts,
        ):
            return param
    return None


def _width(option: Any, word: str) -> int:
    """How many following words the option takes as its value."""
    if option.is_flag or option.count or "=" in word:
        return 0
    return max(int(option.nargs), 1)
