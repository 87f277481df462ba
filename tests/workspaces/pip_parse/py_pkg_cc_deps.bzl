"""The C headers of a PyPI package that pip_parse installed, as a cc dependency (the pattern
of TensorFlow's py_pkg_cc_deps): the package's header files under the given include
directories, those directories as system includes."""

def _py_pkg_cc_deps_impl(ctx):
    headers = []
    includes = {}
    for f in ctx.attr.pkg[DefaultInfo].default_runfiles.files.to_list():
        repo = "/".join([p for p in (f.root.path, f.owner.workspace_root) if p])
        for include in ctx.attr.includes:
            directory = "%s/site-packages/%s" % (repo, include)
            if f.path.startswith(directory + "/") and f.extension == "h":
                headers.append(f)
                includes[directory] = True
    if not headers:
        fail("%s has no headers under %s" % (ctx.attr.pkg.label, ctx.attr.includes))

    context = cc_common.create_compilation_context(
        headers = depset(headers),
        system_includes = depset(includes.keys()),
    )

    # CcInfo is Bazel 7's own (Debian's offline Bazel has no @rules_cc to load it from).
    # buildifier: disable=native-cc-info
    return [CcInfo(compilation_context = context)]

py_pkg_cc_deps = rule(
    implementation = _py_pkg_cc_deps_impl,
    attrs = {
        "includes": attr.string_list(mandatory = True),
        "pkg": attr.label(mandatory = True),
    },
    provides = [CcInfo],  # buildifier: disable=native-cc-info
)
