"""Python headers from whatever python3 is first on PATH, via sysconfig."""

def _impl(ctx):
    python = ctx.which("python3")
    if not python:
        fail("no python3 on PATH")
    result = ctx.execute([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"])
    if result.return_code != 0:
        fail("python3 failed: " + result.stderr)
    ctx.symlink(result.stdout.strip(), "include")
    ctx.file("BUILD.bazel", """
cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
    visibility = ["//visibility:public"],
)
""")

python_headers_from_path = repository_rule(implementation = _impl, environ = ["PATH"])

def _numpy_impl(ctx):
    python = ctx.which("python3")
    if not python:
        fail("no python3 on PATH")
    result = ctx.execute([python, "-c", "import numpy; print(numpy.get_include())"])
    if result.return_code != 0:
        fail("numpy.get_include() failed: " + result.stderr)
    ctx.symlink(result.stdout.strip(), "include")
    ctx.file("BUILD.bazel", """
cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
    visibility = ["//visibility:public"],
)
""")

numpy_headers_from_path = repository_rule(implementation = _numpy_impl, environ = ["PATH"])
