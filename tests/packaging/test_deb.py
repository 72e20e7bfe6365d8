"""The .deb that `make package` builds: its layout, control file, desktop entry, MIME type and icons.

Built here from a stand-in one-folder build (a tiny executable), so no PyInstaller run is needed;
the real bundle goes through the same `stage` and `build`.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from fnmatch import fnmatch
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from desktop.features.sessions import SUFFIX
from desktop.shell.app_icon import SIZES, icon_svg, write_pngs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import deb  # noqa: E402
import linux_desktop  # noqa: E402

MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


@pytest.fixture
def staged(tmp_path, qapp):
    dist = tmp_path / "dist" / "logitscope"
    (dist / "_internal").mkdir(parents=True)
    (dist / "logitscope").write_text("#!/bin/sh\necho stand-in\n")
    (dist / "logitscope").chmod(0o755)
    (dist / "_internal" / "libsomething.so").write_bytes(b"\0" * 4096)
    (dist / "_internal" / "liblink.so").symlink_to("libsomething.so")
    return deb.stage(dist, tmp_path / "root", write_pngs, icon_svg(), version="1.2.3")


def parse_desktop(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read_string(text)
    return dict(parser["Desktop Entry"])


def test_desktop_entry_opens_session_files_with_the_app():
    entry = parse_desktop(linux_desktop.desktop_entry("/usr/bin/logitscope"))
    assert entry["Type"] == "Application" and entry["Name"] == "Logitscope"
    assert entry["Exec"] == "/usr/bin/logitscope %f"  # %f: the double-clicked file -> `logitscope FILE`
    assert entry["Icon"] == "logitscope"
    assert linux_desktop.SESSION_MIME in entry["MimeType"].split(";")
    assert entry["Categories"].endswith(";") and entry["MimeType"].endswith(";")


def test_mime_type_claims_the_session_files_the_app_writes():
    root = ET.fromstring(linux_desktop.mime_package())
    mime = root.find(f"{MIME_NS}mime-type")
    assert mime.get("type") == linux_desktop.SESSION_MIME
    pattern = mime.find(f"{MIME_NS}glob").get("pattern")
    assert fnmatch("lesson" + SUFFIX, pattern)
    assert not fnmatch("package.json", pattern)
    assert mime.find(f"{MIME_NS}sub-class-of").get("type") == "application/json"


def test_staged_tree_has_the_install_layout(staged):
    assert (staged / "opt/logitscope/logitscope").is_file()
    assert (staged / "opt/logitscope/_internal/liblink.so").is_symlink()  # kept as a link, not copied twice
    link = staged / "usr/bin/logitscope"
    assert link.is_symlink() and str(link.readlink()) == "/opt/logitscope/logitscope"
    entry = parse_desktop((staged / "usr/share/applications/logitscope.desktop").read_text())
    assert entry["Exec"].split()[0] == "/usr/bin/logitscope"
    assert (staged / "usr/share/mime/packages/logitscope.xml").read_text() == linux_desktop.mime_package()
    assert (staged / "usr/share/icons/hicolor/scalable/apps/logitscope.svg").read_bytes() == icon_svg().read_bytes()
    for size in SIZES:
        image = QImage(str(staged / f"usr/share/icons/hicolor/{size}x{size}/apps/logitscope.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()


def test_control_file_names_package_version_and_system_libraries(staged):
    fields = dict(line.split(": ", 1) for line in (staged / "DEBIAN/control").read_text().splitlines()
                  if ": " in line and not line.startswith(" "))
    assert fields["Package"] == "logitscope" and fields["Version"] == "1.2.3"
    assert fields["Architecture"] == deb.architecture()
    assert int(fields["Installed-Size"]) >= 4  # KiB: the 4 KiB library at least
    assert "libgl1" in fields["Depends"] and "libxkbcommon0" in fields["Depends"]
    postinst = staged / "DEBIAN/postinst"
    assert postinst.stat().st_mode & 0o111 and "update-mime-database" in postinst.read_text()


def test_project_version_is_read_from_pyproject():
    assert deb.project_version() == next(line.split('"')[1] for line in (ROOT / "pyproject.toml").read_text().splitlines()
                                         if line.startswith("version"))


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_dpkg_deb_builds_a_package_with_that_layout(staged, tmp_path):
    package = deb.build(staged, tmp_path / "out")
    assert package.name == f"logitscope_1.2.3_{deb.architecture()}.deb"
    info = subprocess.run(["dpkg-deb", "-f", str(package), "Package", "Version"], capture_output=True, text=True,
                          check=True).stdout
    assert info.split() == ["Package:", "logitscope", "Version:", "1.2.3"]
    listing = subprocess.run(["dpkg-deb", "-c", str(package)], capture_output=True, text=True, check=True).stdout
    names = {line.split()[5] for line in listing.splitlines()}
    for needed in ("./opt/logitscope/logitscope", "./usr/bin/logitscope", "./usr/share/applications/logitscope.desktop",
                   "./usr/share/mime/packages/logitscope.xml", "./usr/share/icons/hicolor/48x48/apps/logitscope.png"):
        assert needed in names
    owners = {line.split()[1] for line in listing.splitlines()}
    assert owners == {"root/root"}  # --root-owner-group: not the builder's user


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed")
def test_desktop_entry_passes_desktop_file_validate(staged):
    result = subprocess.run(["desktop-file-validate", str(staged / "usr/share/applications/logitscope.desktop")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
