#!/usr/bin/env python3
"""Reads the TensorBoard event files of one run directory with TensorBoard's own reader and
prints their scalars as JSON: {"tag": [[step, value], ...], ...}, steps in file order. With
--text, the text summaries instead: {"tag": [[step, "text"], ...], ...}.

    "$(scripts/tensorboard-venv.sh)" scripts/read-tfevents.py [--text] runs/<run-id>

Needs the pip package `tensorboard` (scripts/tensorboard-venv.sh makes a venv with it).
Exits non-zero when the directory holds no event file, or TensorBoard reports a damaged one.
"""
import glob
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow


def check_file(path):
    """Every record's framing and CRCs, strictly: TensorBoard's loader stops quietly at a bad
    record (it may be a live file's incomplete tail), which would hide a writer bug here."""
    reader = pywrap_tensorflow.PyRecordReader_New(path, 0, None, None)
    first = True
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return
        except errors.DataLossError as e:
            sys.exit(f"damaged event file: {e}")
        if first:
            event = event_pb2.Event.FromString(reader.record())
            if event.file_version != "brain.Event:2":
                sys.exit(f"{path}: first event has file_version {event.file_version!r}")
            first = False


def main():
    args = sys.argv[1:]
    text = "--text" in args
    args = [a for a in args if a != "--text"]
    if len(args) != 1:
        sys.exit("usage: read-tfevents.py [--text] RUN_DIR")
    run = args[0]
    files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not files:
        sys.exit(f"no events.out.tfevents.* file in {run}")
    for path in files:
        check_file(path)
    # size_guidance 0: keep every scalar (the default samples down to 10,000 per tag).
    acc = event_accumulator.EventAccumulator(
        run, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    acc.Reload()
    out = {}
    if text:
        for tag in sorted(acc.Tags()["tensors"]):
            if acc.SummaryMetadata(tag).plugin_data.plugin_name != "text":
                continue
            out[tag] = [[e.step, b"".join(e.tensor_proto.string_val).decode()] for e in acc.Tensors(tag)]
    else:
        for tag in sorted(acc.Tags()["scalars"]):
            out[tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
    json.dump(out, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
