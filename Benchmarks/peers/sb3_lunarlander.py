"""Stable-Baselines3 on LunarLander-v3: the peer of Tributary's Python workers
(Benchmarks/lunarlander/run.py).

Modes
    ppo_zoo SEED   PPO with the rl-baselines3-zoo hyper-parameters for LunarLander (16 envs,
                   n_steps 1024, batch 64, GAE lambda 0.98, gamma 0.999, 4 epochs, entropy 0.01,
                   learning rate 3e-4, clip 0.2; the zoo's budget of 1e6 steps), trained on CPU
                   until the mean return of the last 100 finished episodes (SB3's Monitor,
                   info["episode"]["r"]) first reaches 200. Set-up (env and model) is timed apart
                   and not counted in wall_s. Cut off after CAP_S seconds of training. Writes the
                   learning curve (wall seconds, env steps, mean of the last 100) to --curve FILE.
    rollout        SB3's own rollout collection (PPO.collect_rollouts, the zoo's 16 envs and
                   MlpPolicy 64-64 tanh, untrained): env steps per second over ROLLOUTS rollouts
                   of 1024 steps per env, after one warm-up rollout. What a Tributary Python
                   worker does per step, minus the wire.

Output: progress lines, then one line starting with RESULT:
    RESULT ppo_zoo seed=0 REACHED wall_s=412.3 steps=557056 episodes=2211 setup_s=1.1 fps=1351 torch_threads=2
    RESULT ppo_zoo seed=0 NOT_REACHED wall_s=... steps=... best_mean100=... torch_threads=...
    RESULT rollout steps_per_s=20311 envs=16 torch_threads=2

Usage
    python sb3_lunarlander.py ppo_zoo SEED [--curve FILE]
    python sb3_lunarlander.py rollout
"""
import sys
import time
from collections import deque

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

ENV = "LunarLander-v3"
CAP_S = 1800.0
TARGET = 200.0
WINDOW = 100
ROLLOUTS = 5


def zoo_ppo(seed):
    env = make_vec_env(ENV, n_envs=16, seed=seed)
    return PPO("MlpPolicy", env, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4,
               ent_coef=0.01, seed=seed, device="cpu", verbose=0)


class UntilTarget(BaseCallback):
    def __init__(self, started, curve):
        super().__init__()
        self.started, self.curve = started, curve
        self.returns = deque(maxlen=WINDOW)
        self.episodes = 0
        self.hit = None
        self.best = -float("inf")
        self.last_point = -1.0

    def _on_step(self):
        for info in self.locals["infos"]:
            if "episode" in info:
                self.returns.append(float(info["episode"]["r"]))
                self.episodes += 1
        elapsed = time.perf_counter() - self.started
        if len(self.returns) == WINDOW:
            mean = float(np.mean(self.returns))
            self.best = max(self.best, mean)
            if elapsed - self.last_point >= 1.0:
                self.last_point = elapsed
                self.curve.append((elapsed, self.num_timesteps, mean))
                if int(elapsed) % 30 == 0:
                    print(f"  t={elapsed:6.1f}s steps={self.num_timesteps} mean100={mean:.1f}", flush=True)
            if mean >= TARGET:
                self.hit = (elapsed, self.num_timesteps, self.episodes)
                self.curve.append((elapsed, self.num_timesteps, mean))
                return False
        return elapsed < CAP_S


def train(seed, curve_file):
    t0 = time.perf_counter()
    model = zoo_ppo(seed)
    setup_s = time.perf_counter() - t0
    curve = []
    callback = UntilTarget(time.perf_counter(), curve)
    t1 = time.perf_counter()
    model.learn(total_timesteps=1_000_000, callback=callback)
    learn_s = time.perf_counter() - t1
    if curve_file:
        with open(curve_file, "w") as f:
            f.write("seconds,steps,mean100\n")
            f.writelines(f"{s:.2f},{n},{m:.2f}\n" for s, n, m in curve)
    fps = model.num_timesteps / learn_s
    if callback.hit:
        wall, steps, episodes = callback.hit
        print(f"RESULT ppo_zoo seed={seed} REACHED wall_s={wall:.2f} steps={steps} episodes={episodes} setup_s={setup_s:.2f} "
              f"fps={fps:.0f} torch_threads={torch.get_num_threads()}")
    else:
        print(f"RESULT ppo_zoo seed={seed} NOT_REACHED wall_s={learn_s:.2f} steps={model.num_timesteps} best_mean100={callback.best:.1f} "
              f"setup_s={setup_s:.2f} fps={fps:.0f} torch_threads={torch.get_num_threads()}")


def rollout():
    model = zoo_ppo(0)
    _, callback = model._setup_learn(total_timesteps=10 ** 9, callback=None)
    callback.on_training_start(locals(), globals())
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)  # warm-up
    t = time.perf_counter()
    for _ in range(ROLLOUTS):
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
    seconds = time.perf_counter() - t
    steps = ROLLOUTS * model.n_steps * model.n_envs
    print(f"RESULT rollout steps_per_s={steps / seconds:.0f} envs={model.n_envs} torch_threads={torch.get_num_threads()}")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "rollout":
        return rollout()
    if len(sys.argv) < 3 or sys.argv[1] != "ppo_zoo":
        sys.exit(__doc__)
    curve = sys.argv[sys.argv.index("--curve") + 1] if "--curve" in sys.argv else None
    train(int(sys.argv[2]), curve)


if __name__ == "__main__":
    main()
