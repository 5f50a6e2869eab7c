# DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary_pb2.py
# (protoc 3.21.12).
"""The messages of Sources/Protocol/tributary.proto (package tributary.v1)."""
from . import tributary_pb2 as pb

# SHA-256 of the tributary.proto the code was generated from.
SCHEMA_SHA256 = "65ef33589799db40e4af3859657b4ef301aa80e149dc3d39700430fcde2ea3fb"
