"""The workspace's own rules_license: only its version matters to the test."""

VERSION = "1.0.0-own-pin"
