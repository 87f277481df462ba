"""bazel_features' own idea of the version, as a header."""

load("@bazel_features_version//:version.bzl", "version")

def features_header(name):
    native.genrule(
        name = name,
        outs = ["features.h"],
        cmd = "echo '#define FEATURES_BAZEL_VERSION \"%s\"' > $@" % version,
    )
