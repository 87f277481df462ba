"""A binary wheel around a prebuilt extension: tagged by the interpreter that runs this."""

from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(
    name="plain",
    version="1.0",
    packages=["plain"],
    package_data={"plain": ["_plain.so"]},
    distclass=BinaryDistribution,
)
