# DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary_pb2.py
# (protoc 3.21.12).
"""The messages of Sources/Protocol/tributary.proto (package tributary.v1)."""
from . import tributary_pb2 as pb

# SHA-256 of the tributary.proto the code was generated from.
SCHEMA_SHA256 = "72a34accd39d841d35c7c62d7b96892978337dbcec686f0eec3d221a69f54d8e"
