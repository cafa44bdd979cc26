"""Downloads and the dataset cache under hostile or broken conditions (issue 15, item 5).

A trickling server meets the deadline, extraction has size limits checked before writing, a
corrupt cached archive is downloaded again once (or named, with the fix), decompression errors are
one clear error, a cache path that is a file is named with what sets it, and every rejected call
leaves the cache byte for byte as it was.  Local HTTP servers only (tests/netutil.py).
"""
import gzip
import hashlib
import io
import math
import os
import socket
import tarfile
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netutil import LocalServer, closed_port_url, trickle
from rnnlab.datasets import _files, fortune500, imdb, yelp_polarity
from rnnlab.datasets._files import (
                                    ChecksumError,
                                    DataFileError,
                                    DatasetNotFoundError,
                                    extract_archive,
                                    get_file,
)

BODY = b"id,value\n" + b"".join(b"%d,%d\n" % (i, 3 * i) for i in range(2000))
BODY_SHA = hashlib.sha256(BODY).hexdigest()
SHARED_CSV = Path(os.environ["RNNLAB_DATA_DIR"]) / "fortune500_100_days.csv"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache directory that does not exist yet, and no data directory."""
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    return tmp_path / "cache"


def snapshot(folder):
    """Everything under ``folder``: relative path -> bytes (files) or "dir"; None if absent."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def tar_gz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_gz_declaring(name, size):
    """A few hundred bytes: one tar header announcing ``size`` bytes, and no data."""
    info = tarfile.TarInfo(name)
    info.size = size
    return gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT), mtime=0)


ACL = {"aclImdb/train/pos/1_8.txt": b"Fine film, " * 200, "aclImdb/train/neg/0_2.txt": b"Dull.",
       "aclImdb/test/pos/0_10.txt": b"Superb!", "aclImdb/test/neg/4_1.txt": b"Awful."}
ACL_TGZ = tar_gz(ACL)
YELP_TGZ = tar_gz({f"yelp_review_polarity_csv/{n}": (FIXTURES / "yelp_review_polarity_csv" /
                                                     n).read_bytes()
                   for n in ("train.csv", "test.csv")})


# ------------------------------------------------------------------------------ deadline
def test_trickling_body_meets_the_deadline(server, cache):
    """1 byte per 50 ms passes every per-read timeout; the overall deadline ends it."""
    server.routes["/slow.csv"] = trickle(BODY)
    url = server.url("/slow.csv")
    with pytest.raises(DatasetNotFoundError) as exc:
        get_file("slow.csv", BODY_SHA, url, timeout=5, deadline=0.5, progress=False)
    msg = str(exc.value)
    assert url in msg and "0.5 s deadline" in msg and "deadline=" in msg
    assert f"of {len(BODY):,} bytes received" in msg
    assert snapshot(cache) is None  # not even the folder the download created


