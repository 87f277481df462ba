"""A repository rule that writes what native.bazel_version says into a header."""

def _impl(rctx):
    rctx.file("seen.h", "#define SEEN_BAZEL_VERSION \"%s\"\n" % native.bazel_version)
    rctx.file("BUILD", 'cc_library(name = "seen", hdrs = ["seen.h"], ' +
                       'visibility = ["//visibility:public"])\n')

version_header = repository_rule(_impl, local = True)
