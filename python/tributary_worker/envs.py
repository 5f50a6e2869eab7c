"""Environments a worker steps: B copies together, with the protocol's reset semantics
(docs/protocol.md §6): after a step that ends an episode, the observation returned is the first
of the next episode, and the ended episode's last observation comes separately."""
import importlib

import numpy as np


class VectorEnv:
    """What `Worker` needs of an environment. Subclass it for your own simulator, or wrap any
    gymnasium id with `GymnasiumEnv`.

    Attributes: `env_id` (must be the learner's), `num_envs` (B), `observation_shape`,
    `num_actions` (discrete; 0 when continuous), `action_shape` (`()` when discrete),
    `action_low` / `action_high` (continuous bounds the actions are clipped to before stepping).
    """
    env_id = ""
    num_envs = 1
    observation_shape = ()
    num_actions = 0
    action_shape = ()
    action_low = None
    action_high = None
    # The episode time limit, when the environment has one (the learner's --max-episode-steps).
    max_episode_steps = None

    def learner_flags(self):
        """The flags that declare this environment to a learner that does not ship it
        (`learner --env ID --observation-shape ... --action-space ...`)."""
        actions = f"discrete:{self.num_actions}" if self.num_actions > 0 else f"box:{int(np.prod(self.action_shape))}"
        flags = ["--env", self.env_id, "--observation-shape", ",".join(str(int(d)) for d in self.observation_shape),
                 "--action-space", actions]
        if self.max_episode_steps:
            flags += ["--max-episode-steps", str(int(self.max_episode_steps))]
        return flags

    def reset(self, seed=None):
        """First observations, float32 [B, *observation_shape]."""
        raise NotImplementedError

    def step(self, actions):
        """(observations, rewards, terminated, truncated, final_observations): observations
        [B, *obs] (the next episode's first where one ended), rewards float [B], terminated and
        truncated bool [B], final_observations {b: the ended episode's last observation} for every
        copy whose episode ended at this step."""
        raise NotImplementedError

    def close(self):
        pass


class GymnasiumEnv(VectorEnv):
    """A gymnasium environment id (or a gymnasium `Env` factory) as B synchronous copies.

    gymnasium's vector environments default to NEXT_STEP autoreset: the step after an episode
    ends returns the reset observation and ignores that step's action, which contradicts the
    protocol's observations[t+1] (docs/protocol.md §6). This adapter asks for SAME_STEP autoreset
    instead, where the step that ends an episode returns the next episode's first observation and
    the ended one's last observation in `info["final_obs"]`, exactly the protocol's semantics.
    """

    def __init__(self, env, num_envs=8, env_id=None, **make_kwargs):
        import gymnasium as gym
        from gymnasium.vector import AutoresetMode, SyncVectorEnv

        if isinstance(env, str):
            self.env_id = env_id or env
            self.vec = gym.make_vec(env, num_envs=num_envs, vectorization_mode="sync",
                                    vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **make_kwargs)
        else:
            if not env_id:
                raise ValueError("a factory needs env_id= (the id the learner trains)")
            self.env_id = env_id
            self.vec = SyncVectorEnv([env] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)
        self.num_envs = num_envs
        first = self.vec.envs[0]
        self.max_episode_steps = (first.spec.max_episode_steps if first.spec is not None else None) \
            or getattr(first.unwrapped, "max_episode_steps", None)
        obs_space, act_space = self.vec.single_observation_space, self.vec.single_action_space
        self.observation_shape = tuple(obs_space.shape)
        if isinstance(act_space, gym.spaces.Discrete):
            if act_space.start != 0:
                raise ValueError(f"{self.env_id}: a Discrete action space must start at 0")
            self.num_actions, self.action_shape = int(act_space.n), ()
        elif isinstance(act_space, gym.spaces.Box):
            if len(act_space.shape) != 1:
                raise ValueError(f"{self.env_id}: a Box action space must be one-dimensional")
            self.num_actions, self.action_shape = 0, tuple(act_space.shape)
            self.action_low = act_space.low.astype(np.float32)
            self.action_high = act_space.high.astype(np.float32)
        else:
            raise ValueError(f"{self.env_id}: action space {act_space} is neither Discrete nor Box")

    def reset(self, seed=None):
        obs, _ = self.vec.reset(seed=seed)
        return np.asarray(obs, dtype=np.float32)

    def step(self, actions):
        if self.num_actions == 0:
            actions = np.clip(actions, self.action_low, self.action_high)
        obs, rewards, terminated, truncated, info = self.vec.step(actions)
        finals = {}
        if "_final_obs" in info:
            for b in np.flatnonzero(info["_final_obs"]):
                finals[int(b)] = np.asarray(info["final_obs"][b], dtype=np.float32)
        return (np.asarray(obs, dtype=np.float32), np.asarray(rewards, dtype=np.float32),
                np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool), finals)

    def close(self):
        self.vec.close()


def load_env(spec, num_envs):
    """`--env`: one of the learner's sequence tasks (addrev, add, add3, reach), a gymnasium id, or
    `module:factory` (a callable returning a gymnasium `Env`, or taking `num_envs` and returning a
    `VectorEnv`)."""
    from .tasks import TASKS, SequenceTaskEnv
    if spec in TASKS:
        return SequenceTaskEnv(spec, num_envs=num_envs)
    if ":" not in spec:
        return GymnasiumEnv(spec, num_envs=num_envs)
    module, name = spec.split(":", 1)
    factory = getattr(importlib.import_module(module), name)
    try:
        made = factory(num_envs=num_envs)
    except TypeError:
        made = None
    if isinstance(made, VectorEnv):
        return made
    env_id = getattr(factory, "env_id", None) or name
    return GymnasiumEnv(factory, num_envs=num_envs, env_id=env_id)
