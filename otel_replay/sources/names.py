"""Which files of a folder or an archive are read, by their names alone (nothing is opened
to decide): telemetry files and archives are; packaging noise — what Finder, Explorer,
version control and package managers leave beside a report — is not; ``--include`` and
``--exclude`` choose otherwise. See docs/input-rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

#: Names read from folders and archives; a file named on the command line is always read.
DATA_SUFFIXES = tuple(
    base + comp for base in (".json", ".jsonl", ".ndjson") for comp in ("", ".gz", ".zst", ".zstd", ".bz2", ".xz")
)
#: Archives read from folders and from inside other archives (recognised by content when read).
ARCHIVE_SUFFIXES = (
    *(".tar" + comp for comp in ("", ".gz", ".zst", ".zstd", ".bz2", ".xz")),
    *(".zip", ".7z", ".tgz", ".tzst", ".tbz", ".tbz2", ".txz"),
)
#: Folders never walked: packaging and tooling, never telemetry.
NOISE_DIRS = frozenset(
    {
        "__MACOSX",  # macOS Finder's "Compress": AppleDouble copies of every file
        ".git", ".hg", ".svn",
        "node_modules", ".venv", "__pycache__",
        ".Spotlight-V100", ".Trashes", ".fseventsd", ".TemporaryItems",
    }
)  # fmt: skip
#: Files never read: desktop metadata.
NOISE_FILES = frozenset({".DS_Store", "Thumbs.db", "ehthumbs.db", "desktop.ini", ".localized", "Icon\r"})
#: The manifest ``otel-replay scrub`` writes beside a scrubbed copy: about the copy, not telemetry.
SCRUB_MANIFEST = "SCRUBBED.json"
NOT_DATA = "not a .json/.jsonl file"
EXCLUDED = "excluded by --exclude"


def wanted(name: str) -> bool:
    return name.lower().endswith(DATA_SUFFIXES)


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def noise(rel: str) -> str | None:
    """Why the file at ``rel`` (a '/'-separated path in a folder or an archive) is
    packaging noise, or None."""
    *folders, base = rel.split("/")
    for folder in folders:
        if folder in NOISE_DIRS:
            return f"packaging noise ({folder}/)"
    if base.startswith("._"):
        return "packaging noise (an AppleDouble ._ file: macOS metadata)"
    if base in NOISE_FILES:
        return f"packaging noise ({base.strip()})"
    if base == SCRUB_MANIFEST:
        return f"packaging noise ({SCRUB_MANIFEST}: otel-replay scrub's manifest)"
    return None


def _matches(rel: str, globs: tuple[str, ...]) -> bool:
    """Whether a glob matches the path, its name, or one of the folders it is in."""
    if not globs:
        return False
    parts = rel.split("/")
    candidates = [rel, parts[-1], *("/".join(parts[:i]) for i in range(1, len(parts)))]
    return any(fnmatchcase(c, g.rstrip("/")) for g in globs for c in candidates)


@dataclass(frozen=True, slots=True)
class NameRules:
    """``--include`` / ``--exclude`` globs over the rules above (an exclusion wins)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def skip(self, rel: str) -> str | None:
        """Why the file at ``rel`` (relative to the folder or archive it is in) is not
        read, or None when it is."""
        rel = rel.replace("\\", "/").lstrip("/")
        if _matches(rel, self.exclude):
            return EXCLUDED
        if _matches(rel, self.include):
            return None
        if (why := noise(rel)) is not None:
            return why
        if not wanted(rel) and not is_archive(rel):
            return NOT_DATA
        return None

    def prune(self, rel: str) -> str | None:
        """Why the folder at ``rel`` is not walked at all, or None."""
        rel = rel.replace("\\", "/")
        if _matches(rel, self.exclude):
            return EXCLUDED
        if self.include:  # something in it may be included: its files are judged one by one
            return None
        name = rel.rsplit("/", 1)[-1]
        return f"packaging noise ({name}/), not walked" if name in NOISE_DIRS else None
