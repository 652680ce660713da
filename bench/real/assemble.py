"""Rebuild the real-garage photo set from fetched git mirrors and check every byte.

Each manifest row names a repository, a commit and a path inside it; the bytes are the blob at
`<commit>:<path>`, written to `<out>/<file>` and accepted only when their SHA-256 matches the
manifest. A copy committed under `bench/real/images/<file>` (only where the source licence
allows redistribution) is used first, so those rows rebuild without any mirror.

Mirrors are bare git directories, as the search tool's `fetch` leaves them
(`<mirrors>/<owner>+<name>/repo`, sometimes `.../repo/.git`) or as `git clone --mirror`
leaves them (`<mirrors>/<owner>/<name>.git`, `<mirrors>/<owner>+<name>.git`).

    python bench/real/assemble.py                       # /work/.mirror -> /work/realphotos
    python bench/real/assemble.py --mirrors DIR --out DIR --manifest FILE

Standard library only. Exit status 0 when every row is in place with the right bytes,
1 when something is missing or differs (each such row is listed), 2 on a bad manifest.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFEST = HERE / "manifest.csv"
DEFAULT_IMAGES = HERE / "images"
DEFAULT_MIRRORS = Path("/work/.mirror")
DEFAULT_OUT = Path("/work/realphotos")

COLUMNS = (
    "garage", "file", "repo", "commit", "path", "licence", "door_open", "car_present",
    "label_source", "sha256", "width", "height", "notes",
)  # fmt: skip
LABEL_VALUES = ("", "0", "1")
HEX = frozenset("0123456789abcdef")


class ManifestError(ValueError):
    """The manifest cannot be used as it is (one line says why)."""


@dataclass(frozen=True)
class Row:
    """One image of the set: where its bytes come from and what they must hash to."""

    garage: str
    file: str
    repo: str
    commit: str
    path: str
    sha256: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one row: `ok` is True when the output file has the right bytes."""

    row: Row
    ok: bool
    source: str


def _check_relative(value: str, what: str, line: int) -> None:
    # a manifest is data from elsewhere: it must not write or read outside its folders
    parts = PurePosixPath(value).parts
    if not value or value.startswith("/") or "\\" in value or ".." in parts:
        raise ManifestError(f"manifest line {line}: {what} {value!r} is not a plain relative path")


def _check_row(raw: dict[str, str], line: int) -> Row:
    missing = [name for name in COLUMNS if raw.get(name) is None]
    if missing:
        raise ManifestError(f"manifest line {line}: missing column(s) {', '.join(missing)}")
    _check_relative(raw["file"], "file", line)
    _check_relative(raw["path"], "path", line)
    if not raw["file"].startswith(raw["garage"] + "/"):
        raise ManifestError(f"manifest line {line}: file {raw['file']!r} is not under its garage")
    owner, _, name = raw["repo"].partition("/")
    if not owner or not name or "/" in name or owner.startswith("."):
        raise ManifestError(f"manifest line {line}: repo {raw['repo']!r} is not owner/name")
    if len(raw["commit"]) != 40 or not set(raw["commit"]) <= HEX:
        raise ManifestError(f"manifest line {line}: commit {raw['commit']!r} is not 40 hex digits")
    if len(raw["sha256"]) != 64 or not set(raw["sha256"]) <= HEX:
        raise ManifestError(f"manifest line {line}: sha256 {raw['sha256']!r} is not 64 hex digits")
    for label in ("door_open", "car_present"):
        if raw[label] not in LABEL_VALUES:
            value = raw[label]
            raise ManifestError(f"manifest line {line}: {label} {value!r} is not 0, 1 or empty")
    return Row(raw["garage"], raw["file"], raw["repo"], raw["commit"], raw["path"], raw["sha256"])


