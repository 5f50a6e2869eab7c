"""The policy a learner publishes, in numpy (docs/protocol.md §8, "The parameter bytes of each
model family"): the forward pass, sampling and behaviour log-probs, as Tributary's own worker
computes them (float32 throughout)."""
import math

import numpy as np

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class ModelError(Exception):
    """A model description or parameter bytes this worker cannot act with."""


class Policy:
    """An `mlp-actor-critic` network: `forward` gives the raw outputs [rows, P + 1] (the policy's P
    outputs, then the value); `act` samples actions with their log-probs."""

    def __init__(self, model, parameters):
        if model.family != "mlp-actor-critic":
            raise ModelError(f"model family {model.family!r}: this worker acts with 'mlp-actor-critic' only")
        if model.head not in ("categorical", "gaussian") or model.activation not in ("tanh", "relu"):
            raise ModelError(f"model head {model.head!r} / activation {model.activation!r} not supported")
        if model.observation_size == 0 or model.action_size == 0:
            raise ModelError("model with no observation or action size")
        self.head = model.head
        self.activation = model.activation
        self.action_size = int(model.action_size)
        self.observation_size = int(model.observation_size)
        p = self.action_size * (2 if self.head == "gaussian" else 1)
        sizes = [self.observation_size] + [int(h) for h in model.hidden_sizes] + [p + 1]
        floats = np.frombuffer(bytes(parameters), dtype="<f4")
        need = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
        if floats.size != need:
            raise ModelError(f"{floats.size} parameters for a model of {need} ({sizes})")
        self.layers = []
        at = 0
        for n, m in zip(sizes, sizes[1:]):
            w = floats[at:at + n * m].reshape(n, m)  # row-major [in, out]
            b = floats[at + n * m:at + n * m + m]
            self.layers.append((w, b))
            at += n * m + m
        self.policy_outputs = p

    def forward(self, observations):
        """Raw outputs [rows, P + 1] for observations [rows, observation_size]."""
        h = np.asarray(observations, dtype=np.float32).reshape(-1, self.observation_size)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.tanh(h) if self.activation == "tanh" else np.maximum(h, 0)
        return h.astype(np.float32, copy=False)

    def values(self, observations):
        return self.forward(observations)[:, -1]

    def log_probs(self, observations):
        """Categorical: log-softmax of the logits [rows, actions]."""
        logits = self.forward(observations)[:, :self.action_size]
        return logits - logsumexp(logits)

    def gaussian(self, observations):
        """Gaussian: means and clamped log-stds [rows, d]."""
        out = self.forward(observations)
        d = self.action_size
        return out[:, :d], np.clip(out[:, d:2 * d], LOG_STD_MIN, LOG_STD_MAX)

    def act(self, observations, rng, greedy=False):
        """(actions, behaviour log-probs, logits or None): int32 [rows] for a categorical head,
        float32 [rows, d] (unclipped samples) for a Gaussian one."""
        out = self.forward(observations)
        if self.head == "categorical":
            logits = out[:, :self.action_size]
            logp = logits - logsumexp(logits)
            if greedy:
                actions = logp.argmax(axis=1)
            else:
                # Inverse CDF of the softmax, one uniform per row.
                cdf = np.cumsum(np.exp(logp.astype(np.float64)), axis=1)
                u = rng.random(len(cdf))[:, None] * cdf[:, -1:]
                actions = np.minimum((cdf < u).sum(axis=1), self.action_size - 1)
            actions = actions.astype(np.int32)
            return actions, logp[np.arange(len(actions)), actions].astype(np.float32), logits.astype(np.float32)
        mean, log_std = self.gaussian(observations)
        std = np.exp(log_std)
        actions = mean if greedy else mean + std * rng.standard_normal(mean.shape).astype(np.float32)
        return actions.astype(np.float32), gaussian_log_prob(mean, log_std, actions), None


def logsumexp(x):
    m = x.max(axis=1, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def gaussian_log_prob(mean, log_std, actions):
    """Σ_i −½((a_i − m_i)/exp(s_i))² − s_i − ½ log 2π, per row (log-stds already clamped)."""
    z = (actions - mean) / np.exp(log_std)
    return (-0.5 * z * z - log_std - HALF_LOG_2PI).sum(axis=1).astype(np.float32)
