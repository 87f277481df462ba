"""A repository rule in the style of python_configure: symlink a Python's include dir."""

def _host_python_impl(ctx):
    prefix = ctx.os.environ.get("HOST_PYTHON_PREFIX", "")
    if not prefix:
        fail("set --repo_env=HOST_PYTHON_PREFIX=<a Python install prefix>")
    include = ctx.path(prefix + "/include")
    dirs = [d for d in include.readdir() if d.basename.startswith("python3")]
    if not dirs:
        fail("no include/python3.* under " + prefix)
    ctx.symlink(dirs[0], "python_include")
    ctx.file("BUILD.bazel", """
cc_library(
    name = "headers",
    hdrs = glob(["python_include/**/*.h"]),
    includes = ["python_include"],
    visibility = ["//visibility:public"],
)
""")

host_python = repository_rule(
    implementation = _host_python_impl,
    environ = ["HOST_PYTHON_PREFIX"],
    local = True,
)
