#!/usr/bin/env python3
"""Load a Tributary policy exported as safetensors (`tributary export`) with numpy alone, and
run it: the reference for docs/operations.md, "Policies as files".

    load-policy.py POLICY.safetensors --observations '[[0.01, 0.02, -0.03, 0.04]]'
        prints {"logits" | "mean", "log_std", "value"} per observation as JSON
    load-policy.py POLICY.safetensors --gym CartPole-v1 --episodes 10
        runs the greedy policy in gymnasium (pip install gymnasium) and prints the mean return

Needs: pip install safetensors numpy.
"""
import argparse
import json

import numpy as np
from safetensors import safe_open


def load(path):
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != "tributary-actor-critic/1":
        raise SystemExit(f"{path}: not a Tributary actor-critic (format {meta.get('format')!r})")
    return meta, tensors


def forward(meta, t, obs):
    """The network of docs/operations.md: torso layers with the activation, then the linear
    policy and value heads (x @ W.T + b)."""
    act = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}[meta["activation"]]
    x = np.asarray(obs, dtype=np.float32)
    layers = len([k for k in t if k.startswith("torso.") and k.endswith(".weight")])
    for l in range(layers):
        x = act(x @ t[f"torso.{l}.weight"].T + t[f"torso.{l}.bias"])
    out = {"value": (x @ t["value.weight"].T + t["value.bias"])[:, 0]}
    policy = x @ t["policy.weight"].T + t["policy.bias"]
    if meta["head"] == "categorical":
        out["logits"] = policy
    else:
        out["mean"] = policy
        lo, hi = float(meta["log_std_min"]), float(meta["log_std_max"])
        out["log_std"] = np.clip(t["policy.log_std"], lo, hi)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy")
    parser.add_argument("--observations", help="a JSON list of observations")
    parser.add_argument("--gym", help="a gymnasium environment id to run the greedy policy in")
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args()
    meta, t = load(args.policy)
    if args.observations:
        out = forward(meta, t, json.loads(args.observations))
        print(json.dumps({k: np.asarray(v).tolist() for k, v in out.items()}))
    if args.gym:
        import gymnasium as gym
        env = gym.make(args.gym)
        returns = []
        for episode in range(args.episodes):
            obs, _ = env.reset(seed=episode)
            done, total = False, 0.0
            while not done:
                out = forward(meta, t, [obs])
                action = int(np.argmax(out["logits"][0])) if meta["head"] == "categorical" else out["mean"][0]
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        print(json.dumps({"env": args.gym, "episodes": len(returns), "mean_return": float(np.mean(returns)),
                          "std_return": float(np.std(returns))}))


if __name__ == "__main__":
    main()
