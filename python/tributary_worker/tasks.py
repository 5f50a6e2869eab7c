"""The learner's verifiable-reward sequence tasks (docs/protocol.md §8, "Sequence tasks";
docs/group-methods.md), as a `VectorEnv` whose K copies answer one prompt together: one chunk
(T = the answer length) is one group, sent with `group_id` and `prompt_id`."""
import itertools
import os

import numpy as np

from .envs import VectorEnv


def _reach_apply(start, ops):
    v = start
    for op in ops:
        v = v + 1 if op == 0 else v * 2 if op == 1 else v - 1
    return v


def _reach_pairs():
    pairs = []
    for start in range(10):
        ends = {_reach_apply(start, ops) for ops in itertools.product(range(3), repeat=4)}
        pairs += [(start, t) for t in range(64) if t in ends]
    return pairs


class Task:
    """A task as protocol.md §8 defines it: prompt slots (one one-hot block each), L answer
    tokens from a vocabulary of V, an exact-match verifier."""

    def __init__(self, task_id, slot_widths, length, vocabulary, count, prompt, correct):
        self.id, self.slot_widths, self.length, self.vocabulary = task_id, slot_widths, length, vocabulary
        self.count, self.prompt, self.correct = count, prompt, correct
        self.observation_size = sum(slot_widths) + length * vocabulary + length

    def encode(self, prompt, answer, position):
        x = np.zeros(self.observation_size, dtype=np.float32)
        o = 0
        for token, width in zip(prompt, self.slot_widths):
            x[o + token] = 1
            o += width
        for j, token in enumerate(answer[:position]):
            x[o + j * self.vocabulary + token] = 1
        o += self.length * self.vocabulary
        if position < self.length:
            x[o + position] = 1
        return x


def _add(a, b):
    return a + b


TASKS = {
    "addrev": Task("addrev", [10, 10], 2, 10, 100, lambda i: (i // 10, i % 10),
                   lambda p, ans: list(ans) == [(p[0] + p[1]) % 10, (p[0] + p[1]) // 10]),
    "add": Task("add", [10, 10], 2, 10, 100, lambda i: (i // 10, i % 10),
                lambda p, ans: list(ans) == [(p[0] + p[1]) // 10, (p[0] + p[1]) % 10]),
    "add3": Task("add3", [10] * 6, 4, 10, 1_000_000,
                 lambda i: (i // 1000 // 100, i // 1000 // 10 % 10, i // 1000 % 10, i % 1000 // 100, i % 1000 // 10 % 10, i % 10),
                 lambda p, ans: list(ans) == [int(c) for c in f"{(p[0] * 100 + p[1] * 10 + p[2]) + (p[3] * 100 + p[4] * 10 + p[5]):04d}"]),
}
_PAIRS = _reach_pairs()
TASKS["reach"] = Task("reach", [10, 64], 4, 3, len(_PAIRS), lambda i: _PAIRS[i], lambda p, ans: _reach_apply(p[0], ans) == p[1])


class SequenceTaskEnv(VectorEnv):
    """K answers to one prompt, stepped token by token: every copy ends its episode at the L-th
    token (terminated, reward 1 for a correct answer), and then all K start the next prompt.
    `chunk_group()` names the group the next chunk holds (the worker asks at each chunk's start;
    with T = L a chunk is exactly one group)."""

    def __init__(self, task_id, num_envs=8, seed=None):
        if task_id not in TASKS:
            raise ValueError(f"unknown sequence task {task_id}; known: {', '.join(TASKS)}")
        self.task = TASKS[task_id]
        self.env_id, self.num_envs = task_id, num_envs
        self.observation_shape = (self.task.observation_size,)
        self.num_actions, self.action_shape = self.task.vocabulary, ()
        self.rng = np.random.default_rng(seed)
        self.groups = 0
        self.salt = int.from_bytes(os.urandom(8), "little")

    def _start(self):
        self.prompt_index = int(self.rng.integers(self.task.count))
        self.prompt = self.task.prompt(self.prompt_index)
        self.answers = [[] for _ in range(self.num_envs)]
        self.groups += 1
        self.group_id = (self.salt + self.groups * 0x9E3779B97F4A7C15) % (1 << 64)
        return self._observations(0)

    def _observations(self, position):
        return np.stack([self.task.encode(self.prompt, a, position) for a in self.answers])

    def chunk_group(self):
        return self.group_id, f"{self.task.id}:{self.prompt_index}"

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        return self._start()

    def step(self, actions):
        for a, tok in zip(self.answers, np.asarray(actions).reshape(-1)):
            a.append(int(tok))
        position = len(self.answers[0])
        done = position >= self.task.length
        rewards = np.array([float(done and self.task.correct(self.prompt, a)) for a in self.answers], dtype=np.float32)
        terminated = np.full(self.num_envs, done)
        truncated = np.zeros(self.num_envs, dtype=bool)
        if done:
            finals = {b: f for b, f in enumerate(self._observations(position))}
            return self._start(), rewards, terminated, truncated, finals
        return self._observations(position), rewards, terminated, truncated, {}
