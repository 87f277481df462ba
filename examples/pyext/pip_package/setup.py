"""Packages the prebuilt extension, TensorFlow-style: the wheel is platform-specific."""

from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(
    name="crossdemo",
    version="1.0.0",
    description="cross_compiler's example: a C++ extension built by Bazel",
    packages=["crossdemo"],
    package_data={"crossdemo": ["_native.so"]},
    distclass=BinaryDistribution,
    python_requires=">=3.11",
)
