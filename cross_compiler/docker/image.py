"""The builder image: its build context, computed from data (pure), and its content-hash tag."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jinja2

from cross_compiler import __version__
from cross_compiler.errors import ConfigError
from cross_compiler.toolchain import sysroot
from cross_compiler.toolchain.suites import Suite, foreign_root_packages, lent_packaging_dir
from cross_compiler.toolchain.targets import Target

IMAGE_REPOSITORY = "cross-compiler-builder"
LABEL = "cross_compiler"
# Inside the image: the tool's source, its cache with each target's Python root.
IMAGE_SRC = "/opt/cross_compiler/src"
IMAGE_CACHE = "/opt/cross_compiler/cache"
# python3-pip: rules_python's pip_parse / pip.parse run pip with the image's Python (through
# the tool's python wrappers, which make it resolve the target's wheels).
BASE_PACKAGES = ("binutils", "ca-certificates", "file", "python{v}", "python{v}-venv",
                 "python3-pip", "python3-setuptools", "python3-wheel")
# What workspaces' own scripts run inside the builder: git for workspace_status_command
# (`git rev-parse HEAD`, `git describe` stamping), in every image whatever the routes.
WORKSPACE_TOOLS = ("git",)
# The tool's own runtime dependencies, pinned in the image to what runs on the host;
# setuptools too, which packaging commands (setup.py bdist_wheel) need from Python 3.12 on.
RUNTIME_DEPENDENCIES = (
    "invoke", "jinja2", "packaging", "wheel", "auditwheel", "pyelftools", "installer",
    "abi3info",
)
# The build context's folder of the wheels --manylinux routes add (ziglang).
ROUTE_WHEELS = "route-wheels"
# Where the image installs them (outside /opt/cross_compiler, see the Dockerfile).
ROUTE_PYTHON = "/opt/cross_compiler_routes/python"
# Not pinned to the host's: whatever the image's Python version needs.
UNPINNED_DEPENDENCIES = ("setuptools",)


# Docker's image reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest].
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})?")
# Debian's package name, with an optional :arch and =version.
DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?::[a-z0-9]+)?(?:=[A-Za-z0-9.+:~-]+)?")


@dataclass(frozen=True)
class BakedSysroot:
    """A sysroot assembled on the host, copied into the image."""

    suite: str
    debian_arch: str
    host_path: str
    digest: str  # of the assembled tree: part of the image's tag

    @property
    def context_path(self) -> str:
        return f"sysroot/{self.suite}/{self.debian_arch}"

    @property
    def image_path(self) -> str:
        return str(sysroot.sysroot_dir(self.suite, self.debian_arch, Path(IMAGE_CACHE)))


@dataclass(frozen=True)
class ImageExtras:
    """What a build's routes add to the builder image (docker/imageextras.py computes it);
    empty (falsy) when they need nothing beyond it."""

    families: tuple[str, ...] = ()  # those that add something, for the tag
    packages: tuple[str, ...] = ()  # Debian packages
    requirements: tuple[str, ...] = ()  # pinned Python packages for the tool's venv
    sysroots: tuple[BakedSysroot, ...] = ()
    writable_dirs: tuple[str, ...] = ()  # in the container: mounted from the host's cache

    def __bool__(self) -> bool:
        return bool(self.packages or self.requirements or self.sysroots or self.writable_dirs)


def check_image_settings(base_image: str, extra_packages: list[str]) -> None:
    """Both are pasted into the Dockerfile: anything outside their grammar (a newline, a
    ``;``) would be an instruction or a shell command of its own."""
    if not IMAGE_REFERENCE.fullmatch(base_image) or len(base_image) > 255:
        raise ConfigError(f"base_image {base_image!r} is not a Docker image reference",
                          "use e.g. debian:bookworm or registry.example:5000/debian:12 "
                          "(lower-case repository names)")
    for package in extra_packages:
        if not DEBIAN_PACKAGE.fullmatch(package):
            raise ConfigError(f"extra_packages: {package!r} is not a Debian package name",
                              "use e.g. cmake, libfoo-dev:arm64 or zlib1g-dev=1:1.2.13.dfsg-1")


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    base_image: str
    python_version: str  # the image's Python: its dependencies are downloaded for it
    context: Mapping[str, bytes]  # relative path in the build context -> content
    # Downloaded into the context's wheels/ only when the image is built; the pins (in the
    # Dockerfile) are what the tag hashes.
    requirements: tuple[str, ...] = ()
    # Likewise, into ROUTE_WHEELS: what the --manylinux routes add (imageextras.py).
    route_requirements: tuple[str, ...] = ()

    @property
    def dockerfile(self) -> str:
        return self.context["Dockerfile"].decode()


def pinned_requirements() -> list[str]:
    pins = []
    for name in RUNTIME_DEPENDENCIES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return [*pins, *UNPINNED_DEPENDENCIES]


def pin(name: str) -> str:
    """``name==<version>``: the host's installed version, else the tool's own pin of it (an
    extra's), else the bare name."""
    try:
        return f"{name}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        pass
    try:
        declared = metadata.requires("cross_compiler") or []
    except metadata.PackageNotFoundError:
        declared = []
    for requirement in declared:
        spec = requirement.split(";")[0].strip()
        if re.fullmatch(rf"{re.escape(name)}==[A-Za-z0-9.+!-]+", spec):
            return spec
    return name


def source_files(package_dir: Path, data_dirs: Mapping[str, Path]) -> dict[str, bytes]:
    """The tool's Python files and shipped data, laid out as an installed package."""
    files: dict[str, bytes] = {}
    for path in sorted(package_dir.rglob("*.py")):
        if "_data" not in path.relative_to(package_dir).parts:
            files[f"src/cross_compiler/{path.relative_to(package_dir).as_posix()}"] = (
                path.read_bytes())
    for name, directory in sorted(data_dirs.items()):
        for path in sorted(directory.rglob("*")):
            rel = path.relative_to(directory)
            if path.is_file() and not any(p.startswith("bazel-") or p == "__pycache__"
                                          for p in rel.parts):
                files[f"src/cross_compiler/_data/{name}/{rel.as_posix()}"] = path.read_bytes()
    return files


def bazelrc_lines(suite: Suite) -> list[str]:
    """For anyone running Debian's offline Bazel in the image by hand, behind
    ``--config=debian-offline``: the tool passes what a build needs itself (see offline.py),
    and never a stand-in for a repository the workspace declares (pins win), which an
    unconditional line here would replace in every build."""
    overrides = f"{IMAGE_SRC}/cross_compiler/_data/bazel_overrides"
    if suite.bazel_major >= 7:
        return [f"common:debian-offline --override_module={name}={overrides}/modules/{name}"
                for name in ("apple_support", "buildozer", "protobuf", "zlib")]
    return [
        "common:debian-offline --override_repository=rules_java=/usr/share/bazel/rules/java",
        f"common:debian-offline --override_repository=rules_cc={overrides}/rules_cc",
        "common:debian-offline --override_repository=remote_coverage_tools="
        f"{overrides}/remote_coverage_tools",
    ]


# What packaging with a lent CPython needs from its own suite (the builder's setuptools is
# for the builder's Pythons): unpacked under lent_packaging_dir(version).
LENT_PACKAGING = ("python3-setuptools", "python3-pkg-resources", "python3-wheel")
# ... and the parts of its standard library Debian splits out, in their own paths.
LENT_STDLIB = ("python3-distutils", "python3-lib2to3")


def builder_packages(targets: list[Target], suite: Suite, extra_packages: list[str]
                     ) -> list[str]:
    """The Debian packages the builder image installs, sorted: every CPython the suite
    builds for is there as the build machine's python3.X (packaging, repository rules)."""
    # qemu-user: `cross-compiler test` runs the target's tests inside the image. A CPython
    # lent by an older suite installs without -venv/pip (they conflict with the newer ones).
    native = (suite.python_version, *suite.extra_pythons)
    lent = [p for v in suite.foreign_pythons
            for p in (f"python{v}-minimal", f"libpython{v}-stdlib", f"python{v}")]
    return sorted({*(p.replace("{v}", v) for v in native for p in BASE_PACKAGES), *lent,
                   *WORKSPACE_TOOLS,
                   *suite.bazel_packages, suite.qemu_package,
                   *(t.compiler_package for t in targets), *extra_packages})


def image_spec(
    targets: list[Target],
    suite: Suite,
    base_image: str,
    extra_packages: list[str],
    requirements: list[str],
    sources: Mapping[str, bytes],
    templates_dir: Path,
    extras: ImageExtras | None = None,
    lenders: Mapping[str, Suite] | None = None,
) -> ImageSpec:
    """Render the Dockerfile and hash everything that goes into the image into its tag;
    ``extras``: what --manylinux routes add (none: today's image, byte for byte);
    ``lenders``: the older suites of the suite's foreign_pythons, by name."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    python_targets = [t for t in targets if suite.has_python(t.debian_arch)]
    v = suite.python_version
    packages = builder_packages(targets, suite, extra_packages)
    base_image = base_image or suite.base_image
    check_image_settings(base_image, extra_packages)
    dockerfile = env.get_template("docker/Dockerfile.j2").render(
        version=__version__,
        cpus=[t.cpu for t in targets],
        suite=suite.name,
        bazel_version=suite.bazel_version,
        python=f"python{v}",
        base_image=base_image,
        foreign_arches=sorted({t.debian_arch for t in python_targets}),
        packages=packages,
        requirements=requirements,
        debroots=[
            {"dir": f"{IMAGE_CACHE}/debroot/{suite.name}/{t.debian_arch}",
             "packages": suite.root_packages(t.debian_arch)}
            for t in python_targets
        ] + [
            {"dir": f"{IMAGE_CACHE}/debroot/{suite.name}/{t.debian_arch}-{lender.name}",
             "packages": foreign_root_packages(lender, version, t.debian_arch)}
            for version, name in sorted(suite.foreign_pythons.items())
            if (lender := (lenders or {}).get(name)) is not None
            for t in python_targets if lender.has_python(t.debian_arch)
        ],
        older_suites=sorted(set(suite.foreign_pythons.values())),
        lent_pythons=[{"version": v, "suite": name, "dir": lent_packaging_dir(v),
                       "packages": LENT_PACKAGING, "stdlib": LENT_STDLIB}
                      for v, name in sorted(suite.foreign_pythons.items())],
        bazelrc=bazelrc_lines(suite),
        route_families=list(extras.families) if extras else [],
        route_packages=list(extras.packages) if extras else [],
        route_requirements=list(extras.requirements) if extras else [],
        route_wheels=ROUTE_WHEELS,
        route_python=ROUTE_PYTHON,
        sysroots=[{"src": s.context_path, "dest": s.image_path}
                  for s in (extras.sysroots if extras else ())],
        writable_dirs=list(extras.writable_dirs) if extras else [],
    )
    context = {"Dockerfile": dockerfile.encode(),
               "apt-update-retry.sh": (templates_dir / "docker/apt-update-retry.sh").read_bytes(),
               **sources}
    digest = hashlib.sha256()
    for name in sorted(context):
        digest.update(name.encode() + b"\0" + hashlib.sha256(context[name]).digest())
    # The sysroots are copied into the context when the image is built: their digests
    # stand for their content here.
    for baked in extras.sysroots if extras else ():
        digest.update(f"{baked.context_path}\0{baked.digest}".encode())
    kind = "".join(f"-{name}" for name in extras.families) if extras else ""
    return ImageSpec(f"{IMAGE_REPOSITORY}:{suite.name}{kind}-{digest.hexdigest()[:16]}",
                     base_image, v, context, tuple(requirements),
                     tuple(extras.requirements) if extras else ())
