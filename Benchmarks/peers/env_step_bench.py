"""gymnasium CartPole-v1 steps per second in one Python process: the peer of
`tributary-bench worker-steps`.

What it measures
    How many CartPole-v1 environment steps one process makes per second, the way Python
    rollout workers usually step it (gym.make("CartPole-v1") with gymnasium's default
    wrappers, resets on terminated or truncated). Modes:

    torch     the acting loop of a typical Python worker: a torch MLP policy
              4 -> 64 -> 64 -> 2 (tanh), batch 1, no_grad, 1 thread, the action drawn with
              torch.distributions.Categorical (as SB3 and most code do), then env.step
    torch_mn  the same net, the action drawn with torch.multinomial(softmax) (no
              Distribution object)
    numpy     the same MLP shape in numpy (float32), batch 1, inverse-CDF sampling
    random    env.step(action_space.sample()): the environment and its wrappers alone
    vec8      gymnasium's SyncVectorEnv of 8 CartPole-v1, random actions, no policy at all;
              N counts environment steps (N / 8 vector steps)

    One untimed warm-up of min(N, 5000) steps, then REPEATS timed runs of N steps each
    (time.perf_counter); each run prints a line, and a RESULT line gives the min, median and
    max steps/s over the runs.

How Benchmarks/learning/run.sh uses it
    `python env_step_bench.py torch 30000 3` and `python env_step_bench.py vec8 200000 3`,
    interleaved with `tributary-bench worker-steps`, REPS times each; its `median_steps`
    function takes the number after "median" in the RESULT line (numbers for illustration):

    RESULT torch: min 8,512 median 8,903 max 9,020 steps/s (n=30000, reps=3)

    Keep that format; the per-run lines must not start with RESULT.

Usage
    python env_step_bench.py MODE [N_STEPS] [REPEATS]     (defaults 200000 and 5)
"""
import statistics
import sys
import time

import gymnasium as gym
import numpy as np


def torch_policy():
    """The 4 -> 64 -> 64 -> 2 tanh MLP, in eval mode, on one thread."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 64), torch.nn.Tanh(),
        torch.nn.Linear(64, 64), torch.nn.Tanh(),
        torch.nn.Linear(64, 2),
    )
    net.eval()
    return torch, net


def steps_torch(env, n, rng):
    torch, net = torch_policy()
    obs, _ = env.reset(seed=0)
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(n):
            logits = net(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
            action = int(torch.distributions.Categorical(logits=logits).sample().item())
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                obs, _ = env.reset()
    return time.perf_counter() - start


def steps_torch_mn(env, n, rng):
    torch, net = torch_policy()
    obs, _ = env.reset(seed=0)
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(n):
            logits = net(torch.from_numpy(obs).unsqueeze(0))
            action = int(torch.multinomial(torch.softmax(logits, -1), 1).item())
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                obs, _ = env.reset()
    return time.perf_counter() - start


def steps_numpy(env, n, rng):
    init = np.random.default_rng(0)
    w1 = (init.standard_normal((4, 64)) * 0.5).astype(np.float32)
    w2 = (init.standard_normal((64, 64)) * 0.125).astype(np.float32)
    w3 = (init.standard_normal((64, 2)) * 0.125).astype(np.float32)
    b1, b2, b3 = np.zeros(64, np.float32), np.zeros(64, np.float32), np.zeros(2, np.float32)
    obs, _ = env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(n):
        h = np.tanh(obs @ w1 + b1)
        h = np.tanh(h @ w2 + b2)
        z = h @ w3 + b3
        p = np.exp(z - z.max())
        p /= p.sum()
        action = 0 if rng.random() < p[0] else 1
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    return time.perf_counter() - start


def steps_random(env, n, rng):
    obs, _ = env.reset(seed=0)
    sample = env.action_space.sample
    start = time.perf_counter()
    for _ in range(n):
        obs, _, terminated, truncated, _ = env.step(sample())
        if terminated or truncated:
            obs, _ = env.reset()
    return time.perf_counter() - start


_VEC8 = None


def steps_vec8(env, n, rng):
    global _VEC8
    if _VEC8 is None:  # one vector env for the warm-up and every repeat
        _VEC8 = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(8)])
        _VEC8.reset(seed=0)
    sample = _VEC8.action_space.sample
    start = time.perf_counter()
    for _ in range(n // 8):
        _VEC8.step(sample())
    return time.perf_counter() - start


MODES = {
    "torch": steps_torch,
    "torch_mn": steps_torch_mn,
    "numpy": steps_numpy,
    "random": steps_random,
    "vec8": steps_vec8,
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(MODES)}}} [N_STEPS] [REPEATS]")
    mode = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    run = MODES[mode]
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(1)

    run(env, min(n, 5000), rng)  # warm-up
    rates = []
    for i in range(repeats):
        seconds = run(env, n, rng)
        rates.append(n / seconds)
        print(f"{mode} rep{i}: {n} steps in {seconds:.3f}s -> {n / seconds:,.0f} steps/s", flush=True)
    # run.sh parses "median N": keep this format.
    print(f"RESULT {mode}: min {min(rates):,.0f} median {statistics.median(rates):,.0f} "
          f"max {max(rates):,.0f} steps/s (n={n}, reps={repeats})")


if __name__ == "__main__":
    main()
