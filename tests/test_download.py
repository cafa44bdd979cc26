"""The download/cache/checksum helper against a local HTTP server (no internet needed)."""
import hashlib
import io
import os
import socket
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from netutil import LocalServer, closed_port_url, truncated
from rnnlab.datasets import _files, fortune500, imdb
from rnnlab.datasets._files import ChecksumError, DatasetNotFoundError, get_file

GOOD = b"label,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(5000))
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
from conftest import SHARED_DATA as SHARED  # noqa: E402  (../shared/data or $RNNLAB_DATA_DIR)


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory and no data directory."""
    d = tmp_path / "cache"
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(d))
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    return d


def _all_files(d):
    return sorted(p.relative_to(d).as_posix() for p in Path(d).rglob("*") if p.is_file()) \
        if Path(d).exists() else []


def test_download_then_cached_without_new_request(server, cache):
    server.routes["/good.csv"] = GOOD
    p1 = get_file("good.csv", GOOD_SHA, server.url("/good.csv"), progress=False)
    assert p1 == cache / "good.csv"
    assert p1.read_bytes() == GOOD
    assert server.hits == ["/good.csv"]
    p2 = get_file("good.csv", GOOD_SHA, server.url("/good.csv"), progress=False)
    assert p2 == p1 and server.hits == ["/good.csv"]  # reused: no second request
    assert _all_files(cache) == ["good.csv"]  # no temporary file left


def test_download_into_cache_subdir(server, cache):
    server.routes["/good.csv"] = GOOD
    p = get_file("good.csv", GOOD_SHA, server.url("/good.csv"), cache_subdir="sub", progress=False)
    assert p == cache / "sub" / "good.csv" and p.read_bytes() == GOOD


def test_corrupt_download_raises_and_leaves_nothing(server, cache):
    server.routes["/bad.csv"] = GOOD[:-1] + b"X"
    with pytest.raises(ChecksumError) as exc:
        get_file("bad.csv", GOOD_SHA, server.url("/bad.csv"), progress=False)
    msg = str(exc.value)
    assert "bad.csv" in msg and GOOD_SHA in msg
    assert hashlib.sha256(GOOD[:-1] + b"X").hexdigest() in msg
    assert isinstance(exc.value, ValueError)
    assert _all_files(cache) == []


def test_truncated_download_leaves_nothing(server, cache):
    server.routes["/short.csv"] = truncated(GOOD[:1000])
    with pytest.raises(DatasetNotFoundError) as exc:
        get_file("short.csv", None, server.url("/short.csv"), progress=False, timeout=5)
    assert "short.csv" in str(exc.value)
    assert _all_files(cache) == []


def test_http_404_is_not_found(server, cache):
    with pytest.raises(DatasetNotFoundError) as exc:
        get_file("missing.csv", GOOD_SHA, server.url("/missing.csv"), progress=False)
    assert "missing.csv" in str(exc.value) and "404" in str(exc.value)
    assert _all_files(cache) == []


def test_offline_error_says_what_and_where(cache, tmp_path, monkeypatch):
    url = closed_port_url("offline.csv")
    with pytest.raises(DatasetNotFoundError) as exc:
        get_file("offline.csv", GOOD_SHA, url, progress=False)
    msg = str(exc.value)
    assert isinstance(exc.value, FileNotFoundError)
    assert "'offline.csv'" in msg and url in msg
    assert "RNNLAB_DATA_DIR" in msg and str(cache) in msg
    assert _all_files(cache) == []
    # with a data dir set, the message names it as a place to put the file
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "data")):
        get_file("offline.csv", GOOD_SHA, url, progress=False)


def test_silent_server_times_out(cache):
    """A server that accepts the connection but never answers must not hang the load."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # never accept(): the kernel completes the handshake, nobody replies
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hang.csv"
        t0 = time.monotonic()
        with pytest.raises(DatasetNotFoundError, match="hang.csv"):
            get_file("hang.csv", GOOD_SHA, url, timeout=0.5, progress=False)
        assert time.monotonic() - t0 < 10
    finally:
        listener.close()
    assert _all_files(cache) == []


def test_interrupted_download_leaves_nothing(cache, monkeypatch):
    class Resp(io.BytesIO):
        headers = {"Content-Length": str(len(GOOD))}
        calls = 0

        def read(self, n=-1):
            Resp.calls += 1
            if Resp.calls > 1:
                raise KeyboardInterrupt
            return super().read(100)

        read1 = read

    monkeypatch.setattr(_files, "_urlopen", lambda req, timeout, deadline: Resp(GOOD))
    with pytest.raises(KeyboardInterrupt):
        get_file("good.csv", GOOD_SHA, "http://example.invalid/good.csv", progress=False)
    assert Resp.calls == 2  # it did write a first chunk before the interruption
    assert _all_files(cache) == []


def test_progress_bar_shown_on_request(server, cache, capsys):
    server.routes["/good.csv"] = GOOD
    get_file("good.csv", GOOD_SHA, server.url("/good.csv"), progress=True)
    err = capsys.readouterr().err
    assert "good.csv" in err and "100%" in err


def test_lookup_order_path_then_data_dir_then_cache(cache, tmp_path, monkeypatch):
    url = closed_port_url("f.csv")  # any download attempt would fail
    data = tmp_path / "data"
    explicit = tmp_path / "explicit"
    for d in (cache, data, explicit):
        d.mkdir(parents=True)
        (d / "f.csv").write_bytes(GOOD)
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    assert get_file("f.csv", GOOD_SHA, url, path=explicit) == explicit / "f.csv"
    assert get_file("f.csv", GOOD_SHA, url, path=explicit / "f.csv") == explicit / "f.csv"
    assert get_file("f.csv", GOOD_SHA, url) == data / "f.csv"
    (data / "f.csv").unlink()
    assert get_file("f.csv", GOOD_SHA, url) == cache / "f.csv"
    # several data directories, first one wins
    other = tmp_path / "other"
    other.mkdir()
    (other / "f.csv").write_bytes(GOOD)
    monkeypatch.setenv("RNNLAB_DATA_DIR", os.pathsep.join([str(other), str(data)]))
    assert get_file("f.csv", GOOD_SHA, url) == other / "f.csv"


