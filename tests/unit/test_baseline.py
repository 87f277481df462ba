"""--manylinux: the reachability table (baselines/manylinux.toml) and the policy check."""

from __future__ import annotations

from pathlib import Path

import pytest

from cross_compiler import config, resources
from cross_compiler.bazel.overrides import sysroot_routes_usable, with_overrides
from cross_compiler.errors import ConfigError
from cross_compiler.manylinuxpolicy import parse_baseline, policy_arches
from cross_compiler.toolchain import baseline, families, portable, sysroot
from cross_compiler.toolchain.targets import load_targets
from cross_compiler.wheel import manylinux, policycheck

SPECS = sysroot.load_specs(resources.data_dir("sysroots"))
TABLE = baseline.load_table(resources.data_dir("baselines") / "manylinux.toml", SPECS)
ARCHES = policy_arches()


def _target(cpu: str):  # type: ignore[no-untyped-def]
    return load_targets([cpu], resources.toolchains_dir())[0]


@pytest.mark.parametrize(("text", "glibc"), [
    ("2014", (2, 17)), ("manylinux2014", (2, 17)), ("2_17", (2, 17)), ("2_28", (2, 28)),
    ("manylinux_2_31", (2, 31)), ("2.31", (2, 31)), ("1", (2, 5)), ("2010", (2, 12)),
])
def test_baseline_spellings(text: str, glibc: tuple[int, int]) -> None:
    assert parse_baseline(text).glibc == glibc


def test_a_bad_baseline_is_a_config_error_naming_the_value() -> None:
    with pytest.raises(ConfigError, match="'2_x' is not a manylinux baseline"):
        config.resolve({}, "", {}, {"manylinux": "2_x"})
    assert config.resolve({}, "", {}, {"manylinux": "2014"})["manylinux"] == "2014"


@pytest.mark.parametrize(("cpu", "wanted", "family", "suite"), [
    ("aarch64", "2_31", "clang", "bullseye"),
    ("armv7hf", "2_31", "clang", "bullseye"),
    ("aarch64", "2_36", "gcc", ""),  # today's toolchain whenever it meets the baseline
    ("aarch64", "2_39", "gcc", ""),
    ("ppc64le", "2_36", "gcc", ""),
    ("riscv64", "2_36", "gcc", ""),
    ("s390x", "2_38", "gcc", ""),
    ("aarch64", "2014", "zig", ""),
    ("aarch64", "2_28", "zig", ""),
    ("s390x", "2014", "zig", ""),
    ("armv7hf", "2014", "zig", ""),
    ("armv7hf", "2_28", "zig", ""),
    ("ppc64le", "2_34", "zig", ""),
    ("riscv64", "2_31", "zig", ""),
])
def test_reachable_routes(cpu: str, wanted: str, family: str, suite: str) -> None:
    route = baseline.choose_route(_target(cpu), parse_baseline(wanted), TABLE, ARCHES)
    assert (route.family, route.sysroot) == (family, suite)


def test_bullseye_sysroot_is_glibc_2_31() -> None:
    assert SPECS["bullseye"].glibc == "2.31"
    assert "ppc64el" not in SPECS["bullseye"].arches and "arm64" in SPECS["bullseye"].arches


@pytest.mark.parametrize(("cpu", "wanted", "lowest", "why"), [
    ("ppc64le", "2014", "manylinux_2_34", "zig cannot target glibc < 2.32 on ppc64le"),
    # zig reaches glibc 2.27, but auditwheel's oldest riscv64 policy is manylinux_2_31.
    ("riscv64", "2014", "manylinux_2_31", "zig cannot target glibc < 2.27 on riscv64"),
    ("ppc64le", "2_31", "manylinux_2_34", "__printfieee128"),
    ("aarch64", "2010", "manylinux_2_17", "zig targets glibc 2.17 at the oldest"),
])
def test_unreachable_baseline_is_one_line_naming_the_lowest(cpu: str, wanted: str,
                                                             lowest: str, why: str) -> None:
    with pytest.raises(ConfigError) as e:
        baseline.choose_route(_target(cpu), parse_baseline(wanted), TABLE, ARCHES)
    text = str(e.value)
    assert "\n" not in text
    glibc = parse_baseline(wanted).glibc
    assert text.startswith(f"{cpu}: cannot build for manylinux_{glibc[0]}_{glibc[1]}_")
    assert f"the lowest reachable baseline is {lowest}" in text and why in text


def test_a_baseline_auditwheel_has_no_policy_for() -> None:
    table = baseline.parse_table({"route": [{"family": "gcc", "glibc": "2.17",
                                             "cpus": ["riscv64"]}]}, Path("t.toml"), SPECS)
    with pytest.raises(ConfigError, match="no manylinux_2_17_riscv64 policy; the oldest for "
                                          "riscv64 is manylinux_2_31"):
        baseline.choose_route(_target("riscv64"), parse_baseline("2014"), table,
                              ARCHES)


