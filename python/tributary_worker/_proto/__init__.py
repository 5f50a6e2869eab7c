# DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary_pb2.py
# (protoc 3.21.12).
"""The messages of Sources/Protocol/tributary.proto (package tributary.v1)."""
from . import tributary_pb2 as pb

# SHA-256 of the tributary.proto the code was generated from.
SCHEMA_SHA256 = "99c2ae3d50d2a506acf324d6bac11cd3565845016d7d3e59e50f5337d15d0d3e"
