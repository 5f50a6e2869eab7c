"""PyTorch (CPU) learner update with V-trace: the peer of `tributary-bench learner-update`.

What it measures
    Updates per second of the learner step an IMPALA-style PyTorch learner runs, on one
    synthetic batch that stays in memory (no data loading, no environment):

    network   MLP torso obs -> H -> H with tanh, a policy head (n_actions logits) and a
              value head (1 output); obs 4, H 64, 2 actions by default (4,675 parameters)
    batch     T = 32 time steps x B = 64 trajectories = 2,048 samples, plus the B bootstrap
              observations at T (one forward pass over all (T + 1) * B observations)
    targets   V-trace with rho_bar = c_bar = 1 and gamma = 0.99, computed under no_grad with
              the usual backward Python loop over T
    loss      policy gradient + 0.5 * value (0.5 * mean squared error to the V-trace targets)
              - 0.01 * entropy
    step      zero_grad, backward, Adam (lr 6e-4)

    After --warmup untimed updates, each of --updates updates is timed on its own
    (time.perf_counter); the median gives updates/s and samples/s (T * B / median time).

How Benchmarks/learning/run.sh uses it
    `python torch_vtrace_bench.py --threads {1,2} --obs 4 --hidden 64`, interleaved with
    `tributary-bench learner-update --threads {1,2}`, REPS times each; its `samples_per_s`
    function takes the number in "(N samples/s" from the RESULT line, and the report gives
    Tributary / torch. The RESULT line's format is therefore part of the interface (numbers for
    illustration):

    RESULT threads=1 obs=4 hidden=64 T=32 B=64 params=4675 updates=300: median 395.1 upd/s
    (809,165 samples/s, 2.53 ms/upd); best ...; worst ...; mean ...

    (one line). --breakdown adds a BREAKDOWN line before it with the median milliseconds of
    the forward pass, the V-trace targets and loss + backward + Adam.

Usage
    python torch_vtrace_bench.py --threads 1 --obs 4 --hidden 64 [--updates 300] [--warmup 30]
                                 [--breakdown]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class PolicyValueNet(nn.Module):
    """obs -> H -> H (tanh), then a policy head and a value head on the same features."""

    def __init__(self, obs_dim: int, hidden: int, n_actions: int):
        super().__init__()
        self.torso = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
        )
        self.pi = nn.Linear(hidden, n_actions)
        self.v = nn.Linear(hidden, 1)

    def forward(self, x):
        features = self.torso(x)
        return self.pi(features), self.v(features).squeeze(-1)


@torch.no_grad()
def vtrace_targets(behaviour_logp, target_logp, rewards, discounts, values, bootstrap,
                   rho_bar=1.0, c_bar=1.0):
    """V-trace (Espeholt et al. 2018). Inputs [T, B], bootstrap [B].

    Returns the value targets vs [T, B] and the policy-gradient advantages [T, B].
    """
    rhos = torch.exp(target_logp - behaviour_logp)
    clipped_rhos = torch.clamp(rhos, max=rho_bar)
    cs = torch.clamp(rhos, max=c_bar)
    next_values = torch.cat([values[1:], bootstrap.unsqueeze(0)], dim=0)
    deltas = clipped_rhos * (rewards + discounts * next_values - values)
    # vs_t - V(x_t) = delta_t + gamma_t c_t (vs_{t+1} - V(x_{t+1})), from the back.
    carry = torch.zeros_like(bootstrap)
    backwards = []
    for t in reversed(range(values.shape[0])):
        carry = deltas[t] + discounts[t] * cs[t] * carry
        backwards.append(carry)
    vs = torch.stack(backwards[::-1], dim=0) + values
    next_vs = torch.cat([vs[1:], bootstrap.unsqueeze(0)], dim=0)
    pg_advantages = clipped_rhos * (rewards + discounts * next_vs - values)
    return vs, pg_advantages


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--obs", type=int, default=4, help="observation size (default 4, CartPole)")
    p.add_argument("--hidden", type=int, default=64, help="width H of both hidden layers (default 64)")
    p.add_argument("--actions", type=int, default=2, help="number of discrete actions (default 2)")
    p.add_argument("--T", type=int, default=32, help="time steps per trajectory (default 32)")
    p.add_argument("--B", type=int, default=64, help="trajectories per batch (default 64)")
    p.add_argument("--updates", type=int, default=300, help="timed updates (default 300)")
    p.add_argument("--warmup", type=int, default=30, help="untimed updates first (default 30)")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--breakdown", action="store_true",
                   help="also time forward / V-trace / loss+backward+Adam separately")
    return p.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    T, B, n_obs = args.T, args.B, args.obs

    net = PolicyValueNet(n_obs, args.hidden, args.actions)
    adam = torch.optim.Adam(net.parameters(), lr=6e-4)

    # One synthetic batch, shaped as rollout workers would send it.
    obs = torch.randn(T + 1, B, n_obs)
    actions = torch.randint(0, args.actions, (T, B))
    behaviour_logp = (F.log_softmax(torch.randn(T, B, args.actions), -1)
                      .gather(-1, actions.unsqueeze(-1)).squeeze(-1))
    rewards = torch.ones(T, B)
    discounts = (~(torch.rand(T, B) < 0.02)).float() * args.gamma  # ~2 % episode ends

    def update(phases=None):
        t0 = time.perf_counter()
        logits, values = net(obs.view((T + 1) * B, n_obs))
        logits = logits.view(T + 1, B, -1)[:T]
        values = values.view(T + 1, B)
        bootstrap, values = values[T], values[:T]
        logp = F.log_softmax(logits, -1)
        action_logp = logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        t1 = time.perf_counter()
        vs, pg_adv = vtrace_targets(behaviour_logp, action_logp.detach(), rewards, discounts,
                                    values.detach(), bootstrap.detach())
        t2 = time.perf_counter()
        pg_loss = -(action_logp * pg_adv).mean()
        value_loss = 0.5 * (vs - values).pow(2).mean()
        entropy = -(logp.exp() * logp).sum(-1).mean()
        loss = pg_loss + 0.5 * value_loss - 0.01 * entropy
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
        if phases is not None:
            phases.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
        return loss

    for _ in range(args.warmup):
        update()
    times = []
    for _ in range(args.updates):
        start = time.perf_counter()
        update()
        times.append(time.perf_counter() - start)

    if args.breakdown:
        phases = []
        for _ in range(args.updates):
            update(phases)
        fwd, vt, rest = (statistics.median(p[i] for p in phases) * 1e3 for i in range(3))
        print(f"BREAKDOWN threads={args.threads} obs={n_obs} hidden={args.hidden}: median ms "
              f"forward(+logsoftmax/gather) {fwd:.3f} | vtrace(no_grad, python loop over T) {vt:.3f} | "
              f"loss+backward+adam {rest:.3f}")

    median = statistics.median(times)
    samples = T * B
    params = sum(p.numel() for p in net.parameters())
    # run.sh parses "(N samples/s": keep this format.
    print(f"RESULT threads={args.threads} obs={n_obs} hidden={args.hidden} T={T} B={B} params={params} "
          f"updates={args.updates}: median {1 / median:.1f} upd/s ({samples / median:,.0f} samples/s, "
          f"{median * 1e3:.2f} ms/upd); best {1 / min(times):.1f} upd/s; worst {1 / max(times):.1f} upd/s; "
          f"mean {len(times) / sum(times):.1f} upd/s")


if __name__ == "__main__":
    main()
