"""Bazel: flags per version, offline settings, the local build, its log, the header
proof and runs under qemu."""
