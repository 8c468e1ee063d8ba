"""A fixture for tests that change the thread count or the batch split
(int8rt.set_num_threads, int8rt._testing.set_batch_split): it puts both back
after each test. A test module takes it with
``pytestmark = pytest.mark.usefixtures("restore_threads")`` after importing it."""
from __future__ import annotations

from typing import Iterator

import pytest

import int8rt
from int8rt import _testing


@pytest.fixture
def restore_threads() -> Iterator[None]:
    """The thread count as it was and the batch split's default (1) after the test."""
    threads = int8rt.get_num_threads()
    yield
    int8rt.set_num_threads(threads)
    _testing.set_batch_split(1)
