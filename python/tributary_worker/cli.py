"""`tributary-worker`: a rollout worker for any gymnasium environment (or your own), in Python.

    tributary-worker --learner 10.0.0.5 --env CartPole-v1 --num-envs 16
    tributary-worker --learner 10.0.0.5:6000 --env mypackage.envs:make_env --num-envs 8
    tributary-worker --env mypackage.envs:make_env --print-learner-flags   # what the learner needs

Exit codes as `rollout-worker`'s: 0 done, 2 the learner refused this worker's configuration
(environment, sizes), 3 its protocol version, 4 its key; 64 a bad flag.
"""
import argparse
import json
import logging
import signal
import sys

from .envs import load_env
from .worker import Worker, WorkerConfig, WorkerRefused


def main(argv=None):
    p = argparse.ArgumentParser(prog="tributary-worker", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--learner", default="127.0.0.1",
                   help="HOST or HOST:PORT, PORT the learner's data port (weights and control are PORT+1 and PORT+2); [v6]:PORT for IPv6")
    p.add_argument("--data", help="data endpoint, overriding --learner (e.g. tcp://10.0.0.5:5555)")
    p.add_argument("--weights", help="weights endpoint, overriding --learner")
    p.add_argument("--control", help="control endpoint, overriding --learner")
    p.add_argument("--env", required=True, help="a gymnasium id (Discrete or Box actions), or module:factory for your own environment")
    p.add_argument("--num-envs", type=int, default=8, help="environment copies stepped together (B)")
    p.add_argument("--worker-id", help="stable across restarts (default HOST/PID)")
    p.add_argument("--seed", type=int, help="seed of the environments and the action sampling")
    p.add_argument("--max-chunks", type=int, help="stop after sending this many chunks")
    p.add_argument("--hello-timeout", type=float, default=2.0, help="seconds to wait for Welcome before retrying")
    p.add_argument("--curve-server-key", help="CURVE: the learner's public key file (NAME.key)")
    p.add_argument("--curve-secret-key", help="CURVE: this worker's secret key file (NAME.key_secret)")
    p.add_argument("--print-learner-flags", action="store_true",
                   help="print the learner flags that declare this environment (--env ID --observation-shape ... --action-space ...) and exit")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s tributary-worker: %(message)s")
    if args.num_envs < 1:
        p.exit(64, "tributary-worker: --num-envs must be at least 1\n")
    keys = {}
    if bool(args.curve_server_key) != bool(args.curve_secret_key):
        p.exit(64, "tributary-worker: --curve-server-key and --curve-secret-key go together\n")
    if args.curve_server_key:
        import zmq.auth
        server, _ = zmq.auth.load_certificate(args.curve_server_key)
        public, secret = zmq.auth.load_certificate(args.curve_secret_key)
        if secret is None:
            p.exit(64, f"tributary-worker: {args.curve_secret_key} holds no secret key\n")
        keys = dict(curve_server_key=server.decode(), curve_public_key=public.decode(), curve_secret_key=secret.decode())
    try:
        config = WorkerConfig(learner=args.learner, data=args.data, weights=args.weights, control=args.control,
                              worker_id=args.worker_id, seed=args.seed, hello_timeout=args.hello_timeout, **keys)
        config.endpoints()
    except ValueError as e:
        p.exit(64, f"tributary-worker: {e}\n")
    env = load_env(args.env, args.num_envs)
    if args.print_learner_flags:
        print(" ".join(env.learner_flags()))
        env.close()
        return 0
    worker = Worker(env, config)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: worker.stop())
    try:
        summary = worker.run(max_chunks=args.max_chunks)
    except WorkerRefused as e:
        print(f"tributary-worker: {e.reason}", file=sys.stderr)
        return e.exit_code
    finally:
        env.close()
    print(json.dumps(dict(summary, event="summary"), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