def test_trickling_headers_meet_the_deadline(server, cache):
    """A server that never finishes its headers: the watchdog cuts the connection itself."""
    server.routes["/hdr.csv"] = trickle(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: y\r\n" * 10_000,
                                        headers=False)
    url = server.url("/hdr.csv")
    with pytest.raises(DatasetNotFoundError, match="deadline") as exc:
        get_file("hdr.csv", None, url, timeout=5, deadline=0.5, progress=False)
    assert url in str(exc.value)
    assert snapshot(cache) is None


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_silent_handshake_meets_the_deadline(cache, scheme):
    """A listener that never answers: for https the TLS handshake waits for a reply.  The TLS wrap
    replaces the socket object, and the deadline must still cut it (not the 60 s read timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        url = f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/x.csv"
        t0 = time.monotonic()
        with pytest.raises(DatasetNotFoundError, match="0.5 s deadline"):
            get_file("x.csv", None, url, timeout=60, deadline=0.5, progress=False)
        assert time.monotonic() - t0 < 30  # a hang check, far from both 0.5 s and 60 s
    finally:
        listener.close()
    assert snapshot(cache) is None


def test_default_deadline_grows_with_the_bytes_received(server, cache, monkeypatch):
    """The default: a grace period plus 1 s per DEADLINE_MIN_RATE bytes.  A steady transfer
    (far above the minimum rate) outlives the grace period; a trickle does not."""
    monkeypatch.setattr(_files, "DEADLINE_GRACE", 1.0)
    monkeypatch.setattr(_files, "DEADLINE_MIN_RATE", 100)  # each 1 KB piece buys 10 s more

    def steady(handler):  # 1 KB pieces, one every 100 ms: 1.7 s in all, past the grace
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(BODY)))
        handler.end_headers()
        for i in range(0, len(BODY), 1000):
            handler.wfile.write(BODY[i:i + 1000])
            handler.wfile.flush()
            _files.time.sleep(0.1)

    server.routes["/steady.csv"] = steady
    got = get_file("steady.csv", BODY_SHA, server.url("/steady.csv"), progress=False)
    assert got.read_bytes() == BODY
    server.routes["/slow.csv"] = trickle(BODY)  # 20 bytes/s: the limit is 1 s + 0.2 s per s
    with pytest.raises(DatasetNotFoundError, match=r"default deadline \(1 s \+ 1 s per 100 bytes"):
        get_file("slow.csv", None, server.url("/slow.csv"), progress=False)
    assert snapshot(cache) == {"steady.csv": BODY}


def test_deadline_argument(server, cache):
    server.routes["/f.csv"] = BODY
    for bad in (0, -1.0, math.nan):
        with pytest.raises(ValueError, match="get_file.. deadline must be"):
            get_file("f.csv", BODY_SHA, server.url("/f.csv"), deadline=bad)
    for bad in ("10", True):
        with pytest.raises(TypeError, match="deadline must be a number"):
            get_file("f.csv", BODY_SHA, server.url("/f.csv"), deadline=bad)
    with pytest.raises(ValueError, match="timeout"):
        get_file("f.csv", BODY_SHA, server.url("/f.csv"), timeout=0)
    assert server.hits == [] and snapshot(cache) is None  # refused before any request
    got = get_file("f.csv", BODY_SHA, server.url("/f.csv"), deadline=math.inf, progress=False)
    assert got.read_bytes() == BODY


# ------------------------------------------------------------------------------ extraction
def test_extraction_checks_member_size_from_the_header(tmp_path):
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(tar_gz_declaring("pack/huge.bin", 5 << 30))
    assert bomb.stat().st_size < 1000
    with pytest.raises(DataFileError, match=r"huge.bin.*5,368,709,120 bytes.*max_member_bytes"):
        extract_archive(bomb, tmp_path / "out")
    assert snapshot(tmp_path / "out") is None


def test_extraction_checks_the_total(tmp_path):
    archive = tmp_path / "many.tar.gz"
    archive.write_bytes(tar_gz({f"many/{i}.txt": bytes(1000) for i in range(10)}))
    with pytest.raises(DataFileError, match=r"more than 5,000 bytes in all \(max_bytes=\)"):
        extract_archive(archive, tmp_path / "out", max_bytes=5000)
    with pytest.raises(DataFileError, match=r"over the limit of 999 per member"):
        extract_archive(archive, tmp_path / "out", max_member_bytes=999)
    assert snapshot(tmp_path / "out") is None
    out = extract_archive(archive, tmp_path / "out", max_bytes=10_000, max_member_bytes=1000)
    assert snapshot(out) == {"many": "dir", **{f"many/{i}.txt": bytes(1000) for i in range(10)}}


def test_extraction_enforces_the_limits_while_writing(tmp_path, monkeypatch):
    """A member whose data outgrows its header (injected here) stops the extraction, and the
    temporary folder goes with it."""
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_gz({"a/x.txt": b"12345", "a/y.txt": b"abc"}))
    monkeypatch.setattr(tarfile.TarFile, "extractfile",
                        lambda self, m: io.BytesIO(b"z" * (m.size + 10**6)))
    with pytest.raises(DataFileError, match="holds more data than declared"):
        extract_archive(archive, tmp_path / "out")
    assert snapshot(tmp_path / "out") is None


@pytest.mark.parametrize("kind", ["truncated", "not gzip", "flipped", "gzip of junk"])
def test_corrupt_archive_is_one_clear_error(tmp_path, kind):
    blob = tar_gz({"p/a.txt": os.urandom(20_000), "p/b.txt": b"b"})
    blob = {"truncated": blob[: len(blob) // 2], "not gzip": b"PK\x03\x04" + blob[4:],
            "flipped": blob[:200] + bytes(b ^ 0xFF for b in blob[200:260]) + blob[260:],
            "gzip of junk": gzip.compress(b"junk" * 500)}[kind]
    archive = tmp_path / "p.tar.gz"
    archive.write_bytes(blob)
    with pytest.raises(DataFileError, match="truncated or corrupt") as exc:
        extract_archive(archive, tmp_path / "out")
    assert str(archive) in str(exc.value)
    assert snapshot(tmp_path / "out") is None


@pytest.mark.parametrize("members", [
    [("p/a", tarfile.SYMTYPE)], [("p/a", tarfile.LNKTYPE)], [("p/dev", tarfile.CHRTYPE)],
    [("/etc/x", tarfile.REGTYPE)], [("p/../../x", tarfile.REGTYPE)],
    [("p/a", tarfile.REGTYPE), ("p/a/b", tarfile.REGTYPE)],
    [("p/a", tarfile.DIRTYPE), ("p/a", tarfile.REGTYPE)],
])
def test_unsafe_or_clashing_members_are_refused(tmp_path, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            tar.addfile(info, io.BytesIO(b""))
    archive = tmp_path / "p.tar.gz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(DataFileError, match="unsafe|clashes"):
        extract_archive(archive, tmp_path / "out")
    assert snapshot(tmp_path / "out") is None


def test_rejected_extraction_removes_what_it_downloaded(server, cache):
    blob = tar_gz_declaring("bomb/huge.bin", 5 << 30)
    server.routes["/bomb.tar.gz"] = blob
    with pytest.raises(DataFileError, match="huge.bin"):
        get_file("bomb.tar.gz", hashlib.sha256(blob).hexdigest(), server.url("/bomb.tar.gz"),
                 extract=True, progress=False)
    assert snapshot(cache) is None


# ------------------------------------------------------------------------------ corrupt cache
def _serve_imdb(server, monkeypatch, blob=ACL_TGZ):
    server.routes["/aclImdb_v1.tar.gz"] = blob
    monkeypatch.setattr(imdb, "ARCHIVE_URL", server.url("/aclImdb_v1.tar.gz"))
    # the small fixture stands in for the published archive
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256", hashlib.sha256(ACL_TGZ).hexdigest())


def test_truncated_imdb_archive_in_cache_is_downloaded_again(server, cache, monkeypatch):
    _serve_imdb(server, monkeypatch)
    cache.mkdir()
    (cache / imdb.ARCHIVE).write_bytes(ACL_TGZ[: len(ACL_TGZ) // 2])
    (xtr, ytr), (xte, yte) = imdb.load_data()
    assert xtr == ["Dull.", "Fine film, " * 200] and ytr.tolist() == [0, 1]
    assert xte == ["Awful.", "Superb!"]
    assert (cache / imdb.ARCHIVE).read_bytes() == ACL_TGZ  # replaced by the verified copy
    assert server.hits == ["/aclImdb_v1.tar.gz"]
    imdb.load_data()
    assert server.hits == ["/aclImdb_v1.tar.gz"]  # once


def test_truncated_imdb_archive_offline_is_a_clear_error(cache, monkeypatch):
    """The published checksum itself (no stand-in) catches the truncated copy; every load says
    which file, what is wrong and how to fix it, and the cache keeps what it had."""
    url = closed_port_url(imdb.ARCHIVE)
    monkeypatch.setattr(imdb, "ARCHIVE_URL", url)
    cache.mkdir()
    (cache / imdb.ARCHIVE).write_bytes(ACL_TGZ[:700])
    before = snapshot(cache)
    for _ in range(2):
        with pytest.raises(ChecksumError) as exc:
            imdb.load_data()
        msg = str(exc.value)
        assert str(cache / imdb.ARCHIVE) in msg and url in msg
        assert "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe" in msg
        assert "Delete it" in msg and "RNNLAB_DATA_DIR" in msg and "left as it was" in msg
        assert snapshot(cache) == before


def test_corrupt_cache_is_replaced_only_by_a_verified_copy(server, cache, monkeypatch):
    """A fresh download that is also wrong, or that stalls, leaves the cached file untouched."""
    cache.mkdir()
    (cache / "f.csv").write_bytes(BODY[:100])
    before = snapshot(cache)
    server.routes["/f.csv"] = BODY + b"tampered"
    with pytest.raises(ChecksumError, match="the new copy's sha256 is") as exc:
        get_file("f.csv", BODY_SHA, server.url("/f.csv"), progress=False)
    assert str(cache / "f.csv") in str(exc.value)
    assert snapshot(cache) == before and server.hits == ["/f.csv"]  # one attempt
    server.routes["/f.csv"] = trickle(BODY)
    with pytest.raises(ChecksumError, match="deadline"):
        get_file("f.csv", BODY_SHA, server.url("/f.csv"), deadline=0.3, progress=False)
    assert snapshot(cache) == before
    server.routes["/f.csv"] = BODY
    assert get_file("f.csv", BODY_SHA, server.url("/f.csv"), progress=False).read_bytes() == BODY


def test_corrupt_copy_in_the_data_dir_is_not_overwritten(server, cache, tmp_path, monkeypatch):
    """$RNNLAB_DATA_DIR is the user's: a bad copy there is reported, never replaced."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.csv").write_bytes(BODY[:100])
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    server.routes["/f.csv"] = BODY
    with pytest.raises(ChecksumError, match="Replace it with a good copy") as exc:
        get_file("f.csv", BODY_SHA, server.url("/f.csv"))
    assert str(data / "f.csv") in str(exc.value) and BODY_SHA in str(exc.value)
    assert server.hits == [] and (data / "f.csv").read_bytes() == BODY[:100]


