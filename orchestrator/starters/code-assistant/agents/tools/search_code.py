def search_code(query: str, path: str = ".", max_results: int = 20) -> str:
    """Search source files for a text (case-insensitive), like grep -rn.

    Letta runs tools on its own machine: with the embedded Letta that is this machine, so
    `path` is a directory here (give it as an absolute path).

    Args:
        query: the text to look for
        path: the directory to search
        max_results: at most this many matching lines

    Returns:
        matching lines as "file:line: text", or a sentence saying nothing matched
    """
    import os

    suffixes = (
        ".py",
        ".js",
        ".ts",
        ".go",
        ".rs",
        ".java",
        ".rb",
        ".c",
        ".h",
        ".cpp",
        ".md",
        ".yaml",
        ".yml",
        ".toml",
        ".json",
        ".sh",
    )
    skipped = {".git", "node_modules", ".venv", "venv", "__pycache__", "dist", "build"}
    needle, found = query.lower(), []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in skipped and not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(suffixes):
                continue
            file = os.path.join(root, name)
            try:
                with open(file, encoding="utf-8", errors="replace") as handle:
                    for number, line in enumerate(handle, 1):
                        if needle in line.lower():
                            found.append(
                                f"{os.path.relpath(file, path)}:{number}: {line.strip()[:200]}"
                            )
                            if len(found) >= max_results:
                                return "\n".join(found)
            except OSError:
                continue
    return "\n".join(found) or f"no match for {query!r} under {path}"