def test_toolchain_picks_the_family_s_route() -> None:
    target = _target("aarch64")
    route = baseline.choose_route(target, None, TABLE, ARCHES, "zig")
    assert (route.family, route.glibc) == ("zig", "2.17")
    route = baseline.choose_route(target, None, TABLE, ARCHES, "clang")
    assert (route.family, route.sysroot) == ("clang", "bullseye")
    # A family and a baseline: that family's first route meeting it, or the family's lowest.
    assert baseline.choose_route(target, parse_baseline("2_31"), TABLE, ARCHES,
                                 "zig").family == "zig"
    with pytest.raises(ConfigError, match=r"^aarch64: cannot build for manylinux_2_17_aarch64 "
                                          r"\(glibc 2.17\) with clang; the lowest reachable "
                                          r"baseline is manylinux_2_31 \(clang \+ Debian "
                                          r"bullseye sysroot"):
        baseline.choose_route(target, parse_baseline("2014"), TABLE, ARCHES, "clang")
    with pytest.raises(ConfigError, match=r"s390x: no clang route in manylinux\.toml") as e:
        baseline.choose_route(_target("s390x"), None, TABLE, ARCHES, "clang")
    assert e.value.hint == "use --toolchain=gcc or zig"


def test_toolchain_setting_names_a_shipped_family(tmp_path: Path) -> None:
    targets = load_targets(["aarch64"], resources.toolchains_dir())
    with pytest.raises(ConfigError, match="toolchain 'icc' is not a compiler family") as e:
        portable.prepare(targets, "", tmp_path, "icc")
    assert e.value.hint == "use auto or one of: clang, gcc, zig"
    # gcc without a baseline is today's default: nothing chosen, nothing fetched.
    assert portable.prepare(targets, "", tmp_path, "gcc") == {}
    assert portable.choose(targets, "", "auto") == {}
    assert portable.choose(targets, "", "zig")["aarch64"][1].family == "zig"
    assert list(tmp_path.iterdir()) == []


def test_prepare_fails_before_fetching_anything(tmp_path: Path) -> None:
    targets = load_targets(["aarch64", "ppc64le"], resources.toolchains_dir())
    with pytest.raises(ConfigError, match="ppc64le: cannot build"):
        portable.prepare(targets, "2_31", tmp_path)  # aarch64 could: nothing is fetched
    assert list(tmp_path.iterdir()) == []
    assert portable.prepare(targets, "", tmp_path) == {}


def _needs(versions: dict[str, set[str]], libs: set[str] | None = None) -> manylinux.ElfNeeds:
    return manylinux.ElfNeeds(libraries=libs or {"libc.so.6"}, versions=versions)


def test_too_new_names_the_symbol_versions_and_libraries() -> None:
    ok = _needs({"GLIBC": {"2.17"}, "GLIBCXX": {"3.4.19"}, "CXXABI": {"1.3"}})
    assert manylinux.too_new(ok, "aarch64", "manylinux_2_17") == []
    bad = _needs({"GLIBC": {"2.17", "2.34", "2.32"}}, {"libc.so.6", "libfoo.so.1"})
    assert manylinux.too_new(bad, "aarch64", "manylinux_2_31") == [
        "libfoo.so.1", "GLIBC_2.32", "GLIBC_2.34"]
    cxx = _needs({"GLIBCXX": {"3.4.30"}})
    assert manylinux.too_new(cxx, "aarch64", "manylinux_2_31") == ["GLIBCXX_3.4.30"]


def test_check_outputs_names_the_file_and_symbol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policycheck, "_needs", lambda p: _needs({"GLIBC": {"2.34"}}))
    with pytest.raises(policycheck.PolicyError) as e:
        policycheck.check_outputs([Path("/o/cli/hello")], _target("aarch64"), "2_31")
    assert e.value.exit_code == 6
    assert str(e.value).startswith("/o/cli/hello needs GLIBC_2.34, newer than "
                                   "manylinux_2_31_aarch64 allows")
    policycheck.check_outputs([Path("/o/cli/hello")], _target("aarch64"), "")  # not asked


def test_an_image_holds_the_routes_of_every_reachable_cpu() -> None:
    targets = load_targets(["all"], resources.toolchains_dir())
    assert {cpu: r.family for cpu, (_, r) in portable.reachable(targets, "2014").items()} == {
        "aarch64": "zig", "armv7hf": "zig", "s390x": "zig"}
    assert {cpu: r.family for cpu, (_, r) in portable.reachable(targets, "2_31").items()} == {
        "aarch64": "clang", "armv7hf": "clang", "riscv64": "zig", "s390x": "zig"}
    assert portable.reachable(targets, "", "auto") == {}
    with pytest.raises(ConfigError, match="toolchain 'icc' is not a compiler family"):
        portable.reachable(targets, "", "icc")


