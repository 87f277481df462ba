"""A structure-aware wheel fuzzer: seed wheels, mutation families, and a runner that puts
each case through retag and test-wheel's archive check and classifies what happened."""
