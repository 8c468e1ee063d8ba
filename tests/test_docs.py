"""The docs/ pages do what they say: every bash and python block of each
task page runs, in page order, in one folder that the first page fills with
the bundled example (tests/docs_runner.py). The C++ page (a CMake build) and
the Ray page (a local Ray start) run under -m slow; the Ray page's Python is
also run by tests/test_calib_distributed.py on its cluster."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs_runner import DOCS, blocks, run_page

PAGES = ["calibrate.md", "build.md", "run.md", "export-qdq.md", "port-tensorrt.md"]
SLOW_PAGES = ["deploy-cpp.md", "sharded-calibration.md"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs")


def test_index_lists_every_page() -> None:
    index = (DOCS / "README.md").read_text()
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    assert set(PAGES + SLOW_PAGES) <= linked
    assert linked <= {p.name for p in DOCS.glob("*.md")}
    for page in PAGES + SLOW_PAGES:
        assert blocks(page), f"docs/{page} has no command that runs"


@pytest.mark.parametrize("page", PAGES)
def test_page_runs(page: str, folder: Path) -> None:
    pytest.importorskip("PIL")   # calibrate.md writes images
    pytest.importorskip("torch")  # calibrate.md's DataLoader
    run_page(page, folder)


@pytest.mark.slow
def test_all_pages_run_in_order(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    for page in PAGES + SLOW_PAGES:
        run_page(page, tmp_path)
