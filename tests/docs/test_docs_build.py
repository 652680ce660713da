"""The manual builds with `mkdocs build --strict`, and every link works where it is read.

The README is shown by GitHub, PyPI and HACS; the last two resolve relative links against
their own sites, so every README link and image is an absolute URL, and each one that points
into this project (the manual, raw files, files on GitHub) must name a page, anchor or file
that exists. Links between manual pages are relative and must resolve inside `docs/`.

Needs mkdocs and mkdocs-material in the running interpreter; without them the tests fail with
a message saying so (a skip would hide a manual that no longer builds).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SITE_URL = "https://garagecam.github.io/garagecam/"
REPO_FILE_URLS = (
    "https://raw.githubusercontent.com/garagecam/garagecam/main/",
    "https://github.com/garagecam/garagecam/blob/main/",
)

FENCE = re.compile(r"^ *(```|~~~).*?^ *\1", re.S | re.M)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
# [text](target) and ![alt](target), with an optional "title"; text may hold one bracket level.
INLINE_LINK = re.compile(
    r"(!?)\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
HTML_IMAGE = re.compile(r"<img\b[^>]*\bsrc=[\"']([^\"']+)", re.I)


def links(markdown: str) -> list[tuple[str, str]]:
    """(kind, target) of every link and image outside code: kind is "image" or "link"."""
    text = CODE_SPAN.sub("", FENCE.sub("", markdown))
    found = [("image" if bang else "link", target) for bang, target in INLINE_LINK.findall(text)]
    found += [("link", target) for target in AUTOLINK.findall(text)]
    found += [("image", target) for target in HTML_IMAGE.findall(text)]
    return found


def build(config: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    missing = [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not importable from {sys.executable}: the docs tests need "
            "mkdocs and mkdocs-material installed there (see docs/development.md)",
            pytrace=False,
        )
    # Material's end-of-life notice is printed on every build; it is not a build warning.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config)]
    return subprocess.run(
        [*command, "--site-dir", str(site_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def warnings_in(result: subprocess.CompletedProcess[str]) -> list[str]:
    log = result.stdout + result.stderr
    return [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", site_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not warnings_in(result), result.stdout + result.stderr
    return site_dir


def page_html(site: Path, page: str) -> Path:
    """The built HTML of a page path relative to docs/ (use_directory_urls layout)."""
    stem = page.removesuffix(".md")
    if stem == "index":
        return site / "index.html"
    return site / stem.removesuffix("/index") / "index.html"


def missing_repo_file(url: str) -> bool:
    """True for a URL of a file of this repository's main branch that the checkout lacks."""
    for prefix in REPO_FILE_URLS:
        if url.startswith(prefix):
            return not (ROOT / unquote(urlsplit(url.removeprefix(prefix)).path)).is_file()
    return False


def has_anchor(html: Path, anchor: str) -> bool:
    return f'id="{anchor}"' in html.read_text(encoding="utf-8")


def test_every_page_is_built(site: Path) -> None:
    pages = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))
    assert "index.md" in pages
    assert [page for page in pages if not page_html(site, page).is_file()] == []


def test_strict_build_fails_on_a_broken_link_or_anchor(tmp_path: Path) -> None:
    """The build above can fail: a link to a missing page or anchor aborts it."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "install.md"
    page.write_text(
        page.read_text(encoding="utf-8")
        + "\n[gone](no-such-page.md) and [nowhere](runner.md#no-such-anchor)\n",
        encoding="utf-8",
    )
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    log = "\n".join(warnings_in(result))
    assert "no-such-page.md" in log
    assert "no-such-anchor" in log


def test_readme_images_are_absolute_https_urls() -> None:
    images = [
        target
        for kind, target in links(ROOT.joinpath("README.md").read_text(encoding="utf-8"))
        if kind == "image"
    ]
    assert images, "the README shows no picture"
    assert [url for url in images if not url.startswith("https://")] == []


def test_readme_links_are_absolute_and_point_at_what_exists(site: Path) -> None:
    broken = []
    for _kind, url in links(ROOT.joinpath("README.md").read_text(encoding="utf-8")):
        if not url.startswith(("https://", "http://")):
            broken.append(f"{url}: not an absolute URL (PyPI and HACS cannot follow it)")
        elif url.startswith(SITE_URL):
            parts = urlsplit(url)
            path = unquote(parts.path).removeprefix(urlsplit(SITE_URL).path)
            html = site / path / "index.html" if not path.endswith(".html") else site / path
            if not html.is_file():
                broken.append(f"{url}: no such page in the manual")
            elif parts.fragment and not has_anchor(html, parts.fragment):
                broken.append(f"{url}: no such anchor on the page")
        elif missing_repo_file(url):
            broken.append(f"{url}: no such file in the repository")
    assert broken == []


def test_links_in_the_manual_resolve(site: Path) -> None:
    """Relative links stay inside docs/ and reach a page, anchor or file; absolute links to
    this repository's files (pictures outside docs/) name files that exist."""
    broken = []
    for page in sorted(DOCS.rglob("*.md")):
        for _kind, target in links(page.read_text(encoding="utf-8")):
            parts = urlsplit(target)
            name = f"{page.relative_to(DOCS)}: {target}"
            if missing_repo_file(target):
                broken.append(f"{name}: no such file in the repository")
            if parts.scheme or parts.netloc or target.startswith(("mailto:", "/")):
                continue
            # No path: an anchor on the same page.
            destination = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not destination.is_relative_to(DOCS):
                broken.append(f"{name}: outside docs/, not part of the site")
            elif not destination.is_file():
                broken.append(f"{name}: no such file")
            elif parts.fragment:
                html = page_html(site, destination.relative_to(DOCS).as_posix())
                if destination.suffix != ".md" or not has_anchor(html, parts.fragment):
                    broken.append(f"{name}: no such anchor")
    assert broken == []


def test_readme_quick_start_runs_what_ci_runs() -> None:
    """CI (.ci/run) runs exactly the README's set-up and test commands, so both stay in it."""
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("./")]
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    blocks = "\n".join(match.group(0) for match in FENCE.finditer(readme))
    commands = [line.split("#")[0].strip() for line in blocks.splitlines()]
    assert ci, ".ci/run runs no ./ command"
    assert [command for command in ci if command not in commands] == []
    assert ".venv/bin/garagecam demo" in commands
