# DO NOT EDIT. Written by scripts/generate-protos.sh together with tributary_pb2.py
# (protoc 3.21.12).
"""The messages of Sources/Protocol/tributary.proto (package tributary.v1)."""
from . import tributary_pb2 as pb

# SHA-256 of the tributary.proto the code was generated from.
SCHEMA_SHA256 = "70162e225813c78fa46e96d7b75aa50097a24b0c7646363e05f3e2f2beb61604"