def read_manifest(path: Path) -> list[Row]:
    """Parse and check the manifest; raise ManifestError naming the first bad line."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or list(reader.fieldnames) != list(COLUMNS):
                raise ManifestError(f"{path}: header is not {','.join(COLUMNS)}")
            rows = [_check_row(raw, number) for number, raw in enumerate(reader, start=2)]
    except OSError as err:
        raise ManifestError(f"{path}: cannot read ({err.strerror})") from err
    files = [row.file for row in rows]
    duplicates = sorted({name for name in files if files.count(name) > 1})
    if duplicates:
        raise ManifestError(f"{path}: file listed twice: {duplicates[0]}")
    return rows


def mirror_candidates(mirrors: Path, repo: str) -> list[Path]:
    """The git directories a mirror of `repo` may live in, most likely first."""
    owner, name = repo.split("/", 1)
    flat = mirrors / f"{owner}+{name}"
    bare = [mirrors / f"{owner}+{name}.git", mirrors / owner / f"{name}.git"]
    return [flat / "repo" / ".git", flat / "repo", flat, *bare]


def find_mirror(mirrors: Path, repo: str) -> Path | None:
    """The first candidate that git accepts as a repository, or None."""
    for candidate in mirror_candidates(mirrors, repo):
        if (candidate / "objects").is_dir() and (candidate / "HEAD").is_file():
            return candidate
    return None


def read_blob(git_dir: Path, commit: str, path: str) -> bytes | None:
    """The bytes at `commit:path`, or None when the commit or the blob is not there."""
    result = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "blob", f"{commit}:{path}"],
        capture_output=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomically(target: Path, data: bytes) -> None:
    # a half-written image must never look like a finished one
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _from_copy(row: Row, images: Path) -> tuple[bytes | None, str]:
    copy = images / row.file
    if not copy.is_file():
        return None, ""
    data = copy.read_bytes()
    if sha256_of(data) != row.sha256:
        return None, f"committed copy {copy} has other bytes"
    return data, f"committed copy {copy}"


def _from_mirror(row: Row, mirrors: Path) -> tuple[bytes | None, str]:
    git_dir = find_mirror(mirrors, row.repo)
    if git_dir is None:
        return None, f"no mirror of {row.repo} under {mirrors}"
    data = read_blob(git_dir, row.commit, row.path)
    if data is None:
        return None, f"{row.commit[:12]}:{row.path} not in {git_dir} (commit or blob absent)"
    if sha256_of(data) != row.sha256:
        return None, f"{row.commit[:12]}:{row.path} in {git_dir} has other bytes"
    return data, f"mirror {git_dir}"


def assemble_row(row: Row, mirrors: Path, images: Path, out: Path) -> Outcome:
    """Put one row's bytes at `out/row.file`; never leaves wrong bytes there."""
    target = out / row.file
    if target.is_file() and sha256_of(target.read_bytes()) == row.sha256:
        return Outcome(row, True, "already in place")
    data, copy_why = _from_copy(row, images)
    why = copy_why
    if data is None:
        # the mirror is only asked when no good committed copy exists
        data, why = _from_mirror(row, mirrors)
    if data is None:
        return Outcome(row, False, "; ".join(part for part in (copy_why, why) if part))
    write_atomically(target, data)
    return Outcome(row, True, why)


def assemble(rows: Iterable[Row], mirrors: Path, images: Path, out: Path) -> list[Outcome]:
    return [assemble_row(row, mirrors, images, out) for row in rows]


def report(outcomes: Sequence[Outcome]) -> str:
    """A short human summary: totals, per garage, then every row that failed and why."""
    lines = []
    good = sum(outcome.ok for outcome in outcomes)
    lines.append(f"{good}/{len(outcomes)} images in place with the manifest's SHA-256")
    garages: dict[str, list[bool]] = {}
    for outcome in outcomes:
        garages.setdefault(outcome.row.garage, []).append(outcome.ok)
    for garage, oks in garages.items():
        lines.append(f"  {garage}: {sum(oks)}/{len(oks)}")
    for outcome in outcomes:
        if not outcome.ok:
            lines.append(f"MISSING {outcome.row.file}: {outcome.source}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS, help="fetched mirrors")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="committed copies")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the images go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rows = read_manifest(args.manifest)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    outcomes = assemble(rows, args.mirrors, args.images, args.out)
    print(report(outcomes))
    return 0 if all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
