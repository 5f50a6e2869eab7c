"""Frames (docs/protocol.md §2-3): a 4-byte header ('T' 'R' version type), the protobuf body,
then tensor frames, each described by a Tensor in the body."""
import numpy as np

from ._proto import pb

PROTOCOL_VERSION = 1
MAGIC = b"TR"

TYPES = {
    1: pb.Hello, 2: pb.Welcome, 3: pb.TrajectoryChunk, 4: pb.Credit, 5: pb.Reject, 6: pb.Heartbeat,
    7: pb.Goodbye, 8: pb.WeightsAvailable, 9: pb.GetWeights, 10: pb.Weights, 11: pb.StatusRequest,
    12: pb.StatusReply,
}
CODES = {cls: code for code, cls in TYPES.items()}
# What a SUB socket subscribes to for WeightsAvailable (version 1, type 8).
WEIGHTS_AVAILABLE_PREFIX = bytes([0x54, 0x52, PROTOCOL_VERSION, 8])

DTYPES = {
    np.dtype("<f4"): pb.DTYPE_FLOAT32, np.dtype("<f8"): pb.DTYPE_FLOAT64, np.dtype("<i4"): pb.DTYPE_INT32,
    np.dtype("<i8"): pb.DTYPE_INT64, np.dtype("u1"): pb.DTYPE_UINT8, np.dtype("<u8"): pb.DTYPE_UINT64,
}
NUMPY = {code: dtype for dtype, code in DTYPES.items()}


class ProtocolError(Exception):
    """A message that does not follow docs/protocol.md."""


def encode(message, tensors=()):
    """The frames of one message: header, body, then the tensor frames (bytes-like)."""
    code = CODES.get(type(message))
    if code is None:
        raise ProtocolError(f"{type(message).__name__} is not a Tributary message")
    return [MAGIC + bytes([PROTOCOL_VERSION, code]), message.SerializeToString(), *tensors]


def decode(frames):
    """(message, tensor frames) of a received multipart message."""
    if len(frames) < 2:
        raise ProtocolError(f"a message has at least 2 frames, not {len(frames)}")
    header = bytes(frames[0])
    if len(header) != 4 or header[:2] != MAGIC:
        raise ProtocolError(f"bad header {header!r}")
    if header[2] != PROTOCOL_VERSION:
        raise ProtocolError(f"header version {header[2]}, this worker speaks {PROTOCOL_VERSION}")
    cls = TYPES.get(header[3])
    if cls is None:
        raise ProtocolError(f"unknown message type {header[3]}")
    message = cls()
    message.ParseFromString(bytes(frames[1]))
    return message, list(frames[2:])


SHARED_TENSOR_LIMIT = 32 * 1024
"""Tensors below this many bytes share one frame when the learner's Welcome offers
shared_tensor_frames (the Swift worker's limit too)."""


class TensorFrames:
    """Collects the tensors of one message: `add` checks an array's dtype and shape against what
    the protocol needs, keeps its bytes (little-endian, C order) and returns its Tensor
    description, whose `frame` is its index among the message's tensor frames and `offset` its
    first byte there. With `share_below` > 0 (only for a learner whose Welcome says
    shared_tensor_frames), tensors smaller than that many bytes are packed back to back into one
    shared frame; larger ones keep a frame of their own."""

    def __init__(self, share_below=0):
        self._frames = []
        self._share_below = share_below
        self._shared = None
        self._shared_index = None

    @property
    def frames(self):
        if self._shared_index is None:
            return self._frames
        frames = list(self._frames)
        frames[self._shared_index] = b"".join(self._shared)
        return frames

    def add(self, array, dtype, shape):
        want = np.dtype(dtype)
        if want not in DTYPES:
            raise ProtocolError(f"dtype {want} is not a protocol dtype")
        array = np.asarray(array)
        if array.dtype != want:
            raise ProtocolError(f"tensor of dtype {array.dtype}, the protocol needs {want}")
        if tuple(array.shape) != tuple(int(d) for d in shape):
            raise ProtocolError(f"tensor of shape {tuple(array.shape)}, the protocol needs {tuple(shape)}")
        data = np.ascontiguousarray(array).tobytes()
        if len(data) < self._share_below:
            if self._shared_index is None:
                self._shared_index, self._shared, self._shared_bytes = len(self._frames), [], 0
                self._frames.append(b"")
            t = pb.Tensor(dtype=DTYPES[want], shape=[int(d) for d in shape], frame=self._shared_index,
                          offset=self._shared_bytes)
            self._shared.append(data)
            self._shared_bytes += len(data)
            return t
        t = pb.Tensor(dtype=DTYPES[want], shape=[int(d) for d in shape], frame=len(self._frames))
        self._frames.append(data)
        return t


def tensor_array(t, frames, shared=False):
    """The array a Tensor describes, read in place from its frame: the whole frame, or with
    `shared` (a message whose tensors may share frames) its bytes from `t.offset`."""
    dtype = NUMPY.get(t.dtype)
    if dtype is None or t.frame >= len(frames):
        raise ProtocolError(f"tensor with dtype {t.dtype} and frame {t.frame} of {len(frames)}")
    buf = memoryview(frames[t.frame]).cast("B")
    count = int(np.prod(t.shape)) if len(t.shape) else 1
    size = count * dtype.itemsize
    if not shared and (t.offset != 0 or buf.nbytes != size):
        raise ProtocolError(f"tensor frame of {buf.nbytes} bytes, shape {list(t.shape)} needs {size}")
    if t.offset + size > buf.nbytes:
        raise ProtocolError(f"tensor of {size} bytes at offset {t.offset} of a {buf.nbytes}-byte frame")
    return np.frombuffer(buf[t.offset:t.offset + size], dtype=dtype).reshape(tuple(t.shape))
