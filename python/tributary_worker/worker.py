"""The worker's side of docs/protocol.md: Hello and Welcome, chunks under credits, heartbeats,
weights fetched in parts with their digest checked, a new incarnation after the learner goes
quiet, and Goodbye. One thread; it polls its three sockets between chunks."""
import dataclasses
import hashlib
import logging
import math
import os
import random
import socket
import time

import numpy as np
import zmq

from ._proto import pb
from .model import ModelError, Policy
from .wire import (PROTOCOL_VERSION, SHARED_TENSOR_LIMIT, WEIGHTS_AVAILABLE_PREFIX, ProtocolError, TensorFrames, decode,
                   encode, tensor_array)

log = logging.getLogger("tributary_worker")

R = pb.Reject
# Refusals that retrying cannot fix, and the exit code the CLI gives each (as rollout-worker).
FATAL = {R.CODE_ENV_MISMATCH: 2, R.CODE_FIELD_TOO_LONG: 2, R.CODE_UNSUPPORTED_VERSION: 3, R.CODE_UNAUTHORIZED: 4}
# Refusals after which the session is over: say Hello again as a new incarnation.
RECONNECT = {R.CODE_UNKNOWN_WORKER, R.CODE_SHUTTING_DOWN}
MESSAGE_TYPES = {"Hello": 1, "TrajectoryChunk": 3}


class WorkerRefused(Exception):
    """The learner refused this worker for a reason retrying cannot fix (`exit_code` as the Swift
    worker's: 2 configuration, 3 protocol version, 4 key)."""

    def __init__(self, exit_code, reason):
        super().__init__(reason)
        self.exit_code = exit_code
        self.reason = reason


@dataclasses.dataclass
class WorkerConfig:
    """Where the learner is and how to talk to it. `learner` is HOST or HOST:PORT (PORT the data
    port; weights and control are PORT+1 and PORT+2), `[v6]:PORT` for IPv6; `data`, `weights`,
    `control` override it with full endpoints. Timeouts in seconds (docs/protocol.md §9)."""
    learner: str = "127.0.0.1"
    data: str = None
    weights: str = None
    control: str = None
    worker_id: str = None
    seed: int = None
    hello_timeout: float = 2.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    weights_timeout: float = 5.0
    # CURVE (docs/security.md): the learner's public key and this worker's key pair, Z85 text.
    curve_server_key: str = None
    curve_public_key: str = None
    curve_secret_key: str = None

    def endpoints(self):
        host, port = split_learner(self.learner)
        port = 5555 if port is None else port
        return (self.data or f"tcp://{host}:{port}", self.weights or f"tcp://{host}:{port + 1}",
                self.control or f"tcp://{host}:{port + 2}")


def split_learner(text):
    """(host, port or None) of HOST, HOST:PORT or [v6]:PORT."""
    if text.startswith("["):
        end = text.index("]")
        host, rest = text[1:end], text[end + 1:]
        host = f"[{host}]"
        port = rest[1:] if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if port is not None:
        if not port.isdigit() or not 1 <= int(port) <= 65533:
            raise ValueError(f"--learner: the port in {text!r} must be a number in 1…65533 (the data port)")
        port = int(port)
    return host, port


def probe(endpoint, timeout=1.0):
    """Why a tcp:// endpoint is silent: DNS, refused, no answer, or it accepts connections."""
    if not endpoint.startswith("tcp://"):
        return f"{endpoint} is not a tcp:// endpoint"
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return f"the name '{host}' does not resolve (DNS: {e.strerror}): check the host name"
    refused = None
    for family, kind, proto, _, address in infos:
        s = socket.socket(family, kind, proto)
        s.settimeout(timeout)
        try:
            s.connect(address)
            return f"{address[0]}:{address[1]} accepts TCP connections but sent no reply: is it a Tributary learner, with the same security (CURVE keys)?"
        except ConnectionRefusedError:
            refused = refused or address
        except OSError as e:
            return f"no answer from {address[0]}:{address[1]} ({e.strerror or 'timed out'}): the host may be down, or a firewall drops the packets"
        finally:
            s.close()
    return f"connection refused at {refused[0]}:{refused[1]}: nothing listens there; is the learner running, and is the port right?"


