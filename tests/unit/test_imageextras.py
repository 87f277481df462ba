"""--manylinux with the docker runner: what the routes add to the builder image (packages,
the zig wheel, baked sysroots), its tag, and the writable mount of zig's cache; a build
without --manylinux keeps today's image byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.docker import dockerrun
from cross_compiler.docker.image import (
    IMAGE_CACHE,
    BakedSysroot,
    ImageExtras,
    builder_packages,
    image_spec,
)
from cross_compiler.docker.imageextras import image_extras, needed_sysroots, writable_mounts
from cross_compiler.docker.plan import Mount
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain import portable, sysroot
from cross_compiler.toolchain.suites import for_suite, load_suites
from cross_compiler.toolchain.targets import load_targets

SUITES = load_suites(resources.data_dir("suites"))
BOOKWORM = SUITES["bookworm"]
TARGETS = [for_suite(t, BOOKWORM) for t in load_targets(["all"], resources.toolchains_dir())]
BASE = builder_packages(TARGETS, BOOKWORM, [])


def _targets(*cpus: str):  # type: ignore[no-untyped-def]
    return [t for t in TARGETS if t.cpu in cpus]


def _pin(name: str) -> str:
    return f"{name}==1.2.3"


def _baked(routes, digest: str = "d"):  # type: ignore[no-untyped-def]
    return {(suite, t.debian_arch): BakedSysroot(suite, t.debian_arch, f"/h/{t.debian_arch}",
                                                 digest)
            for suite, t in needed_sysroots(routes)}


def _extras(cpus: tuple[str, ...], manylinux: str, toolchain: str = "auto",
            digest: str = "d") -> ImageExtras:
    routes = list(portable.choose(_targets(*cpus), manylinux, toolchain).values())
    return image_extras(routes, BASE, _pin, _baked(routes, digest))


def _spec(extras: ImageExtras | None = None):  # type: ignore[no-untyped-def]
    return image_spec(TARGETS, BOOKWORM, "", [], ["invoke==2.2.0"],
                      {"src/cross_compiler/x.py": b"x"}, resources.templates_dir(), extras)


def test_without_extras_the_image_is_todays() -> None:
    today = _spec()
    assert _spec(ImageExtras()).tag == today.tag
    assert _spec(ImageExtras()).dockerfile == today.dockerfile
    assert "--manylinux routes" not in today.dockerfile
    assert "cache/sysroot" not in today.dockerfile and "cross_compiler_routes" not in (
        today.dockerfile)
    assert not ImageExtras() and _spec(ImageExtras()).route_requirements == ()


def test_the_gcc_route_adds_nothing() -> None:
    # --manylinux=2_36: Debian 12's cross gcc meets it; the image is today's.
    extras = _extras(("aarch64", "s390x"), "2_36")
    assert not extras and extras.families == ()
    assert _spec(extras).tag == _spec().tag


def test_zig_route_adds_its_pinned_wheel_and_a_writable_cache() -> None:
    extras = _extras(("aarch64",), "2014")
    assert extras.families == ("zig",) and extras.packages == () and extras.sysroots == ()
    assert extras.requirements == ("ziglang==1.2.3",)
    assert extras.writable_dirs == (f"{IMAGE_CACHE}/zig",)
    spec = _spec(extras)
    assert spec.tag.startswith("cross-compiler-builder:bookworm-zig-")
    assert spec.route_requirements == ("ziglang==1.2.3",)
    dockerfile = spec.dockerfile
    assert "--target /opt/cross_compiler_routes/python" in dockerfile
    assert "      ziglang==1.2.3 \\" in dockerfile
    # The tool's venv finds it; the mount point exists in the image.
    assert ("> /opt/cross_compiler/venv/lib/python3.11/site-packages/cross_compiler_routes.pth"
            in dockerfile)
    assert f"RUN mkdir -p {IMAGE_CACHE}/zig\n" in dockerfile
    # Before the tool's own layer: a change of the tool rebuilds none of it.
    assert dockerfile.index("ziglang==") < dockerfile.index("COPY src ")


def test_clang_route_adds_debian_packages_and_bakes_sysroots_where_the_tool_looks() -> None:
    extras = _extras(("aarch64", "armv7hf"), "2_31")
    assert extras.families == ("clang",) and extras.requirements == ()
    assert extras.packages == ("clang", "lld", "llvm")
    assert [(s.suite, s.debian_arch) for s in extras.sysroots] == [("bullseye", "arm64"),
                                                                   ("bullseye", "armhf")]
    dockerfile = _spec(extras).dockerfile
    for arch in ("arm64", "armhf"):
        dest = sysroot.sysroot_dir("bullseye", arch, Path(IMAGE_CACHE))
        assert str(dest) == f"/opt/cross_compiler/cache/sysroot/bullseye/{arch}"
        assert f"COPY sysroot/bullseye/{arch} {dest}\n" in dockerfile
    assert "      clang \\\n      lld \\\n      llvm \\\n" in dockerfile
    assert _spec(extras).tag.startswith("cross-compiler-builder:bookworm-clang-")


def test_tag_hashes_the_sysroots_content_and_each_routes_extras() -> None:
    clang = _spec(_extras(("armv7hf",), "2_31")).tag
    assert _spec(_extras(("armv7hf",), "2_31")).tag == clang
    assert _spec(_extras(("armv7hf",), "2_31", digest="other")).tag != clang
    both = _spec(_extras(("aarch64", "armv7hf"), "2_31")).tag
    assert both != clang  # one more sysroot
    zig = _spec(_extras(("aarch64",), "2014")).tag
    assert len({clang, both, zig, _spec().tag}) == 4


def test_toolchain_names_a_family_the_image_must_hold() -> None:
    # --toolchain=zig: zig's extras even at a baseline gcc would meet.
    extras = _extras(("aarch64",), "2_36", toolchain="zig")
    assert extras.families == ("zig",)
    assert not _extras(("aarch64",), "", toolchain="gcc")
    assert not _extras(("aarch64",), "", toolchain="auto")


def test_zig_cache_is_mounted_from_the_docker_cache_root(tmp_path: Path) -> None:
    extras = _extras(("aarch64",), "2014")
    assert writable_mounts(extras, Path("/c")) == (
        Mount("/c/tool-cache/zig", f"{IMAGE_CACHE}/zig"),)
    assert writable_mounts(ImageExtras(), Path("/c")) == ()
    ws = tmp_path / "ws"
    ws.mkdir()
    settings = config.resolve({}, "f", {}, {"cache_dir": str(tmp_path / "cache"),
                                            "manylinux": "2014"})
    spec = _spec(extras)
    request, layout, _ = dockerrun.plan_container(ws, _targets("aarch64"), settings, {}, spec,
                                                  False, [], extras=extras)
    zig = Mount(str(tmp_path / "cache" / "tool-cache" / "zig"), f"{IMAGE_CACHE}/zig")
    assert zig in request.mounts
    assert layout.root == tmp_path / "cache" / spec.tag.split(":")[1]
    # The settings the tool inside needs to choose the same routes.
    assert request.env["CROSS_COMPILER_MANYLINUX"] == "2014"
    assert request.env["CROSS_COMPILER_TOOLCHAIN"] == "auto"
    plain, _, _ = dockerrun.plan_container(ws, _targets("aarch64"), settings, {}, _spec(),
                                           False, [])
    assert len(plain.mounts) == 2


def test_route_extras_assembles_the_sysroots_on_the_host(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    made: list[tuple[str, str]] = []

    def fake_assemble(spec, target, cache_dir):  # type: ignore[no-untyped-def]
        made.append((spec.name, target.debian_arch))
        root = sysroot.sysroot_dir(spec.name, target.debian_arch, cache_dir)
        (root / "usr/include").mkdir(parents=True)
        (root / "usr/include/stdio.h").write_text("/* */\n")
        return sysroot.Sysroot(root, spec.name, target.debian_arch, {"libc6": "2.31-13"})

    monkeypatch.setattr(sysroot, "assemble", fake_assemble)
    env = {"CROSS_COMPILER_CACHE": str(tmp_path)}
    settings = config.resolve({}, "f", env, {"manylinux": "2_31"})
    extras = dockerrun.route_extras(_targets("armv7hf"), settings, env, BOOKWORM)
    assert made == [("bullseye", "armhf")]
    (baked,) = extras.sysroots
    assert baked.host_path == str(tmp_path / "sysroot/bullseye/armhf")
    assert baked.digest == sysroot.content_digest(Path(baked.host_path))


def test_an_unreachable_baseline_fails_before_any_image(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    from cross_compiler.docker import container

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("the engine must not be asked")

    monkeypatch.setattr(container, "connect", no_engine)
    settings = config.resolve({}, "f", {}, {"manylinux": "2014",
                                            "cache_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="ppc64le: cannot build for manylinux_2_17_ppc64le"):
        dockerrun.build_in_container(tmp_path, _targets("ppc64le"), settings, {},
                                     dockerrun.BuildResult(), False, BOOKWORM)


def test_sysroot_content_digest_sees_content_modes_and_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/libc.so.6").write_bytes(b"\x7fELF")
    os.symlink("libc.so.6", root / "usr/lib/libc.so")
    first = sysroot.content_digest(root)
    assert sysroot.content_digest(root) == first
    (root / "usr/lib/libc.so.6").chmod(0o600)
    assert sysroot.content_digest(root) != first
    (root / "usr/lib/libc.so.6").chmod(0o644)
    before = sysroot.content_digest(root)
    (root / "usr/lib/libc.so").unlink()
    os.symlink("libc.so.7", root / "usr/lib/libc.so")
    assert sysroot.content_digest(root) != before


def test_the_hosts_result_records_the_routes_the_container_used(tmp_path: Path) -> None:
    # A release's manifest records family, glibc and sysroot packages for docker builds too.
    from cross_compiler.api import write_result_json
    from cross_compiler.bazel.localbuild import BuildResult

    inside = BuildResult(suite="bookworm")
    inside.toolchains = {"armv7hf": {"family": "clang", "glibc": "2.31",
                                     "baseline": "manylinux_2_31",
                                     "sysroot": {"suite": "bullseye", "debian_arch": "armhf",
                                                 "packages": {"libc6": "2.31-13+deb11u11"}}}}
    report = tmp_path / "result.json"
    write_result_json(inside, report)
    host = BuildResult()
    dockerrun._collect(report, _targets("armv7hf"), host, "2_31")
    assert host.toolchains == inside.toolchains and host.suite == "bookworm"
