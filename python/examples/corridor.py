"""A small environment Tributary has never seen, to train from Python (python/README.md):

    learner --env Corridor-v0 --observation-shape 2 --action-space discrete:2 \
        --max-episode-steps 32 --target-return 0.9
    PYTHONPATH=python/examples tributary-worker --env corridor:Corridor --num-envs 16

The agent starts in the middle of a corridor of 9 cells; a cue in the observation says which end
holds the exit and which the trap. Reaching the exit pays 1, the trap −1, and either ends the
episode; every step costs 0.01, and an episode is cut after 32 steps. Observation: (position in
−1…1, cue −1 or +1). Actions: 0 left, 1 right. The best return is 0.96 (four steps); a policy
that ignores the cue averages about −0.1.
"""
import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    env_id = "Corridor-v0"  # the id the worker sends; the learner's --env must be the same
    max_episode_steps = 32
    cells = 9

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = self.cue = self.steps = 0

    def _observation(self):
        return np.array([2.0 * self.position / (self.cells - 1) - 1.0, self.cue], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.steps = self.cells // 2, 0
        self.cue = 1.0 if self.np_random.random() < 0.5 else -1.0
        return self._observation(), {}

    def step(self, action):
        self.position = min(self.cells - 1, max(0, self.position + (1 if int(action) == 1 else -1)))
        self.steps += 1
        exit_cell, trap_cell = (self.cells - 1, 0) if self.cue > 0 else (0, self.cells - 1)
        terminated = self.position in (exit_cell, trap_cell)
        reward = (1.0 if self.position == exit_cell else -1.0 if self.position == trap_cell else 0.0) - 0.01
        truncated = not terminated and self.steps >= self.max_episode_steps
        return self._observation(), reward, terminated, truncated, {}
