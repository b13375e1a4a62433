"""The README and the documents under docs/ link only to files that exist in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target), the target up to a space (a title may follow) or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?[^)]*\)")


def relative_links(document: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)  # code is not linked
    targets = (m.group(1) for m in LINK.finditer(text))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_in_the_repository(document):
    missing = []
    for target in relative_links(document):
        path = (document.parent / target.split("#")[0]).resolve()
        if not path.exists() or not path.is_relative_to(ROOT):
            missing.append(target)
    assert not missing, f"{document.name} links to files not in the repository: {missing}"


def test_the_documents_the_code_refers_to_are_here():
    assert {p.name for p in DOCUMENTS} >= {
        "README.md", "architecture.md", "providers.md", "provider-status-map.md",
    }  # fmt: skip
    assert relative_links(ROOT / "README.md"), "the link pattern found nothing"


def test_no_file_refers_to_the_shared_folder():
    offenders = [
        str(path.relative_to(ROOT))
        for pattern in ("*.py", "*.md", "*.html")
        for path in ROOT.rglob(pattern)
        if not {".venv", "build", "node_modules"} & set(path.relative_to(ROOT).parts)
        and path != Path(__file__)
        and re.search(r"\bshared/(?:[A-Za-z-]+\.md|provider-docs)", path.read_text(errors="ignore"))
    ]
    assert offenders == []
