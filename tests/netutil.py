"""Network helpers for the download tests."""
import socket


def closed_port_url(name="x.csv"):
    """An http URL on 127.0.0.1 at a port just freed, so nothing listens there: a download from
    it fails at once (connection refused), as offline."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/{name}"
