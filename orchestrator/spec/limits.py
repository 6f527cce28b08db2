"""The size limits that keep loading a hostile or broken file cheap: bounded time, bounded
memory, no recursion deep enough to crash the interpreter.

Owns: the named limits (one place to read and change them) and the wording of the hint
that goes with each. Every loader reports a limit it hits as a located `Issue`; none of
them may raise past the limit or silently truncate.

Must not: check anything itself (yaml_marks.py, files.py and compile's template reader do).
"""

from __future__ import annotations

# A pipeline or resource YAML file. A generated 2,000-step pipeline is ~0.4 MB.
MAX_YAML_BYTES = 16 * 1024 * 1024
# Nesting of mappings and lists (a JSON Schema under output.schema is the deepest real use).
MAX_YAML_DEPTH = 64
# Values in one file, and values that aliases add when expanded (each `*ref` repeats what
# its anchor holds): building costs a few microseconds and ~0.5 KB a value, so these bound
# time and memory, and stop billion-laughs bombs before anything is built. A generated
# 2,000-step pipeline has ~28,000 values and no aliases.
MAX_YAML_NODES = 500_000
MAX_ALIAS_VALUES = 100_000
# Python refuses to read integers this long (int_max_str_digits); YAML has no such limit.
MAX_INT_DIGITS = 4300

# Files a resource points at (`system_file`, `value_file`, `source_file`).
MAX_TEXT_FILE_BYTES = 2 * 1024 * 1024
# Files a Folder uploads (hashed in chunks, never held in memory whole).
MAX_UPLOAD_FILE_BYTES = 100 * 1024 * 1024
MAX_FOLDER_FILES = 10_000
# Entries looked at while searching a resource directory for YAML files.
MAX_DIRECTORY_ENTRIES = 50_000

# One template (prompt, when, for_each, until, output).
MAX_TEMPLATE_CHARS = 100_000
# Brackets nested inside one `{{ }}` / `{% %}` tag, and the depth of its expression tree
# (`a + b + c` is two deep): Jinja's parser and compiler recurse once (or more) per level.
MAX_TEMPLATE_NESTING = 32
MAX_TEMPLATE_DEPTH = 100

LIMIT_HINT = "a limit that keeps loading safe"


def size_words(count: int) -> str:
    """1536 -> '1.5 KiB': sizes in messages read as people write them."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return (
                f"{int(value)} {unit}"
                if unit == "bytes"
                else f"{value:.1f} {unit}".replace(".0 ", " ")
            )
        value /= 1024
    return f"{count} bytes"  # pragma: no cover - the loop always returns
