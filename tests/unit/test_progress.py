"""The one progress bar across a load's stages."""

from __future__ import annotations

import itertools

import pytest
from localwebai.progress import BYTES_END, HEADER_END, VERIFY_END, LoadProgress, OverallProgress
from localwebai.progress import LoadStage as S

MB = 1_000_000


def values(reports: list[LoadProgress]) -> list[float | None]:
    bar = OverallProgress()
    return [bar.update(report) for report in reports]


def test_a_download_fills_most_of_the_bar_and_it_never_goes_back() -> None:
    seen = values(
        [
            LoadProgress(S.CHECKING_CACHE),
            LoadProgress(S.READING_HEADER, 1, 1),
            LoadProgress(S.DOWNLOADING, 0, 100 * MB),
            LoadProgress(S.DOWNLOADING, 50 * MB, 100 * MB),
            LoadProgress(S.WAITING_FOR_NETWORK, 50 * MB, 100 * MB),
            LoadProgress(S.DOWNLOADING, 100 * MB, 100 * MB),
            LoadProgress(S.VERIFYING, 0, 100 * MB),  # a new stage starts at its own 0
            LoadProgress(S.VERIFYING, 100 * MB, 100 * MB),
            LoadProgress(S.INITIALIZING),
            LoadProgress(S.READY),
        ]
    )
    assert seen[:4] == [0.0, HEADER_END, HEADER_END, pytest.approx((HEADER_END + BYTES_END) / 2)]
    assert seen[4] == seen[3]  # retrying keeps its place
    assert seen[5:8] == [BYTES_END, BYTES_END, VERIFY_END]
    assert seen[8:] == [VERIFY_END, 1.0]
    assert all(b >= a for a, b in itertools.pairwise(seen))


def test_a_cached_model_spends_the_bar_on_verifying() -> None:
    seen = values(
        [
            LoadProgress(S.CHECKING_CACHE),
            LoadProgress(S.VERIFYING, 0, 4),
            LoadProgress(S.VERIFYING, 2, 4),
            LoadProgress(S.INITIALIZING),
        ]
    )
    assert seen[1] == HEADER_END
    assert seen[2] == pytest.approx((HEADER_END + VERIFY_END) / 2)
    assert seen[3] == VERIFY_END


def test_an_unknown_size_is_indeterminate_until_known() -> None:
    bar = OverallProgress()
    assert bar.update(LoadProgress(S.DOWNLOADING, 5 * MB)) is None
    assert bar.update(LoadProgress(S.VERIFYING, 1, 2)) == pytest.approx(
        BYTES_END + (VERIFY_END - BYTES_END) / 2
    )
