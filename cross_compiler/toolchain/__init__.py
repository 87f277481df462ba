"""The target toolchain: targets, suites, compiler families, sysroots, glibc baselines,
probing and the rendered Bazel package."""