def test_fortune500_corrupt_cache_is_downloaded_again(server, cache, monkeypatch):
    good = SHARED_CSV.read_bytes()
    server.routes["/f500.csv"] = good
    monkeypatch.setattr(fortune500, "URL", server.url("/f500.csv"))
    cache.mkdir()
    (cache / fortune500.FNAME).write_bytes(good[:5000])
    assert fortune500.load_data().X.shape == (502, 100)
    assert (cache / fortune500.FNAME).read_bytes() == good and len(server.hits) == 1


def test_yelp_truncated_archive_in_cache(server, cache, monkeypatch):
    monkeypatch.setattr(yelp_polarity, "SHA256", hashlib.sha256(YELP_TGZ).hexdigest())
    monkeypatch.setattr(yelp_polarity, "URL", closed_port_url(yelp_polarity.ARCHIVE))
    cache.mkdir()
    (cache / yelp_polarity.ARCHIVE).write_bytes(YELP_TGZ[:300])
    before = snapshot(cache)
    with pytest.raises(ChecksumError, match="yelp_review_polarity_csv.tgz.*Delete it"):
        yelp_polarity.load_data()
    assert snapshot(cache) == before
    server.routes["/y.tgz"] = YELP_TGZ
    monkeypatch.setattr(yelp_polarity, "URL", server.url("/y.tgz"))
    (x, y), (xt, yt) = yelp_polarity.load_data()
    assert len(x) == 5 and len(xt) == 3
    assert (cache / yelp_polarity.ARCHIVE).read_bytes() == YELP_TGZ


