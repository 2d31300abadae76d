"""Build Hearth's Linux artifacts: the onedir bundle, a .tar.gz with a launcher, a .deb and a manifest.

Run through ``scripts/package`` (which installs PyInstaller and the host
libraries the bundle must carry). Everything lands in ``dist/``:

- ``hearth-VERSION-linux-x86_64.tar.gz``: ``hearth-VERSION/`` holding the onedir
  bundle in ``lib/hearth/``, a ``hearth`` launcher, the desktop entry and icons;
- ``hearth_VERSION_amd64.deb``: the bundle in ``/opt/hearth``, ``/usr/bin/hearth``,
  a desktop entry, hicolor icons and AppStream metainfo;
- ``manifest.json``: what each artifact holds, its size and its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
WORK = ROOT / "build" / "package"
ICON_SIZES = (16, 32, 48, 64, 128, 256)
STARTER = "SmolLM2-135M-Instruct.Q4_1.gguf"
# System libraries Qt loads that the bundle does not carry (or may not, depending on the build host),
# by their Debian and Ubuntu package names. libEGL/libGL are never bundled (packaging.md).
DEPENDS = ["libgl1", "libegl1", "libfontconfig1", "libfreetype6", "libxkbcommon0", "libxkbcommon-x11-0",
           "libx11-6", "libx11-xcb1", "libxcb1", "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1",
           "libxcb-shape0", "libxcb-xkb1", "libxcb-randr0", "libxcb-render-util0", "libxcb-image0",
           "libdrm2", "libwayland-client0", "libwayland-cursor0", "libwayland-egl1", "libdbus-1-3"]


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from app import __version__

    return __version__


def run(*cmd: str, **kwargs) -> None:
    print("+", " ".join(cmd[:6]), "…" if len(cmd) > 6 else "", flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def build_onedir() -> Path:
    run(sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", str(WORK / "dist"), "--workpath", str(WORK / "pyinstaller"), str(ROOT / "packaging" / "hearth.spec"))
    onedir = WORK / "dist" / "hearth"
    internal = onedir / "_internal"
    # Symbol tables in libpython, the standard extension modules and some wheels' libraries (regex,
    # tiktoken, PDFium, numpy's own modules): ~35 MB never used at run time. numpy's bundled OpenBLAS
    # is left alone: strip corrupts it (packaging.md).
    strip = shutil.which("strip")
    if strip:
        targets = [str(p) for p in internal.rglob("*.so*")
                   if p.is_file() and not p.is_symlink() and "numpy.libs" not in p.parts
                   and "openblas" not in p.name and "icudata" not in p.name]
        run(strip, "--strip-unneeded", *targets, stdout=subprocess.DEVNULL)
    return onedir


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def install_desktop_files(share: Path) -> None:
    """The menu entry and its icon in every hicolor size, under a ``share`` folder (XDG layout)."""
    (share / "applications").mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "hearth.desktop", share / "applications")
    for size in ICON_SIZES:
        folder = share / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True)
        shutil.copy(ROOT / "resources" / "icons" / f"hearth-{size}.png", folder / "hearth.png")


def components(onedir: Path) -> dict[str, int]:
    """The bundle's biggest parts, for the manifest: what the size is made of."""
    internal = onedir / "_internal"
    parts: dict[str, int] = {}
    for child in internal.iterdir():
        if child.is_symlink():  # PyInstaller links top-level names to libraries inside packages
            continue
        size = tree_size(child) if child.is_dir() else child.stat().st_size
        key = child.name if child.is_dir() else "host and Python libraries"
        parts[key] = parts.get(key, 0) + size
    parts["starter model"] = (internal / "resources" / "models" / STARTER).stat().st_size
    parts["resources"] -= parts["starter model"]
    return dict(sorted(parts.items(), key=lambda kv: -kv[1])[:14])


def launcher_text() -> str:
    return ("#!/bin/sh\n"
            "# Hearth's launcher: the program lives in lib/hearth beside this script (symlinks allowed).\n"
            'here="$(dirname "$(readlink -f "$0")")"\n'
            'exec "$here/lib/hearth/hearth" "$@"\n')


def make_tarball(onedir: Path, ver: str) -> Path:
    top = f"hearth-{ver}"
    stage = WORK / "tar" / top
    shutil.rmtree(stage.parent, ignore_errors=True)
    shutil.copytree(onedir, stage / "lib" / "hearth", symlinks=True)
    (stage / "hearth").write_text(launcher_text())
    (stage / "hearth").chmod(0o755)
    install_desktop_files(stage / "share")
    target = DIST / f"{top}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        tar.add(stage, arcname=top)  # symlinks stay symlinks: the reason this is a tar, not a zip
    return target