def test_explicit_path_without_the_file_does_not_fall_back(cache, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.csv").write_bytes(GOOD)
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    with pytest.raises(DatasetNotFoundError, match="given path"):
        get_file("f.csv", GOOD_SHA, closed_port_url(), path=tmp_path / "empty")


def test_explicit_file_is_trusted_but_found_files_are_verified(cache, tmp_path, monkeypatch):
    other = tmp_path / "mine.csv"
    other.write_bytes(b"my own edited copy\n")
    assert get_file("f.csv", GOOD_SHA, None, path=other) == other  # the caller chose this file
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.csv").write_bytes(b"something else\n")
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    with pytest.raises(ChecksumError) as exc:
        get_file("f.csv", GOOD_SHA, None)
    msg = str(exc.value)
    assert str(data / "f.csv") in msg and GOOD_SHA in msg
    assert hashlib.sha256(b"something else\n").hexdigest() in msg
    with pytest.raises(ChecksumError):  # a directory given as path is searched and verified too
        get_file("f.csv", GOOD_SHA, None, path=data)


def test_corrupt_cache_file_raises(cache):
    cache.mkdir(parents=True)
    (cache / "f.csv").write_bytes(GOOD + b"junk")
    with pytest.raises(ChecksumError, match="f.csv"):
        get_file("f.csv", GOOD_SHA, closed_port_url())


def test_verified_digest_is_remembered_until_the_file_changes(cache, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    f = data / "f.csv"
    f.write_bytes(GOOD)
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    assert get_file("f.csv", GOOD_SHA, None) == f
    st = f.stat()
    # same size and mtime but different bytes: the remembered digest is used (no rehash)
    f.write_bytes(GOOD[:-2] + b"!\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert get_file("f.csv", GOOD_SHA, None) == f
    # a new mtime invalidates the memo, so the change is caught
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ChecksumError):
        get_file("f.csv", GOOD_SHA, None)


def test_no_url_and_no_copy(cache):
    with pytest.raises(DatasetNotFoundError, match="no download address"):
        get_file("f.csv", GOOD_SHA, None)


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _files.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("RNNLAB_CACHE_DIR")
    assert _files.cache_dir() == tmp_path / "xdg" / "rnnlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _files.cache_dir() == tmp_path / "home" / ".cache" / "rnnlab"


def _tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_archive(server, cache):
    blob = _tar_bytes({"pack/a.txt": b"alpha", "pack/sub/b.txt": b"beta"})
    server.routes["/pack.tar.gz"] = blob
    sha = hashlib.sha256(blob).hexdigest()
    out = get_file("pack.tar.gz", sha, server.url("/pack.tar.gz"), extract=True, progress=False)
    assert out == cache / "pack"
    assert (out / "pack" / "a.txt").read_bytes() == b"alpha"
    assert (out / "pack" / "sub" / "b.txt").read_bytes() == b"beta"
    assert get_file("pack.tar.gz", sha, server.url("/pack.tar.gz"), extract=True) == out
    assert server.hits == ["/pack.tar.gz"]


def test_extract_refuses_path_traversal(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(_tar_bytes({"../escape.txt": b"x"}))
    with pytest.raises(ValueError, match="unsafe"):
        _files.extract_archive(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    assert _all_files(tmp_path / "out") == []


def test_fortune500_downloads_from_canonical_url(server, cache, monkeypatch):
    """With no local copy the loader downloads, verifies the lecture's SHA-256 and loads."""
    server.routes["/fortune500_100_days.csv"] = (SHARED / "fortune500_100_days.csv").read_bytes()
    monkeypatch.setattr(fortune500, "URL", server.url("/fortune500_100_days.csv"))
    X, y, tickers, dates = fortune500.load_data()
    assert X.shape == (502, 100)
    assert abs(np.mean((y - y.mean()) ** 2) - 0.3516210190443937) < 1e-9
    assert _all_files(cache) == ["fortune500_100_days.csv"]
    fortune500.load_data()
    assert len(server.hits) == 1


def test_imdb_downloads_and_converts_the_archive(server, cache, monkeypatch):
    files = {"aclImdb/train/pos/1_8.txt": b"Fine film.", "aclImdb/train/neg/0_2.txt": b"Dull.",
             "aclImdb/test/pos/0_10.txt": b"Superb!", "aclImdb/test/neg/4_1.txt": b"Awful."}
    server.routes["/aclImdb_v1.tar.gz"] = _tar_bytes(files)
    monkeypatch.setattr(imdb, "ARCHIVE_URL", server.url("/aclImdb_v1.tar.gz"))
    # the fixture stands in for the published archive: its digest replaces the published one
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256", hashlib.sha256(_tar_bytes(files)).hexdigest())
    (xtr, ytr, rtr), (xte, yte, rte) = imdb.load_data(with_ratings=True)
    assert xtr == ["Dull.", "Fine film."] and ytr.tolist() == [0, 1] and rtr.tolist() == [2, 8]
    assert xte == ["Awful.", "Superb!"] and yte.tolist() == [0, 1] and rte.tolist() == [1, 10]
    imdb.load_data()  # the converted CSVs in the cache are reused
    assert server.hits == ["/aclImdb_v1.tar.gz"]