def test_a_library_the_build_made_is_checked_not_refused(tmp_path: Path) -> None:
    """Bazel links a cc_test against its deps' shared libraries (RUNPATH $ORIGIN/…): such a
    library is the build's own, checked in turn; a system library off the policy's list,
    or a build library needing too new a glibc, still fails naming it."""
    from tests.wheels import make_elf

    target = _target("aarch64")
    solib = tmp_path / "bin" / "_solib_aarch64"
    solib.mkdir(parents=True)
    (tmp_path / "bin" / "app").mkdir()
    test = tmp_path / "bin" / "app" / "arch_test"
    test.write_bytes(make_elf(needed=("libapp_Slibarch.so", "libc.so.6"),
                              runpath="$ORIGIN/../_solib_aarch64:/usr/lib/x"))
    (tmp_path / "bin" / "app" / "libarch.so").write_bytes(make_elf())
    (solib / "libapp_Slibarch.so").symlink_to("../app/libarch.so")
    policycheck.check_outputs([test], target, "2014")
    # The build's own library needing more fails, named by its real path.
    (tmp_path / "bin" / "app" / "libarch.so").write_bytes(
        make_elf(versions=(("libc.so.6", ("GLIBC_2.17", "GLIBC_2.34")),)))
    with pytest.raises(policycheck.PolicyError, match=r"app/libarch\.so needs GLIBC_2\.34"):
        policycheck.check_outputs([test], target, "2014")
    # Not found through an $ORIGIN RUNPATH: a system library the policy does not allow.
    other = tmp_path / "bin" / "app" / "other"
    other.write_bytes(make_elf(needed=("libfoo.so.1", "libc.so.6"), runpath="/usr/lib/x"))
    with pytest.raises(policycheck.PolicyError, match=r"other needs libfoo\.so\.1"):
        policycheck.check_outputs([other], target, "2014")


def test_sysroot_routes_need_a_workspace_only_workspace_on_bazel_7(tmp_path: Path) -> None:
    """A sysroot comes as --override_repository, which Bazel 7 shows the main repository
    only in WORKSPACE mode: under MODULE.bazel the next route (zig) serves the baseline."""
    (tmp_path / "MODULE.bazel").write_text('module(name = "m")\n')
    assert not sysroot_routes_usable(tmp_path, 7)
    assert sysroot_routes_usable(tmp_path, 6)
    (tmp_path / "MODULE.bazel").unlink()
    (tmp_path / "WORKSPACE").write_text("")
    assert sysroot_routes_usable(tmp_path, 7)
    targets = load_targets(["armv7hf"], resources.toolchains_dir())
    assert portable.choose(targets, "2_31", sysroots=False)["armv7hf"][1].family == "zig"
    assert portable.choose(targets, "2_31")["armv7hf"][1].family == "clang"
    with pytest.raises(ConfigError, match=r"no clang route in manylinux\.toml usable here"):
        portable.choose(targets, "", "clang", sysroots=False)


def test_the_sysroot_s_own_files_are_not_build_outputs(tmp_path: Path) -> None:
    """`//...` includes the rendered package's filegroups, so Bazel lists the sysroot's
    libraries among the outputs (through external/<repo> links): not the build's, not
    checked (bullseye's libSegFault.so needs GLIBC_PRIVATE)."""
    import dataclasses

    from cross_compiler.bazel.localbuild import _toolchain_file

    root = tmp_path / "sysroot"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "libSegFault.so").write_bytes(b"\x7fELF")
    external = tmp_path / "execroot" / "external"
    external.mkdir(parents=True)
    (external / "cross_compiler_sysroot_bullseye_aarch64").symlink_to(root)
    target = dataclasses.replace(_target("aarch64"), sysroot=str(root))
    assert _toolchain_file(root / "lib" / "libSegFault.so", target)
    assert _toolchain_file(external / "cross_compiler_sysroot_bullseye_aarch64" / "lib"
                           / "libSegFault.so", target)
    assert not _toolchain_file(tmp_path / "execroot" / "bazel-out" / "app" / "hello", target)
    assert not _toolchain_file(root / "lib" / "libSegFault.so", _target("aarch64"))


def test_a_sysroot_route_on_bazel_7_turns_bzlmod_off(tmp_path: Path) -> None:
    """Bazel 7 enables bzlmod even for a WORKSPACE-only workspace, which hides the sysroot
    repository: with a sysroot route the build says --noenable_bzlmod (Bazel 4: nothing)."""
    import dataclasses

    from cross_compiler.bazel.flags import BazelVersion
    from cross_compiler.bazel.localbuild import BazelSetup
    from cross_compiler.toolchain.sysroot import Sysroot

    target = _target("aarch64")
    route = baseline.Route("clang", "bullseye", "2.31")
    choice = portable.Choice(target, route, parse_baseline("2_31"),
                             families.default_flags(target), "cross_compiler_sysroot_x",
                             Sysroot(tmp_path, "bullseye", "arm64", {}))
    seven = BazelSetup("bazel", BazelVersion(7, 7, 1), {})
    assert "--noenable_bzlmod" in with_overrides(seven, {"aarch64": choice}).family_flags
    four = dataclasses.replace(seven, version=BazelVersion(4, 2, 3))
    assert "--noenable_bzlmod" not in with_overrides(four,
                                                              {"aarch64": choice}).family_flags
    zig = dataclasses.replace(choice, repository="", sysroot=None)
    assert "--noenable_bzlmod" not in with_overrides(seven, {"aarch64": zig}).family_flags
