"""Wheels: zip I/O, tags, ELF checks, manylinux policy, retag, smoke test, packaging."""
