#!/usr/bin/env python3
"""Writes the environment parity fixtures that EnvironmentsTests replays.

Run by hand (not in CI) with gymnasium from PyPI:
    python3 -m venv .venv-gym && .venv-gym/bin/pip install gymnasium numpy
    .venv-gym/bin/python scripts/env_fixtures.py

For each environment and seed it records gymnasium's exact internal start state (float64),
a fixed action sequence, and every observation, reward, terminated and truncated flag of one
full episode (to termination or the time limit). The Swift tests set the same start state,
replay the actions and compare everything to 1e-5.
"""
import json
import pathlib

import gymnasium as gym
import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "EnvironmentsTests" / "Fixtures"
ENVS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"]
SEEDS = [0, 1, 2]


def actions_for(env, rng, n):
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        return [int(a) for a in rng.integers(0, space.n, size=n)]
    # Continuous: slightly beyond the bounds, so clipping is exercised too.
    return [[float(x)] for x in rng.uniform(space.low[0] * 1.25, space.high[0] * 1.25, size=n).astype(np.float32)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for env_id in ENVS:
        cases = []
        for seed in SEEDS:
            env = gym.make(env_id)
            env.reset(seed=seed)
            start = [float(x) for x in np.asarray(env.unwrapped.state, dtype=np.float64)]
            rng = np.random.default_rng(1000 + seed)
            actions = actions_for(env, rng, env.spec.max_episode_steps)
            balance = env_id == "CartPole-v1" and seed == SEEDS[-1]
            obs, rewards, terminated, truncated = [], [], [], []
            state = env.unwrapped.state
            for i, a in enumerate(actions):
                if balance:  # a simple controller, so one CartPole episode reaches the time limit
                    a = int(state[2] + 0.5 * state[3] > 0)
                    actions[i] = a
                o, r, term, trunc, _ = env.step(np.array(a, dtype=np.float32) if isinstance(a, list) else a)
                state = env.unwrapped.state
                obs.append([float(x) for x in o])
                rewards.append(float(r))
                terminated.append(bool(term))
                truncated.append(bool(trunc))
                if term or trunc:
                    break
            cases.append({"seed": seed, "start_state": start, "actions": actions[: len(obs)],
                          "observations": obs, "rewards": rewards, "terminated": terminated, "truncated": truncated})
        path = OUT / f"{env_id}.json"
        path.write_text(json.dumps({"env_id": env_id, "gymnasium": gym.__version__, "cases": cases}))
        print(f"wrote {path} ({sum(len(c['rewards']) for c in cases)} steps)")


if __name__ == "__main__":
    main()
