"""The builder image, the container request and the engine (docker-py)."""
