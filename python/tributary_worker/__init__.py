"""A Tributary rollout worker in Python (docs/protocol.md): speak the wire protocol to a learner,
act with its policy in numpy, and stream trajectories of any gymnasium environment.

    from tributary_worker import Worker, GymnasiumEnv
    Worker(GymnasiumEnv("CartPole-v1", num_envs=16), learner="10.0.0.5").run()
    policy = load_policy("runs/RUN_ID"); action = policy.act(observation)
"""
from .wire import PROTOCOL_VERSION, ProtocolError, decode, encode
from .model import Policy, ModelError
from .worker import Worker, WorkerConfig, WorkerRefused
from .envs import VectorEnv, GymnasiumEnv
from .policy_file import LoadedPolicy, PolicyFileError, load_policy

__all__ = ["PROTOCOL_VERSION", "ProtocolError", "decode", "encode", "Policy", "ModelError", "Worker", "WorkerConfig",
           "WorkerRefused", "VectorEnv", "GymnasiumEnv", "load_policy", "LoadedPolicy", "PolicyFileError"]
__version__ = "0.1.0"