def glibc_version() -> str:
    return platform.libc_ver()[1] or "2.36"


def make_deb(onedir: Path, ver: str) -> Path:
    stage = WORK / "deb"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(onedir, stage / "opt" / "hearth", symlinks=True)
    (stage / "usr" / "bin").mkdir(parents=True)
    (stage / "usr" / "bin" / "hearth").symlink_to("/opt/hearth/hearth")
    share = stage / "usr" / "share"
    install_desktop_files(share)
    (share / "metainfo").mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "app.hearth.Hearth.metainfo.xml", share / "metainfo")
    (share / "icons" / "hicolor" / "scalable" / "apps").mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "icons" / "hearth.svg", share / "icons" / "hicolor" / "scalable" / "apps")
    (share / "doc" / "hearth").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", share / "doc" / "hearth" / "README.md")
    control = stage / "DEBIAN"
    control.mkdir()
    installed_kb = tree_size(stage) // 1024
    depends = ", ".join([f"libc6 (>= {glibc_version()})"] + DEPENDS)
    (control / "control").write_text(
        f"Package: hearth\nVersion: {ver}\nArchitecture: amd64\nMaintainer: Hearth developers <hearth@localhost>\n"
        f"Installed-Size: {installed_kb}\nDepends: {depends}\nSection: utils\nPriority: optional\n"
        "Homepage: https://github.com/hearth-app/hearth\n"
        "Description: private AI assistant running open models on this machine\n"
        " Hearth downloads and runs open GGUF models on the CPU through llama.cpp: chat, coding help,\n"
        " questions about your documents with citations, and an OpenAI/Anthropic-compatible API for\n"
        " coding tools. Everything stays in one folder on this machine (~/.local/share/Hearth).\n")
    # After install and removal: let desktops pick up the entry and the icon at once.
    for script in ("postinst", "postrm"):
        (control / script).write_text(
            "#!/bin/sh\nset -e\n"
            "command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true\n"
            "command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true\n")
        (control / script).chmod(0o755)
    target = DIST / f"hearth_{ver}_amd64.deb"
    run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(stage), str(target))
    return target


def manifest(onedir: Path, artifacts: list[Path]) -> dict:
    starter = onedir / "_internal" / "resources" / "models" / STARTER
    data = {
        "version": version(),
        "built_on": {"python": platform.python_version(), "glibc": glibc_version(), "machine": platform.machine()},
        "onedir": {"size_bytes": tree_size(onedir), "size_without_starter_bytes": tree_size(onedir) - starter.stat().st_size,
                   "files": sum(1 for p in onedir.rglob("*") if p.is_file()), "components": components(onedir)},
        "starter_model": {"file": STARTER, "size_bytes": starter.stat().st_size, "sha256": sha256(starter)},
        "artifacts": [],
    }
    for path in artifacts:
        entry = {"file": path.name, "size_bytes": path.stat().st_size, "sha256": sha256(path)}
        if path.suffix == ".deb":
            entry["contains"] = ["/opt/hearth (the onedir bundle)", "/usr/bin/hearth", "/usr/share/applications/hearth.desktop",
                                 "/usr/share/icons/hicolor/{16..256}x{16..256},scalable/apps/hearth",
                                 "/usr/share/metainfo/app.hearth.Hearth.metainfo.xml", "/usr/share/doc/hearth/README.md"]
            entry["depends"] = [f"libc6 (>= {glibc_version()})"] + DEPENDS
        else:
            entry["contains"] = ["hearth (launcher)", "lib/hearth (the onedir bundle)", "share/applications/hearth.desktop",
                                 "share/icons/hicolor/*/apps/hearth.png"]
        data["artifacts"].append(entry)
    return data


def main() -> int:
    ver = version()
    DIST.mkdir(exist_ok=True)
    for old in list(DIST.glob("hearth*")) + [DIST / "manifest.json"]:
        old.unlink(missing_ok=True)
    onedir = build_onedir()
    artifacts = [make_tarball(onedir, ver)]
    if shutil.which("dpkg-deb"):
        artifacts.append(make_deb(onedir, ver))
    else:
        print("dpkg-deb not found: no .deb (the tarball is built)", file=sys.stderr)
    data = manifest(onedir, artifacts)
    (DIST / "manifest.json").write_text(json.dumps(data, indent=2) + "\n")
    mb = 1_000_000
    print(f"onedir {data['onedir']['size_bytes'] / mb:.0f} MB "
          f"({data['onedir']['size_without_starter_bytes'] / mb:.0f} MB without the {data['starter_model']['size_bytes'] / mb:.0f} MB starter model)")
    for entry in data["artifacts"]:
        print(f"{entry['file']}: {entry['size_bytes'] / mb:.0f} MB, sha256 {entry['sha256']}")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
