"""Network helpers for the download tests."""
import http.server
import socket
import threading
import time


def closed_port_url(name="x.csv"):
    """An http URL on 127.0.0.1 at a port just freed, so nothing listens there: a download from
    it fails at once (connection refused), as offline."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/{name}"


class LocalServer:
    """A threaded HTTP server on 127.0.0.1.  ``routes`` maps a path to bytes (served whole, with
    its Content-Length) or to a function ``f(handler)`` that writes the whole response itself;
    ``hits`` lists the paths requested.  Use it as a context manager."""

    def __init__(self):
        self.routes, self.hits = {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                elif callable(route):
                    try:
                        route(self)
                    except OSError:  # the client hung up (e.g. its deadline passed)
                        pass
                    self.close_connection = True
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(route)))
                    self.end_headers()
                    self.wfile.write(route)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def truncated(body: bytes, missing: int = 1000):
    """A route that announces ``len(body) + missing`` bytes, sends ``body`` and hangs up."""

    def route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body) + missing))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def trickle(body: bytes, every: float = 0.05, headers: bool = True, give_up: float = 20.0):
    """A route that announces ``body`` (when ``headers``) and then sends it one byte per ``every``
    seconds, giving up after ``give_up`` seconds; ``headers=False`` trickles the status line and
    headers themselves (``body`` is then sent as raw bytes, e.g. an endless header block)."""

    def route(handler):
        if headers:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
        handler.wfile.flush()
        end = time.monotonic() + give_up
        for i in range(len(body)):
            if time.monotonic() > end:
                return
            handler.wfile.write(body[i:i + 1])
            handler.wfile.flush()
            time.sleep(every)
    return route