def test_yelp_archive_in_data_dir_is_verified(cache, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / yelp_polarity.ARCHIVE).write_bytes(YELP_TGZ)  # not the published archive
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    with pytest.raises(ChecksumError, match=yelp_polarity.SHA256):
        yelp_polarity.load_data()


def test_corrupt_converted_imdb_csv_is_a_clear_error(server, cache, monkeypatch):
    _serve_imdb(server, monkeypatch)
    imdb.load_data()
    conv = cache / imdb.CONVERTED_SUBDIR / imdb.FILES["train"][0]
    conv.write_bytes(conv.read_bytes()[:40])
    with pytest.raises(DataFileError, match="truncated or corrupt") as exc:
        imdb.load_data()
    assert str(conv) in str(exc.value) and "rebuilt from aclImdb_v1.tar.gz" in str(exc.value)
    conv.unlink()  # as the message says
    assert imdb.load_data()[0][1].tolist() == [0, 1]


def test_bad_row_in_an_imdb_csv_names_the_line(cache):
    conv = cache / imdb.CONVERTED_SUBDIR  # unverified CSVs: where load_data looks last
    conv.mkdir(parents=True)
    for f, _ in imdb.FILES.values():
        with gzip.open(conv / f, "wt") as g:
            g.write("label,rating,text\n1,8,fine\nx,3,bad label\n")
    with pytest.raises(DataFileError, match=r"line 3: expected a 0/1 label.*\['x', '3'\]"):
        imdb.load_data()


