"""PyTorch (CPU) group-relative update on `addrev`: the peer of `tributary-bench group-update`.

What it measures
    The seed paper's update in miniature, as a torch prototype writes it:

    task      addrev: a + b for digits a, b, the sum as two digits units first (100 prompts);
              the input at answer position t is [one-hot a | one-hot b | one-hot previous
              tokens (2 x 10, future slots zero) | one-hot position (2)], 42 floats
    network   MLP 42 -> H -> H (ReLU) -> 10 logits + 1 value (the same layout as Tributary's
              actor-critic; the value is unused), H 256 by default (78,347 parameters)
    sampling  P prompts x K answers, token by token: one batched forward pass (no_grad) per
              token, multinomial sampling, each token's log-prob kept
    update    GRPO: advantages (R - mean)/(std_unbiased + 1e-6) per group, PPO-clip 0.2 against
              the sampled log-probs, token-mean, entropy bonus 0.01; zero_grad, backward, Adam 1e-3

    After --warmup untimed rounds, each of --updates rounds is timed (time.perf_counter) in two
    parts, sampling and update; the medians are reported.

How Benchmarks/group/run.sh uses it
    Interleaved with `tributary-bench group-update`, REPS times each, on one thread; the script
    reads "median update X ms, sampling Y ms" from the RESULT line:

    RESULT torch group-update threads=1 prompts=64 K=8 tokens=2 params=78347 updates=300: median
    update 3.210 ms, sampling 1.920 ms, both 5.130 ms; final success 0.98

Usage
    python torch_group_bench.py [--threads 1] [--prompts 64] [--k 8] [--hidden 256] [--updates 300] [--warmup 30]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def encode(a, b, answer, position):
    """[N] digits a, b, [N, t] previous tokens -> [N, 42] inputs at `position`."""
    n = a.shape[0]
    x = torch.zeros(n, 42)
    rows = torch.arange(n)
    x[rows, a] = 1
    x[rows, 10 + b] = 1
    for j in range(position):
        x[rows, 20 + j * 10 + answer[:, j]] = 1
    if position < 2:
        x[:, 40 + position] = 1
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    h = args.hidden
    net = nn.Sequential(nn.Linear(42, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 11))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    params = sum(q.numel() for q in net.parameters())
    P, K = args.prompts, args.k
    sample_t, update_t = [], []
    success = 0.0
    for i in range(args.warmup + args.updates):
        t0 = time.perf_counter()
        with torch.no_grad():
            idx = torch.randint(0, 100, (P,))
            a = (idx // 10).repeat_interleave(K)
            b = (idx % 10).repeat_interleave(K)
            answer = torch.zeros(P * K, 2, dtype=torch.long)
            xs, logps = [], []
            for t in range(2):
                x = encode(a, b, answer, t)
                logits = net(x)[:, :10]
                tok = torch.multinomial(F.softmax(logits, dim=-1), 1).squeeze(1)
                logps.append(F.log_softmax(logits, dim=-1).gather(1, tok[:, None]).squeeze(1))
                answer[:, t] = tok
                xs.append(x)
            s = a + b
            reward = ((answer[:, 0] == s % 10) & (answer[:, 1] == s // 10)).float()
        t1 = time.perf_counter()
        r = reward.view(P, K)
        adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-6)).view(-1)
        x = torch.cat(xs)                      # [2 * P * K, 42], token-major
        old = torch.cat(logps)
        act = answer.t().reshape(-1)
        logits = net(x)[:, :10]
        logp_all = F.log_softmax(logits, dim=-1)
        logp = logp_all.gather(1, act[:, None]).squeeze(1)
        ratio = torch.exp(logp - old)
        A = adv.repeat(2)
        pg = torch.max(-A * ratio, -A * torch.clamp(ratio, 0.8, 1.2)).mean()
        entropy = -(logp_all.exp() * logp_all).sum(1).mean()
        loss = pg - 0.01 * entropy
        opt.zero_grad()
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        success = reward.mean().item()
        if i >= args.warmup:
            sample_t.append(t1 - t0)
            update_t.append(t2 - t1)
    mu, ms = statistics.median(update_t) * 1e3, statistics.median(sample_t) * 1e3
    print(f"RESULT torch group-update threads={args.threads} prompts={P} K={K} tokens=2 params={params} updates={args.updates}: "
          f"median update {mu:.3f} ms, sampling {ms:.3f} ms, both {mu + ms:.3f} ms; final success {success:.2f}")


if __name__ == "__main__":
    main()
