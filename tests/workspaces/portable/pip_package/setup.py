"""Packages the prebuilt extension: the wheel is platform-specific."""

from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(
    name="portable",
    version="1.0.0",
    description="cross_compiler's --manylinux test workspace",
    packages=["portable"],
    package_data={"portable": ["_portable.so"]},
    distclass=BinaryDistribution,
)
