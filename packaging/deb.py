"""A Debian package of the one-folder build, made with `dpkg-deb` (no other Debian tools needed).

Layout: the bundle in /opt/logitscope, the command /usr/bin/logitscope (a link into it), the desktop
entry, the icon in every hicolor size plus the SVG, and the session MIME type. The maintainer
scripts refresh the desktop, MIME and icon caches when those tools are installed, and do nothing
otherwise.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

from linux_desktop import APP_ID, desktop_entry, mime_package

ROOT = Path(__file__).resolve().parent.parent

INSTALL_DIR = f"/opt/{APP_ID}"
# Libraries the bundled Qt loads from the system (everything else is inside the bundle).
DEPENDS = ("libc6, libgl1, libegl1, libfontconfig1, libxkbcommon0, libdbus-1-3, "
           "libglib2.0-0t64 | libglib2.0-0")
RECOMMENDS = "libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxkbcommon-x11-0"  # X11 (Wayland needs none)
MAINTAINER = "Logitscope developers <logitscope@localhost>"

REFRESH = """#!/bin/sh
set -e
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q /usr/share/applications || true
command -v update-mime-database >/dev/null 2>&1 && update-mime-database /usr/share/mime || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
exit 0
"""


def project_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The version written in pyproject.toml (its one home)."""
    match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
    if match is None:
        raise ValueError(f"no version in {pyproject}")
    return match.group(1)


def architecture() -> str:
    """The Debian name of this machine's architecture."""
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def control(version: str, arch: str, installed_kb: int) -> str:
    return "\n".join([
        f"Package: {APP_ID}",
        f"Version: {version}",
        f"Architecture: {arch}",
        f"Maintainer: {MAINTAINER}",
        f"Installed-Size: {installed_kb}",
        f"Depends: {DEPENDS}",
        f"Recommends: {RECOMMENDS}",
        "Section: science",
        "Priority: optional",
        "Homepage: https://github.com/logitscope/logitscope",
        "Description: desktop microscope for causal language models",
        " Type a prompt and see it cut into tokens, watch attention and the residual",
        " stream move through every layer, read the next-token distribution, and step",
        " or sample the reply one token at a time. Works offline with a built-in model.",
        "",
    ])


def _tree_kb(path: Path) -> int:
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) // 1024 + 1


def stage(dist: Path, root: Path, icon_writer, svg: Path, version: str | None = None) -> Path:
    """Lay the package out under `root` (an empty folder) from the one-folder build `dist`.

    `icon_writer(folder)` renders the hicolor PNGs into `folder` (Qt does that, in the caller's
    process); `svg` is the scalable icon.
    """
    opt = root / INSTALL_DIR.lstrip("/")
    shutil.copytree(dist, opt, symlinks=True)
    executable = opt / APP_ID
    if not executable.is_file():
        raise FileNotFoundError(f"{dist} holds no '{APP_ID}' executable: is it the one-folder build?")
    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / APP_ID).symlink_to(f"{INSTALL_DIR}/{APP_ID}")
    share = root / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    (share / "applications" / f"{APP_ID}.desktop").write_text(desktop_entry(f"/usr/bin/{APP_ID}"), encoding="utf-8")
    (share / "mime" / "packages").mkdir(parents=True)
    (share / "mime" / "packages" / f"{APP_ID}.xml").write_text(mime_package(), encoding="utf-8")
    hicolor = share / "icons" / "hicolor"
    icon_writer(hicolor)
    (hicolor / "scalable" / "apps").mkdir(parents=True)
    shutil.copy2(svg, hicolor / "scalable" / "apps" / f"{APP_ID}.svg")
    debian = root / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(control(version or project_version(), architecture(), _tree_kb(root)),
                                    encoding="utf-8")
    for script in ("postinst", "postrm"):
        (debian / script).write_text(REFRESH, encoding="utf-8")
        (debian / script).chmod(0o755)
    for path in [root, *root.rglob("*")]:  # dpkg-deb wants 0755 folders, whatever the umask was
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return root


def build(root: Path, out_dir: Path) -> Path:
    """`dpkg-deb --build` the staged `root` into `out_dir`; returns the .deb's path.

    gzip, not xz: xz of a 1 GB bundle takes minutes on two cores for little gain on torch's libraries.
    """
    fields = dict(line.split(": ", 1) for line in (root / "DEBIAN" / "control").read_text().splitlines()
                  if ": " in line and not line.startswith(" "))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{fields['Package']}_{fields['Version']}_{fields['Architecture']}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(root), str(target)],
                   check=True, capture_output=True, text=True)
    return target
