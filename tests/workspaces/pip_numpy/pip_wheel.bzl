"""A repository holding one PyPI wheel, downloaded by pip and unpacked, with its C headers
as a cc_library (numpy 1.x keeps them in numpy/core/include, numpy 2.x in numpy/_core)."""

def _pip_wheel_repository_impl(ctx):
    python = ctx.which("python3")
    if not python:
        fail("no python3 on PATH")
    result = ctx.execute(
        [
            python,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            "wheels",
            ctx.attr.requirement,
        ],
        quiet = False,
    )
    if result.return_code != 0:
        fail("pip download %s failed:\n%s" % (ctx.attr.requirement, result.stderr))
    wheels = [f for f in ctx.path("wheels").readdir() if f.basename.endswith(".whl")]
    if len(wheels) != 1:
        fail("expected one wheel, got %s" % wheels)

    # A wheel is a zip; Bazel < 6 has no extract(type = ...), so name it as one.
    ctx.symlink(wheels[0], "wheel.zip")
    ctx.extract("wheel.zip", output = "site-packages")
    ctx.file("BUILD.bazel", """
cc_library(
    name = "headers",
    hdrs = glob([
        "site-packages/numpy/core/include/**/*.h",
        "site-packages/numpy/_core/include/**/*.h",
    ]),
    includes = [
        "site-packages/numpy/_core/include",
        "site-packages/numpy/core/include",
    ],
    visibility = ["//visibility:public"],
)
""")

pip_wheel_repository = repository_rule(
    implementation = _pip_wheel_repository_impl,
    attrs = {"requirement": attr.string(mandatory = True)},
    environ = ["PATH", "CROSS_COMPILER_WHEELHOUSES"],
)
