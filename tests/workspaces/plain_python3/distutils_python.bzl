"""Python headers where `python3 -c 'from distutils import sysconfig'` says they are."""

def _impl(ctx):
    python = ctx.which("python3")
    if not python:
        fail("no python3 on PATH")
    result = ctx.execute([
        python,
        "-c",
        "from distutils import sysconfig; print(sysconfig.get_python_inc())",
    ])
    if result.return_code != 0:
        fail("distutils.sysconfig failed: " + result.stderr)
    ctx.symlink(result.stdout.strip(), "include")
    ctx.file("BUILD.bazel", """
cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
    visibility = ["//visibility:public"],
)
""")

distutils_python = repository_rule(implementation = _impl, environ = ["PATH"])
