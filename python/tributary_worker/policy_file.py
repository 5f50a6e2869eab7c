"""A trained policy from a learner's files, for evaluation in Python (docs/operations.md,
"Policies as files"): a checkpoint (`RUN_DIR/checkpoints/*.ckpt`), or a run directory (its newest
intact checkpoint, `best.ckpt` with `best=True`, or `model.json` + `final_parameters.bin`).

    policy = tributary_worker.load_policy("runs/run-1a2b3c4d")
    action = policy.act(observation)            # one observation, or a batch [rows, *shape]
"""
import base64
import hashlib
import json
import pathlib
import types

import numpy as np

from .model import ModelError, Policy

CHECKPOINT_MAGIC = b"TRIBUTARY-CHECKPOINT "
CHECKPOINT_FORMAT = 1


class PolicyFileError(Exception):
    """A path that holds no policy this SDK can read, with the reason."""


class LoadedPolicy:
    """A numpy policy: `act(obs)` samples as the workers do (`greedy=True`: the most likely
    action, or the mean); `policy` is the underlying `Policy` (forward, values, log-probs).
    `env_id`, `version` (policy version) and `source` (the file read) say what it is."""

    def __init__(self, policy, env_id, version, source, seed=None):
        self.policy = policy
        self.env_id = env_id
        self.version = version
        self.source = source
        self.rng = np.random.default_rng(seed)

    def act(self, observation, greedy=False):
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.size == self.policy.observation_size
        actions, _, _ = self.policy.act(obs.reshape(-1, self.policy.observation_size), self.rng, greedy=greedy)
        return actions[0] if single else actions

    def __repr__(self):
        return f"LoadedPolicy({self.env_id!r}, version {self.version}, {self.source})"


def load_policy(path, best=False, seed=None):
    """The policy at `path` (a checkpoint file or a run directory) as a `LoadedPolicy`."""
    path = pathlib.Path(path)
    if not path.exists():
        raise PolicyFileError(f"{path}: no such file or directory")
    if path.is_file():
        return _from_checkpoint(path, seed)
    checkpoints = path / "checkpoints"
    if best:
        if not (checkpoints / "best.ckpt").is_file():
            raise PolicyFileError(f"{checkpoints / 'best.ckpt'}: no best checkpoint (the learner writes one when it evaluates: --eval-seconds)")
        return _from_checkpoint(checkpoints / "best.ckpt", seed)
    reasons = []
    for file in sorted(checkpoints.glob("checkpoint-*.ckpt"), reverse=True):
        try:
            return _from_checkpoint(file, seed)
        except PolicyFileError as e:  # torn or corrupt: the next newest, as the learner does
            reasons.append(str(e))
    model, params = path / "model.json", path / "final_parameters.bin"
    if model.is_file() and params.is_file():
        spec = json.loads(model.read_text())
        config = path / "config.json"
        env_id = json.loads(config.read_text()).get("env_id") if config.is_file() else None
        return LoadedPolicy(_policy(types.SimpleNamespace(**spec), params.read_bytes(), str(params)), env_id, None, str(params), seed)
    raise PolicyFileError(f"{path}: no intact checkpoint and no model.json + final_parameters.bin" + (f" ({'; '.join(reasons)})" if reasons else ""))


def _policy(model, parameters, name):
    try:
        return Policy(model, parameters)
    except ModelError as e:
        raise PolicyFileError(f"{name}: {e}") from e


def _from_checkpoint(file, seed):
    """Format 1: a magic line, `sha256 <hex of the body>`, then the body as JSON (float arrays
    base64 of their little-endian bytes); see Sources/Learner/Checkpoint.swift."""
    data = file.read_bytes()
    parts = data.split(b"\n", 2)
    if len(parts) < 3 or not parts[0].startswith(CHECKPOINT_MAGIC):
        raise PolicyFileError(f"{file}: not a Tributary checkpoint")
    if parts[0] != CHECKPOINT_MAGIC + str(CHECKPOINT_FORMAT).encode():
        raise PolicyFileError(f"{file}: checkpoint format {parts[0][len(CHECKPOINT_MAGIC):].decode(errors='replace')}, this SDK reads {CHECKPOINT_FORMAT}")
    if parts[1] != b"sha256 " + hashlib.sha256(parts[2]).hexdigest().encode():
        raise PolicyFileError(f"{file}: digest mismatch ({len(parts[2])} bytes of body; truncated or corrupt)")
    body = json.loads(parts[2])
    trainer = body["trainer"]
    settings = trainer["settings"]
    (head, size), = trainer["head"].items()
    action_size = size.get("actions", size.get("dimensions"))
    model = types.SimpleNamespace(family="mlp-actor-critic", hidden_sizes=settings["hidden"], activation=settings["activation"],
                                  head=head, observation_size=trainer["observationSize"], action_size=action_size)
    parameters = base64.b64decode(trainer["parameters"])
    env_id = body.get("config", {}).get("envID")
    return LoadedPolicy(_policy(model, parameters, str(file)), env_id, trainer["version"], str(file), seed)