@given(data=st.data())
def test_damaged_archives_raise_the_documented_error(data):
    """Any truncation or byte flip of an archive given as path= either loads or raises
    DataFileError (or the loader's ValueError for a readable non-aclImdb tar), and a refused call
    leaves the cache as it was."""
    loader, blob = data.draw(st.sampled_from([(imdb, ACL_TGZ), (yelp_polarity, YELP_TGZ)]))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        at = data.draw(st.integers(0, len(blob) - 1))
        blob = blob[:at] + bytes([blob[at] ^ data.draw(st.integers(1, 255))]) + blob[at + 1:]
    with tempfile.TemporaryDirectory() as tmp, \
            mock.patch.dict(os.environ, {"RNNLAB_CACHE_DIR": os.path.join(tmp, "cache")}):
        archive = Path(tmp) / "archive.tgz"
        archive.write_bytes(blob)
        try:
            loader.load_data(path=archive)
        except ValueError as err:
            plain = type(err) is ValueError and "archive" in str(err)
            assert isinstance(err, DataFileError) or plain, repr(err)
            assert snapshot(Path(tmp) / "cache") is None


# ------------------------------------------------------------------------------ cache path
def test_cache_dir_that_is_a_file(server, tmp_path, monkeypatch):
    blocker = tmp_path / "cachefile"
    blocker.write_text("my notes")
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(blocker))
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    server.routes["/f.csv"] = BODY
    with pytest.raises(NotADirectoryError) as exc:
        get_file("f.csv", BODY_SHA, server.url("/f.csv"))
    msg = str(exc.value)
    assert str(blocker) in msg and "is a file, not a directory" in msg
    assert "set by $RNNLAB_CACHE_DIR" in msg
    assert blocker.read_text() == "my notes" and server.hits == []
    # below it, the message names the file in the way
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(blocker / "sub"))
    with pytest.raises(NotADirectoryError, match=f"{blocker}' is a file"):
        get_file("f.csv", BODY_SHA, server.url("/f.csv"))
    # the IMDB conversion writes into the cache too
    archive = tmp_path / "acl.tar.gz"
    archive.write_bytes(ACL_TGZ)
    with pytest.raises(NotADirectoryError, match="RNNLAB_CACHE_DIR"):
        imdb.load_data(path=archive)
    assert blocker.read_text() == "my notes"


def test_cache_from_xdg_that_is_a_file(server, tmp_path, monkeypatch):
    (tmp_path / "xdg").mkdir()
    (tmp_path / "xdg" / "rnnlab").write_text("")
    monkeypatch.delenv("RNNLAB_CACHE_DIR", raising=False)
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    server.routes["/f.csv"] = BODY
    with pytest.raises(NotADirectoryError, match=r"\$XDG_CACHE_HOME/rnnlab.*RNNLAB_CACHE_DIR"):
        get_file("f.csv", BODY_SHA, server.url("/f.csv"))


def test_a_broken_cache_does_not_matter_when_the_data_dir_has_the_file(tmp_path, monkeypatch):
    (tmp_path / "cachefile").write_text("")
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path / "cachefile"))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(SHARED_CSV.parent))
    assert fortune500.load_data().X.shape == (502, 100)
