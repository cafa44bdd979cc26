"""MkDocs hook: render the math with KaTeX from a local copy when there is one.

The site must render its derivations offline (a build machine or a headless browser without
network), so when Debian's ``libjs-katex`` is installed (``/usr/share/javascript/katex``) its
script, style sheet, auto-render extension and fonts are copied into the built site and the pages
load them from there.  Without it the pages load the same KaTeX version from a CDN, so the build
itself never depends on the package.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

# RNNLAB_KATEX_DIR points elsewhere (or at nothing, to try the CDN fallback)
LOCAL = Path(os.environ.get("RNNLAB_KATEX_DIR", "/usr/share/javascript/katex"))
CDN = "https://cdn.jsdelivr.net/npm/katex@0.16.4/dist"
# (file under LOCAL, the same file on the CDN)
FILES = {
    "katex.min.js": "katex.min.js",
    "contrib/auto-render.js": "contrib/auto-render.min.js",
    "katex.min.css": "katex.min.css",
}


def _local_ok() -> bool:
    return all((LOCAL / name).is_file() for name in FILES) and (LOCAL / "fonts").is_dir()


def on_config(config):
    if _local_ok():
        urls = {name: f"katex/{name}" for name in FILES}
    else:
        urls = {name: f"{CDN}/{cdn}" for name, cdn in FILES.items()}
    config.extra_css.insert(0, urls["katex.min.css"])
    # KaTeX, then its auto-render extension, before the page's javascripts/katex-init.js
    config.extra_javascript[0:0] = [urls["katex.min.js"], urls["contrib/auto-render.js"]]
    return config


def on_post_build(config):
    if not _local_ok():
        return
    target = Path(config.site_dir) / "katex"
    for name in FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LOCAL / name, target / name)          # follows Debian's symlinks
    shutil.copytree(LOCAL / "fonts", target / "fonts", dirs_exist_ok=True)


# docstrings cross-reference in Sphinx's style (:func:`name`), which Markdown leaves as text
_ROLE = re.compile(r":(?:func|meth|class|mod|data|attr|exc|obj):(?=<code>)")


def on_page_content(html, page, config, files):
    return _ROLE.sub("", html)
