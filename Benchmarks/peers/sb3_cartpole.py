"""Stable-Baselines3 on CartPole-v1: wall time and environment steps until the mean return of
the last 100 finished episodes first reaches 475. The peer of `tributary demo`.

What it measures
    SB3 trains on CPU (device="cpu", torch's default thread count) with a callback that reads
    each finished episode's return from SB3's Monitor wrapper (make_vec_env adds it;
    info["episode"]["r"]). Once 100 episodes have finished and the mean of the last 100 is
    >= 475, the callback records the wall time since training started, the environment steps
    (model.num_timesteps) and the episodes so far, and stops training (unless --full). Set-up
    (building the vector env and the model) is timed apart as setup_s and is not counted in
    wall_s. A run is cut off after CAP_S = 300 s of training. Algorithms:

    ppo_zoo      PPO with the rl-baselines3-zoo hyper-parameters for CartPole-v1: 8 envs,
                 n_steps 32, batch 256, GAE lambda 0.8, gamma 0.98, 20 epochs, entropy 0,
                 learning rate 1e-3 and clip range 0.2, both linearly decayed to 0;
                 at most 100,000 steps (the zoo's budget)
    ppo_default  PPO with SB3's defaults, 1 env (the 300 s cap decides)
    a2c_zoo      A2C, 8 envs, entropy 0, at most 500,000 steps (the zoo's budget)

How Benchmarks/learning/run.sh uses it
    `python sb3_cartpole.py ppo_zoo SEED` for each seed in SEEDS (0 1 2), beside
    `tributary demo --seed SEED+1`; it keeps the line starting with RESULT. If that line says
    REACHED (and not NOT_REACHED) it takes wall_s=, steps= (the field preceded by a space, not
    total_steps=) and setup_s=; otherwise the seed counts as not solved (inf). The lines (numbers
    for illustration):

    RESULT ppo_zoo seed=0 REACHED wall_s=16.31 steps=67840 episodes=412 setup_s=1.12 learn_s=16.33
        total_steps=67840 fps=4154 final_mean100=475.3 torch_threads=2
    RESULT ppo_zoo seed=0 NOT_REACHED learn_s=... total_steps=... episodes=... best_mean100=...
        final_mean100=... setup_s=... fps=... torch_threads=...

    (each one line). HIT and progress lines (every 15 s) go to stdout before it.

Usage
    python sb3_cartpole.py {ppo_zoo,ppo_default,a2c_zoo} SEED [--full]
"""
import sys
import time
from collections import deque

import numpy as np
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

CAP_S = 300.0
TARGET = 475.0
WINDOW = 100


def linear(start):
    """SB3 schedule: start at the beginning of training, 0 at the end."""
    return lambda progress_remaining: progress_remaining * start


class UntilTarget(BaseCallback):
    """Records when the mean of the last WINDOW episode returns first reaches TARGET."""

    def __init__(self, started, stop_at_target=True):
        super().__init__()
        self.started = started
        self.stop_at_target = stop_at_target
        self.returns = deque(maxlen=WINDOW)
        self.episodes = 0
        self.hit = None  # (wall_s, steps, episodes)
        self.best_mean = -1.0
        self.last_progress = 0.0

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            episode = info.get("episode")
            if episode is not None:
                self.returns.append(float(episode["r"]))
                self.episodes += 1
        elapsed = time.perf_counter() - self.started
        if len(self.returns) == WINDOW:
            mean = float(np.mean(self.returns))
            self.best_mean = max(self.best_mean, mean)
            if self.hit is None and mean >= TARGET:
                self.hit = (elapsed, self.num_timesteps, self.episodes)
                print(f"HIT t={elapsed:.2f}s steps={self.num_timesteps} episodes={self.episodes} "
                      f"mean100={mean:.1f}", flush=True)
                if self.stop_at_target:
                    return False
        if elapsed - self.last_progress > 15:
            self.last_progress = elapsed
            mean = float(np.mean(self.returns)) if self.returns else float("nan")
            print(f"  t={elapsed:6.1f}s steps={self.num_timesteps} eps={self.episodes} mean100={mean:.1f}",
                  flush=True)
        if elapsed > CAP_S:
            print(f"CAP reached at t={elapsed:.1f}s steps={self.num_timesteps}", flush=True)
            return False
        return True


def build(algo, seed):
    """The vector env, the model and the step budget of one algorithm."""
    if algo == "ppo_zoo":
        env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
        model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                    n_epochs=20, ent_coef=0.0, learning_rate=linear(1e-3), clip_range=linear(0.2),
                    seed=seed, device="cpu", verbose=0)
        return model, 100_000
    if algo == "ppo_default":
        env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
        return PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0), 10_000_000
    if algo == "a2c_zoo":
        env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
        return A2C("MlpPolicy", env, ent_coef=0.0, seed=seed, device="cpu", verbose=0), 500_000
    sys.exit(f"unknown algorithm {algo!r}: ppo_zoo, ppo_default or a2c_zoo")


def main():
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} {{ppo_zoo,ppo_default,a2c_zoo}} SEED [--full]")
    algo, seed = sys.argv[1], int(sys.argv[2])
    full = "--full" in sys.argv[3:]

    t0 = time.perf_counter()
    model, budget = build(algo, seed)
    setup_s = time.perf_counter() - t0

    callback = UntilTarget(time.perf_counter(), stop_at_target=not full)
    t1 = time.perf_counter()
    model.learn(total_timesteps=budget, callback=callback)
    learn_s = time.perf_counter() - t1

    final_mean = float(np.mean(callback.returns)) if callback.returns else float("nan")
    fps = model.num_timesteps / learn_s
    # run.sh parses REACHED / NOT_REACHED, wall_s=, " steps=" and setup_s=: keep this format.
    if callback.hit:
        wall_s, steps, episodes = callback.hit
        print(f"RESULT {algo} seed={seed} REACHED wall_s={wall_s:.2f} steps={steps} episodes={episodes} "
              f"setup_s={setup_s:.2f} learn_s={learn_s:.2f} total_steps={model.num_timesteps} fps={fps:.0f} "
              f"final_mean100={final_mean:.1f} torch_threads={torch.get_num_threads()}")
    else:
        print(f"RESULT {algo} seed={seed} NOT_REACHED learn_s={learn_s:.2f} total_steps={model.num_timesteps} "
              f"episodes={callback.episodes} best_mean100={callback.best_mean:.1f} final_mean100={final_mean:.1f} "
              f"setup_s={setup_s:.2f} fps={fps:.0f} torch_threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