class Worker:
    """Streams `env`'s trajectories to a learner and acts with the policy it publishes.

        Worker(GymnasiumEnv("CartPole-v1", num_envs=16), WorkerConfig(learner="10.0.0.5")).run()

    `run` returns a summary dict when `max_chunks` are sent or `stop()` is called, and raises
    `WorkerRefused` when the learner refuses this worker for good.
    """

    def __init__(self, env, config=None, **overrides):
        self.env = env
        self.config = dataclasses.replace(config or WorkerConfig(), **overrides)
        self.worker_id = self.config.worker_id or f"{socket.gethostname()}/{os.getpid()}"
        seed = self.config.seed if self.config.seed is not None else random.getrandbits(63)
        self.rng = np.random.default_rng(seed)
        self.env_seed = seed
        self.data_endpoint, self.weights_endpoint, self.control_endpoint = self.config.endpoints()
        self.ctx = zmq.Context.instance()
        self._stop = False
        # The policy and where it came from.
        self.run_id = None
        self.policy = None
        self.version = 0
        self._fetch = None
        self._monitor = None
        self._handshakes = {}
        # Tensors below this many bytes share a frame (set from each Welcome; 0: a frame each).
        self._share_below = 0
        self.stats = {"chunks_sent": 0, "chunks_acked": 0, "env_steps": 0, "episodes": 0, "weight_fetches": 0,
                      "digest_mismatches": 0, "incarnations": 0, "rejected": {}}

    def stop(self):
        self._stop = True

    # Sockets ---------------------------------------------------------------------------------

    def _socket(self, kind, endpoint, monitor=False):
        s = self.ctx.socket(kind)
        s.linger = 0
        if monitor:
            # Handshake outcomes, watched before connecting so none is missed.
            self._monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                                 | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        c = self.config
        if c.curve_server_key:
            s.curve_serverkey = c.curve_server_key.encode()
            s.curve_publickey = c.curve_public_key.encode()
            s.curve_secretkey = c.curve_secret_key.encode()
        s.connect(endpoint)
        return s

    # The session loop -------------------------------------------------------------------------

    def run(self, max_chunks=None):
        env = self.env
        self.obs = env.reset(seed=self.env_seed % (2 ** 32))
        self.ep_return = np.zeros(env.num_envs, dtype=np.float64)
        self.ep_length = np.zeros(env.num_envs, dtype=np.int64)
        self.sub = self._socket(zmq.SUB, self.weights_endpoint)
        self.sub.setsockopt(zmq.SUBSCRIBE, WEIGHTS_AVAILABLE_PREFIX)
        self.control = self._socket(zmq.DEALER, self.control_endpoint)
        backoff = self.config.backoff_initial
        self._welcomed_at = None
        try:
            while not self._stop:
                incarnation = random.getrandbits(53) or 1
                data = self._socket(zmq.DEALER, self.data_endpoint, monitor=True)
                try:
                    welcome = self._hello(data, incarnation)
                    if welcome is None:
                        if self._stop:
                            break
                        why = probe(self.data_endpoint)
                        log.warning("no Welcome within %.1f s: %s; retrying in %.1f s", self.config.hello_timeout, why, backoff)
                        time.sleep(backoff)
                        backoff = min(backoff * 2, self.config.backoff_max)
                        continue
                    backoff = self.config.backoff_initial
                    self.stats["incarnations"] += 1
                    if self._welcomed_at is None:
                        self._welcomed_at = time.monotonic()
                    if self._session(data, incarnation, welcome, max_chunks):
                        break
                finally:
                    if not data.closed:
                        data.disable_monitor()
                    self._monitor.close(linger=0)
                    data.close(linger=0)
        finally:
            self.sub.close(linger=0)
            self.control.close(linger=0)
        streaming = time.monotonic() - self._welcomed_at if self._welcomed_at is not None else 0.0
        return dict(self.stats, worker_id=self.worker_id, policy_version=self.version, streaming_seconds=round(streaming, 3),
                    env_steps_per_second=round(self.stats["env_steps"] / streaming, 1) if streaming > 0 else 0.0)

    HANDSHAKE_EVENTS = {zmq.EVENT_HANDSHAKE_FAILED_AUTH: "auth", zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol",
                        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "other"}
    HANDSHAKE_LIMIT = 3

    def _handshake_failures(self, monitor):
        """Failed handshakes reported on the data socket's monitor since the last call, by kind;
        a success resets the count (as the Swift worker's HandshakeWatch)."""
        from zmq.utils.monitor import recv_monitor_message
        while monitor.poll(0):
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._handshakes = {}
            elif event in self.HANDSHAKE_EVENTS:
                kind = self.HANDSHAKE_EVENTS[event]
                self._handshakes[kind] = self._handshakes.get(kind, 0) + 1
        return self._handshakes

    def _refusal(self):
        """Why to give up, once `HANDSHAKE_LIMIT` handshakes of a kind failed in a row; else None."""
        c = self._handshakes
        if c.get("auth", 0) >= self.HANDSHAKE_LIMIT:
            return f"the learner at {self.data_endpoint} refused this key {c['auth']} times: it is not enrolled in the learner's --allow-keys (or was revoked)"
        bad = c.get("protocol", 0) + c.get("other", 0)
        if bad >= self.HANDSHAKE_LIMIT:
            if self.config.curve_server_key:
                return f"the CURVE handshake with {self.data_endpoint} failed {bad} times: --curve-server-key is not the learner's public key, or the learner does not use CURVE"
            return (f"the handshake with {self.data_endpoint} failed {bad} times: the peer hung up during the greeting; it is not a "
                    "Tributary learner, or it expects CURVE (give --curve-server-key and --curve-secret-key)")
        return None

    def _hello(self, data, incarnation):
        env = self.env
        hello = pb.Hello(protocol_versions=[PROTOCOL_VERSION], worker_id=self.worker_id, incarnation=incarnation,
                         host=socket.gethostname(), capabilities=["weights.v1"], pid=os.getpid(),
                         software_version="tributary-worker-python 0.1.0")
        hello.env.env_id = env.env_id
        hello.env.num_envs = env.num_envs
        hello.env.observation_shape.extend(env.observation_shape)
        hello.env.observation_dtype = pb.DTYPE_FLOAT32
        if env.num_actions > 0:
            hello.env.action_dtype, hello.env.num_actions = pb.DTYPE_INT32, env.num_actions
        else:
            hello.env.action_shape.extend(env.action_shape)
            hello.env.action_dtype = pb.DTYPE_FLOAT32
        data.send_multipart(encode(hello))
        deadline = time.monotonic() + self.config.hello_timeout
        while not self._stop and time.monotonic() < deadline:
            if not data.poll(int(max(1, min(100, (deadline - time.monotonic()) * 1000)))):
                # No answer yet: a refused handshake (CURVE) would never bring one.
                self._handshake_failures(self._monitor)
                why = self._refusal()
                if why:
                    raise WorkerRefused(4, why)
                continue
            message, _ = decode(data.recv_multipart(copy=False))
            if isinstance(message, pb.Welcome):
                return message
            if isinstance(message, pb.Reject):
                code = message.code
                if code in FATAL or (code == R.CODE_OVERSIZE and message.rejected_type == MESSAGE_TYPES["Hello"]):
                    raise WorkerRefused(FATAL.get(code, 2), f"the learner refused this worker ({R.Code.Name(code)}): {message.reason}")
                log.warning("Hello refused (%s): %s", R.Code.Name(code), message.reason)
                return None
        return None

    # A stopping worker waits this long at most for the learner to confirm (accept or refuse) the
    # chunks it sent before it says Goodbye, as the Swift worker does.
    DRAIN_LIMIT = 1.0

    def _session(self, data, incarnation, welcome, max_chunks):
        """One incarnation; True when the worker is done (budget spent or stopped)."""
        if welcome.run_id != self.run_id:
            # A new run (or the first): its versions start again; the old weights do not belong to it.
            self.run_id, self.policy, self.version, self._fetch = welcome.run_id, None, 0, None
        T = welcome.unroll_length
        # A learner that reads Tensor.offset gets a chunk's small tensors in one frame.
        self._share_below = SHARED_TENSOR_LIMIT if welcome.shared_tensor_frames else 0
        credits = welcome.initial_credits
        heartbeat = welcome.heartbeat_interval_ms / 1000
        liveness = welcome.liveness_ms / 1000
        needed = welcome.current_weights.version
        if needed > self.version:
            self._request_weights()
        sequence = 0
        # Chunks the learner accepted (cumulative `acked_chunks` of Credit and Heartbeat) and refused.
        acked = refused = 0
        draining = None
        last_heard = last_sent = last_summary = time.monotonic()
        sent_at_summary = self.stats["chunks_sent"]
        log.info("incarnation %d welcomed by run %s: T=%d, %d credits", incarnation, welcome.run_id, T, credits)
        poller = zmq.Poller()
        for s in (data, self.sub, self.control):
            poller.register(s, zmq.POLLIN)
        while True:
            now = time.monotonic()
            ready = self.version >= needed
            can_send = credits > 0 and ready and draining is None
            wait = 0 if can_send else max(0.0, min(0.05, last_sent + heartbeat - now))
            events = dict(poller.poll(int(wait * 1000)))
            if data in events:
                while data.poll(0):
                    last_heard = time.monotonic()
                    message, _ = decode(data.recv_multipart(copy=False))
                    if isinstance(message, pb.Credit):
                        credits += message.credits
                        acked = max(acked, message.acked_chunks)
                    elif isinstance(message, pb.Reject):
                        credits += message.credits_returned
                        refused += message.rejected_type == MESSAGE_TYPES["TrajectoryChunk"]
                        name = R.Code.Name(message.code)
                        self.stats["rejected"][name] = self.stats["rejected"].get(name, 0) + 1
                        if message.code in FATAL:
                            raise WorkerRefused(FATAL[message.code], f"the learner refused this worker ({name}): {message.reason}")
                        if message.code in RECONNECT:
                            log.warning("%s: %s; reconnecting as a new incarnation", name, message.reason)
                            self.stats["chunks_acked"] += acked
                            return False
                        log.warning("chunk %d refused (%s): %s", message.sequence, name, message.reason)
                    elif isinstance(message, pb.Heartbeat):
                        acked = max(acked, message.acked_chunks)
                        if message.policy_version > self.version:
                            self._request_weights()
            if self.sub in events:
                while self.sub.poll(0):
                    try:
                        message, _ = decode(self.sub.recv_multipart(copy=False))
                    except ProtocolError:
                        continue
                    if isinstance(message, pb.WeightsAvailable) and message.run_id == self.run_id and message.version > self.version:
                        self._request_weights()
            if self.control in events:
                while self.control.poll(0):
                    self._weights_part(*decode(self.control.recv_multipart(copy=False)))
            now = time.monotonic()
            if self._fetch is not None and now - self._fetch["started"] > self.config.weights_timeout:
                log.warning("no Weights answer within %.1f s (%s); will ask again", self.config.weights_timeout, probe(self.control_endpoint))
                self._fetch = None
            if now - last_heard > liveness:
                log.warning("the learner was silent for %.1f s; reconnecting as a new incarnation", now - last_heard)
                self.stats["chunks_acked"] += acked
                return False
            budget_spent = max_chunks is not None and self.stats["chunks_sent"] >= max_chunks
            if (self._stop or budget_spent) and draining is None:
                draining = now
            if draining is not None:
                # Goodbye once every chunk sent is confirmed, or after DRAIN_LIMIT.
                if acked + refused >= sequence or now - draining > min(liveness, self.DRAIN_LIMIT):
                    reason = "shutdown" if self._stop else "budget spent"
                    data.send_multipart(encode(pb.Goodbye(reason=reason, chunks_sent=sequence)))
                    data.close(linger=1000)
                    self.stats["chunks_acked"] += acked
                    return True
            elif credits > 0 and self.version >= needed:
                message, frames = self._chunk(T, incarnation, sequence)
                data.send_multipart(encode(message, frames), copy=False)
                credits -= 1
                sequence += 1
                self.stats["chunks_sent"] += 1
                last_sent = time.monotonic()
            if time.monotonic() - last_sent >= heartbeat:
                data.send_multipart(encode(pb.Heartbeat(unix_ms=int(time.time() * 1000), policy_version=self.version)))
                last_sent = time.monotonic()
            if time.monotonic() - last_summary >= 10:
                seconds = time.monotonic() - last_summary
                chunks = self.stats["chunks_sent"] - sent_at_summary
                log.info("last %.0f s: %d chunks, %.0f env steps/s, acting with policy version %d",
                         seconds, chunks, chunks * T * self.env.num_envs / seconds, self.version)
                last_summary, sent_at_summary = time.monotonic(), self.stats["chunks_sent"]

    # Weights ------------------------------------------------------------------------------------

    def _request_weights(self):
        if self._fetch is not None:
            return  # one fetch at a time; the newest version is asked for when it ends
        self.control.send_multipart(encode(pb.GetWeights(have_version=self.version)))
        self._fetch = {"started": time.monotonic(), "parts": [], "next": 0, "first": None}

    def _weights_part(self, message, frames):
        fetch = self._fetch
        if fetch is None or not isinstance(message, pb.Weights):
            return
        if message.not_modified:
            self._fetch = None
            return
        ok = message.part_index == fetch["next"] and message.offset == sum(len(p) for p in fetch["parts"])
        if ok and message.part_index == 0:
            fetch["first"] = message
        if not ok or fetch["first"] is None:
            log.warning("Weights part %d/%d out of order; fetching again", message.part_index, message.part_count)
            self._fetch = None
            return
        fetch["parts"].append(tensor_array(message.data, frames).tobytes())
        fetch["next"] += 1
        if fetch["next"] < message.part_count:
            return
        first, blob = fetch["first"], b"".join(fetch["parts"])
        self._fetch = None
        if len(blob) != first.total_size or hashlib.sha256(blob).digest() != first.digest:
            self.stats["digest_mismatches"] += 1
            log.warning("weights version %d: %d bytes whose SHA-256 is not the announced digest; fetching again", first.version, len(blob))
            return
        if first.model.family == "stand-in":
            policy = None  # the synthetic trainer's bytes are not a network: act at random
        else:
            try:
                policy = Policy(first.model, blob)
            except ModelError as e:
                raise WorkerRefused(2, f"the learner's model cannot be run here: {e}")
        self.policy, self.version = policy, first.version
        self.stats["weight_fetches"] += 1
        log.debug("acting with weights version %d (%d bytes)", first.version, len(blob))

    # Acting -------------------------------------------------------------------------------------

    def _act(self, obs):
        if self.policy is not None:
            return self.policy.act(obs, self.rng)
        b = self.env.num_envs
        if self.env.num_actions > 0:
            a = self.rng.integers(0, self.env.num_actions, size=b).astype(np.int32)
            return a, np.full(b, -math.log(self.env.num_actions), dtype=np.float32), None
        a = self.rng.standard_normal((b,) + tuple(self.env.action_shape)).astype(np.float32)
        return a, (-0.5 * a * a - 0.5 * math.log(2 * math.pi)).sum(axis=1).astype(np.float32), None

    def _chunk(self, T, incarnation, sequence):
        """T steps of every copy, as a TrajectoryChunk and its tensor frames (docs/protocol.md §6)."""
        env, B = self.env, self.env.num_envs
        obs_shape = tuple(env.observation_shape)
        discrete = env.num_actions > 0
        observations = np.empty((T, B) + obs_shape, dtype=np.float32)
        actions = np.empty((T, B), dtype=np.int32) if discrete else np.empty((T, B) + tuple(env.action_shape), dtype=np.float32)
        logp = np.empty((T, B), dtype=np.float32)
        rewards = np.empty((T, B), dtype=np.float32)
        terminated = np.zeros((T, B), dtype=np.uint8)
        truncated = np.zeros((T, B), dtype=np.uint8)
        versions = np.full(T, self.version, dtype=np.uint64)
        finals, final_index, episodes = [], [], []
        # A sequence task's K copies answer one prompt: the chunk is that group.
        group = env.chunk_group() if hasattr(env, "chunk_group") else None
        for t in range(T):
            observations[t] = self.obs
            a, lp, _ = self._act(self.obs)
            actions[t], logp[t] = a, lp
            self.obs, r, te, tr, final = env.step(a)
            rewards[t], terminated[t], truncated[t] = r, te, tr
            self.ep_return += rewards[t]
            self.ep_length += 1
            for b in np.flatnonzero(te | tr):
                episodes.append(pb.EpisodeStats(env_index=int(b), step=t, episode_return=float(self.ep_return[b]),
                                                length=int(self.ep_length[b]), terminated=bool(te[b]), truncated=bool(tr[b])))
                self.ep_return[b], self.ep_length[b] = 0, 0
                if tr[b]:
                    if b not in final:
                        raise ProtocolError(f"{env.env_id}: copy {b} was truncated at step {t} without a final observation")
                    finals.append(final[b])
                    final_index.append((t, b))
        self.stats["env_steps"] += T * B
        self.stats["episodes"] += len(episodes)
        tf = TensorFrames(share_below=self._share_below)
        c = pb.TrajectoryChunk(run_id=self.run_id, worker_id=self.worker_id, incarnation=incarnation, env_id=env.env_id,
                               sequence=sequence, length=T, num_envs=B, created_unix_ns=time.time_ns())
        c.policy_versions.CopyFrom(tf.add(versions, "<u8", [T]))
        c.observations.CopyFrom(tf.add(observations, "<f4", (T, B) + obs_shape))
        c.actions.CopyFrom(tf.add(actions, "<i4", (T, B)) if discrete else tf.add(actions, "<f4", (T, B) + tuple(env.action_shape)))
        c.behaviour_logp.CopyFrom(tf.add(logp, "<f4", (T, B)))
        c.rewards.CopyFrom(tf.add(rewards, "<f4", (T, B)))
        c.terminated.CopyFrom(tf.add(terminated, "u1", (T, B)))
        c.truncated.CopyFrom(tf.add(truncated, "u1", (T, B)))
        if finals:
            k = len(finals)
            c.final_observations.CopyFrom(tf.add(np.stack(finals).astype(np.float32), "<f4", (k,) + obs_shape))
            c.final_observation_index.CopyFrom(tf.add(np.asarray(final_index, dtype=np.int32), "<i4", (k, 2)))
        c.bootstrap_observation.CopyFrom(tf.add(np.asarray(self.obs, dtype=np.float32), "<f4", (B,) + obs_shape))
        c.episodes.extend(episodes)
        if group is not None:
            c.group_id, c.sample_index, c.prompt_id = group[0], 0, group[1]
        return c, tf.frames
