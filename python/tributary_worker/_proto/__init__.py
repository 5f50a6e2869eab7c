# DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary_pb2.py
# (protoc 3.21.12).
"""The messages of Sources/Protocol/tributary.proto (package tributary.v1)."""
from . import tributary_pb2 as pb

# SHA-256 of the tributary.proto the code was generated from.
SCHEMA_SHA256 = "ead2ed0193d8401594b2cca1aba185a800ee8d490a342f37d6f107bdf6369d17"
