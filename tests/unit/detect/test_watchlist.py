"""The watch list file: errors name the line, and a bad edit keeps the list in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import WatchListError
from streams.detect.watchlist import WatchListFile, load_watch_list


def test_watch_list_errors_name_the_line_and_a_bad_edit_keeps_the_old_list(tmp_path: Path) -> None:
    path = tmp_path / "watch.csv"
    path.write_text("mmsi,name,reason\n224000001,,smuggling\n,BLUE STAR,\n")
    watch = WatchListFile(path)
    assert watch.current.match("224000001", "", "", "") == "mmsi 224000001: smuggling"
    path.write_text("mmsi,name\n22400,\n")
    with pytest.raises(WatchListError, match="line 2: mmsi '22400' is not 9 digits"):
        load_watch_list(path)
    assert watch.refresh().match("", "", "blue star", "") == "name BLUE STAR"
    assert watch.error is not None and "line 2" in watch.error
    path.write_text("colour\nred\n")
    with pytest.raises(WatchListError, match="header"):
        load_watch_list(path)
    path.write_text("callsign\nEA1234\n")
    import os

    os.utime(path, ns=(1, 10**18))
    assert watch.refresh().match("", "", "", "ea1234") == "callsign EA1234"
