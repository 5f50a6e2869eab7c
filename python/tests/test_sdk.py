"""The Python SDK against the repository's own material: the schema it was generated from, the
golden frames and policies the Swift code writes, gymnasium's autoreset, and (with
TRIBUTARY_BIN_DIR) a real learner process over real ZeroMQ sockets."""
import base64
import hashlib
import json
import os
import pathlib
import struct
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import zmq

import tributary_worker as tw
from tributary_worker import wire
from tributary_worker._proto import SCHEMA_SHA256, pb

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_generated_code_matches_the_schema():
    proto = ROOT / "Sources/Protocol/tributary.proto"
    assert hashlib.sha256(proto.read_bytes()).hexdigest() == SCHEMA_SHA256, \
        "tributary.proto changed: run scripts/generate-protos.sh"


def frames_of(name):
    data, frames, at = (ROOT / "Tests/ProtocolTests/Golden" / name).read_bytes(), [], 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        frames.append(data[at + 4:at + 4 + n])
        at += 4 + n
    return frames


@pytest.mark.parametrize("name,cls", [("hello.frames", pb.Hello), ("welcome.frames", pb.Welcome),
                                      ("chunk.frames", pb.TrajectoryChunk), ("chunk_shared.frames", pb.TrajectoryChunk),
                                      ("credit.frames", pb.Credit),
                                      ("reject.frames", pb.Reject), ("weights_available.frames", pb.WeightsAvailable)])
def test_golden_frames_decode_and_encode_back(name, cls):
    frames = frames_of(name)
    message, tensors = wire.decode(frames)
    assert isinstance(message, cls)
    assert wire.encode(message, tensors)[0] == frames[0]
    assert message == cls.FromString(wire.encode(message, tensors)[1])
    if cls is pb.TrajectoryChunk:
        obs = wire.tensor_array(message.observations, tensors, shared="shared" in name)
        assert obs.shape == (message.length, message.num_envs) + tuple(message.observations.shape[2:])


TENSORS = ["policy_versions", "observations", "actions", "behaviour_logp", "rewards", "terminated", "truncated",
           "final_observations", "final_observation_index", "bootstrap_observation"]


def test_shared_tensor_frames_pack_like_the_swift_worker():
    """The SDK packs a chunk's tensors into one frame byte for byte as the Swift worker does
    (the golden chunk_shared was written by Swift), and reads them back from their offsets."""
    plain, plain_tensors = wire.decode(frames_of("chunk.frames"))
    shared, shared_tensors = wire.decode(frames_of("chunk_shared.frames"))
    assert len(plain_tensors) == 10 and len(shared_tensors) == 1
    tf = wire.TensorFrames(share_below=wire.SHARED_TENSOR_LIMIT)
    for name in TENSORS:
        array = wire.tensor_array(getattr(plain, name), plain_tensors)
        assert np.array_equal(wire.tensor_array(getattr(shared, name), shared_tensors, shared=True), array)
        t = tf.add(array, array.dtype.newbyteorder("<"), array.shape)
        assert (t.frame, t.offset) == (getattr(shared, name).frame, getattr(shared, name).offset)
    assert tf.frames == [bytes(shared_tensors[0])]
    # Without the Learner's offer, a frame per tensor.
    assert len(wire.TensorFrames().frames) == 0
    one = wire.TensorFrames()
    for name in TENSORS:
        array = wire.tensor_array(getattr(plain, name), plain_tensors)
        one.add(array, array.dtype.newbyteorder("<"), array.shape)
    assert [bytes(f) for f in one.frames] == [bytes(f) for f in plain_tensors]


def test_a_wrong_header_is_refused():
    with pytest.raises(wire.ProtocolError):
        wire.decode([b"TR\x02\x01", b""])
    with pytest.raises(wire.ProtocolError):
        wire.decode([b"XX\x01\x01", b""])


@pytest.mark.parametrize("head", ["categorical", "gaussian"])
def test_the_numpy_policy_matches_the_golden_fixture(head):
    g = json.loads((ROOT / f"Tests/NeuralNetTests/Golden/policy-{head}.json").read_text())
    model = pb.ModelSpec(**g["model"])
    policy = tw.Policy(model, base64.b64decode(g["parameters_base64"]))
    x = np.asarray(g["observations"], dtype=np.float32).reshape(g["rows"], -1)
    np.testing.assert_allclose(policy.forward(x).ravel(), g["outputs"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(policy.values(x), g["values"], rtol=1e-5, atol=1e-5)
    if head == "categorical":
        np.testing.assert_allclose(policy.log_probs(x).ravel(), g["log_probs"], rtol=1e-5, atol=1e-5)
    else:
        mean, log_std = policy.gaussian(x)
        np.testing.assert_allclose(mean.ravel(), g["means"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(log_std.ravel(), g["log_stds"], rtol=1e-5, atol=1e-5)
    # Sampling: the log-probs returned are those of the actions returned.
    actions, logp, _ = policy.act(x, np.random.default_rng(0))
    if head == "categorical":
        np.testing.assert_allclose(logp, policy.log_probs(x)[np.arange(len(x)), actions], rtol=1e-6)
    else:
        m, s = policy.gaussian(x)
        want = (-0.5 * ((actions - m) / np.exp(s)) ** 2 - s - 0.5 * np.log(2 * np.pi)).sum(axis=1)
        np.testing.assert_allclose(logp, want, rtol=1e-5)


def test_tensors_are_checked_before_sending():
    tf = wire.TensorFrames()
    with pytest.raises(wire.ProtocolError):
        tf.add(np.zeros((2, 3), dtype=np.float64), "<f4", (2, 3))
    with pytest.raises(wire.ProtocolError):
        tf.add(np.zeros((2, 3), dtype=np.float32), "<f4", (3, 2))
    t = tf.add(np.arange(6, dtype=np.float32).reshape(2, 3), "<f4", (2, 3))
    assert t.frame == 0 and list(t.shape) == [2, 3] and t.dtype == pb.DTYPE_FLOAT32
    assert np.array_equal(wire.tensor_array(t, tf.frames), np.arange(6, dtype=np.float32).reshape(2, 3))


def test_gymnasium_autoreset_gives_the_protocols_observations_and_final_observations():
    env = tw.GymnasiumEnv("CartPole-v1", num_envs=3, max_episode_steps=5)  # truncated every 5 steps
    worker = tw.Worker(env, tw.WorkerConfig(seed=1))
    worker.obs = env.reset(seed=1)
    worker.ep_return = np.zeros(3)
    worker.ep_length = np.zeros(3, dtype=np.int64)
    worker.run_id, worker.version = "run-t", 0
    chunk, frames = worker._chunk(T=12, incarnation=7, sequence=0)
    truncated = wire.tensor_array(chunk.truncated, frames)
    terminated = wire.tensor_array(chunk.terminated, frames)
    index = wire.tensor_array(chunk.final_observation_index, frames)
    finals = wire.tensor_array(chunk.final_observations, frames)
    obs = wire.tensor_array(chunk.observations, frames)
    # Every truncated step is listed, in (t, b) order, with a final observation of its own.
    assert [tuple(i) for i in index] == [tuple(i) for i in np.argwhere(truncated == 1)]
    assert finals.shape == (len(index), 4)
    for (t, b), final in zip(index, finals):
        if t + 1 < 12:
            # observations[t+1] is the next episode's first observation, not the final one.
            assert not np.array_equal(obs[t + 1, b], final)
    # One episode entry per ended episode, with its length.
    ended = int(((truncated == 1) | (terminated == 1)).sum())
    assert len(chunk.episodes) == ended
    assert all(e.length <= 5 for e in chunk.episodes)
    env.close()


def test_sequence_task_encoding_and_verifiers_follow_protocol_md():
    from tributary_worker.tasks import TASKS, SequenceTaskEnv
    t = TASKS["addrev"]
    x = t.encode((7, 8), [5], 1)
    assert t.observation_size == 42 and list(np.flatnonzero(x)) == [7, 18, 25, 41]
    assert t.correct((7, 8), [5, 1]) and not t.correct((7, 8), [1, 5]) and TASKS["add"].correct((7, 8), [1, 5])
    assert TASKS["add3"].prompt(123989) == (1, 2, 3, 9, 8, 9) and TASKS["add3"].correct((1, 2, 3, 9, 8, 9), [1, 1, 1, 2])
    assert TASKS["reach"].count == 274 and TASKS["reach"].correct((3, 13), [1, 0, 1, 2])
    env = SequenceTaskEnv("addrev", num_envs=4, seed=1)
    obs = env.reset()
    group, prompt = env.chunk_group()
    a, b = env.prompt
    right = [(a + b) % 10, (a + b) // 10]
    obs, r, te, tr, _ = env.step(np.array([right[0]] * 4))
    assert not te.any() and not r.any()
    wrong = (right[1] + 1) % 10
    obs, r, te, tr, finals = env.step(np.array([right[1], wrong, wrong, wrong]))
    assert te.all() and list(r) == [1, 0, 0, 0] and sorted(finals) == [0, 1, 2, 3]
    assert env.chunk_group()[0] != group and prompt == f"addrev:{a * 10 + b}"


def test_learner_hostport_parsing():
    assert tw.WorkerConfig(learner="10.0.0.5").endpoints() == ("tcp://10.0.0.5:5555", "tcp://10.0.0.5:5556", "tcp://10.0.0.5:5557")
    assert tw.WorkerConfig(learner="h:6000").endpoints()[2] == "tcp://h:6002"
    assert tw.WorkerConfig(learner="[::1]:7000").endpoints()[0] == "tcp://[::1]:7000"
    with pytest.raises(ValueError):
        tw.WorkerConfig(learner="h:99999").endpoints()


# A real learner --------------------------------------------------------------------------------

BIN = os.environ.get("TRIBUTARY_BIN_DIR")
needs_learner = pytest.mark.skipif(not BIN, reason="TRIBUTARY_BIN_DIR (the built learner) is not set")


def start_learner(*args, env="CartPole-v1", runs="", port=0):
    p = subprocess.Popen([os.path.join(BIN, "learner"), "--env", env, "--data-port", str(port), "--no-metrics",
                          "--runs", str(runs), "--log-level", "warning", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line:  # it exited before `ready`: say why, not a JSON error
        p.wait(timeout=20)
        raise AssertionError(f"learner exited with {p.returncode} before it was ready: {p.stderr.read()[-2000:]}")
    ready = json.loads(line)
    assert ready["event"] == "ready", ready
    return p, ready


def stop(learner, *workers):
    """Ends the workers, then the learner if it is still running."""
    for w in workers:
        w.terminate()
        w.wait(timeout=20)
    if learner.poll() is None:
        learner.terminate()
        learner.wait(timeout=20)


def status(control):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(control)
    s.send_multipart(wire.encode(pb.StatusRequest(include_workers=True)))
    assert s.poll(5000), "no status reply"
    reply, _ = wire.decode(s.recv_multipart())
    s.close()
    return reply


@needs_learner
def test_a_python_worker_streams_to_a_real_learner_and_acts_with_its_weights():
    learner, ready = start_learner()
    try:
        data, weights, control = ready["data"][0], ready["weights"][0], ready["control"][0]
        out = subprocess.run([sys.executable, "-m", "tributary_worker.cli", "--data", data, "--weights", weights, "--control", control,
                              "--env", "CartPole-v1", "--num-envs", "16", "--seed", "3", "--worker-id", "py-0", "--max-chunks", "150"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        assert summary["chunks_sent"] == 150 and summary["digest_mismatches"] == 0
        assert summary["weight_fetches"] >= 2 and summary["policy_version"] > 1, summary
        s = status(control)
        assert s.chunks_accepted >= 140, s
        # The worker drained before its Goodbye: every chunk it sent was acknowledged (by Credits
        # or, for those still buffered, by the learner's heartbeats).
        assert summary["chunks_acked"] == s.chunks_accepted == 150, (summary, s.chunks_accepted)
        # Nothing refused but chunks that raced the goodbye. Every episode the worker reported was
        # verified but the first of each copy, whose start precedes the session's first chunk as
        # far as the learner can tell (docs/protocol.md §6, "Episode statistics").
        assert {k: v for k, v in s.rejected.items() if k != "shutting_down"} == {}, s.rejected
        assert s.episodes > 0 and s.episodes_unverified <= 16, (s.episodes, s.episodes_unverified)
        row = [w for w in s.workers if w.worker_id == "py-0"][0]
        assert row.expired_reason.startswith("goodbye") and row.chunks_reported_sent == 150
    finally:
        learner.terminate()
        learner.wait(timeout=20)


@needs_learner
def test_a_worker_for_another_environment_exits_2_with_the_reason():
    learner, ready = start_learner()
    try:
        out = subprocess.run([sys.executable, "-m", "tributary_worker.cli", "--data", ready["data"][0], "--weights", ready["weights"][0],
                              "--control", ready["control"][0], "--env", "Acrobot-v1", "--num-envs", "2"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stderr[-1000:]
        assert "ENV_MISMATCH" in out.stderr and "Acrobot-v1" in out.stderr
    finally:
        learner.terminate()
        learner.wait(timeout=20)


@needs_learner
def test_a_python_worker_with_curve_keys_streams_to_a_curve_learner_and_one_without_exits_4(tmp_path):
    tributary = os.path.join(BIN, "tributary")
    subprocess.run([tributary, "keys", "generate", "learner", "--dir", str(tmp_path / "learner")], check=True, capture_output=True)
    subprocess.run([tributary, "keys", "generate", "py-w", "--dir", str(tmp_path / "allowed")], check=True, capture_output=True)
    learner, ready = start_learner("--curve-secret-key", str(tmp_path / "learner/learner.key_secret"),
                                   "--allow-keys", str(tmp_path / "allowed"))
    try:
        endpoints = ["--data", ready["data"][0], "--weights", ready["weights"][0], "--control", ready["control"][0]]
        keyed = subprocess.run([sys.executable, "-m", "tributary_worker.cli", *endpoints, "--env", "CartPole-v1", "--num-envs", "4",
                                "--max-chunks", "20", "--curve-server-key", str(tmp_path / "learner/learner.key"),
                                "--curve-secret-key", str(tmp_path / "allowed/py-w.key_secret")],
                               capture_output=True, text=True, timeout=60)
        assert keyed.returncode == 0, keyed.stderr[-1500:]
        assert json.loads(keyed.stdout.strip().splitlines()[-1])["chunks_sent"] == 20
        # Without keys the handshake fails: the worker gives up with exit 4 and says why.
        started = time.monotonic()
        plain = subprocess.run([sys.executable, "-m", "tributary_worker.cli", *endpoints, "--env", "CartPole-v1", "--num-envs", "4"],
                               capture_output=True, text=True, timeout=60)
        assert plain.returncode == 4, plain.stderr[-1500:]
        assert "expects CURVE" in plain.stderr and time.monotonic() - started < 30
    finally:
        learner.terminate()
        learner.wait(timeout=20)


@needs_learner
def test_python_workers_solve_addrev_with_grpo_on_the_swift_learner():
    learner, ready = start_learner("--preset", "grpo", "--target-return", "0.9", "--max-updates", "1500", env="addrev")
    workers = []
    try:
        endpoints = ["--data", ready["data"][0], "--weights", ready["weights"][0], "--control", ready["control"][0]]
        workers = [subprocess.Popen([sys.executable, "-m", "tributary_worker.cli", *endpoints, "--env", "addrev", "--num-envs", "8",
                                     "--seed", str(i + 1)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for i in range(2)]
        out, err = learner.communicate(timeout=300)
        assert learner.returncode == 0, err[-1500:]
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["event"] == "summary" and summary.get("solved"), summary
        # the mean when the target was reached; the learner keeps training until it stops
        assert summary["solved"]["mean_return_100"] >= 0.9
        assert summary["status"]["chunks_consumed"] == summary["status"]["chunks_accepted"]
    finally:
        stop(learner, *workers)


EXAMPLES = ROOT / "python" / "examples"


def worker_cli(ready, *args, **popen):
    """A `tributary-worker` process for the learner `ready` describes."""
    endpoints = ["--data", ready["data"][0], "--weights", ready["weights"][0], "--control", ready["control"][0]]
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES))
    return subprocess.Popen([sys.executable, "-m", "tributary_worker.cli", *endpoints, *args], env=env, **popen)


def run_episodes(policy, env, episodes, greedy):
    returns = []
    for e in range(episodes):
        obs, _ = env.reset(seed=e)
        total, done = 0.0, False
        while not done:
            obs, r, terminated, truncated, _ = env.step(policy.act(obs, greedy=greedy))
            total += r
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


@needs_learner
def test_a_custom_python_environment_the_learner_has_never_seen_is_trained_to_its_target(tmp_path):
    """python/examples/corridor.py is declared to the learner by the flags the worker prints; the
    learner validates every chunk against that declaration, trains it to the target without any
    of its code, and the policy it wrote loads in Python and solves the environment."""
    flags = subprocess.run([sys.executable, "-m", "tributary_worker.cli", "--env", "corridor:Corridor", "--print-learner-flags"],
                           env=dict(os.environ, PYTHONPATH=str(EXAMPLES)), capture_output=True, text=True, check=True).stdout.split()
    assert flags == ["--env", "Corridor-v0", "--observation-shape", "2", "--action-space", "discrete:2", "--max-episode-steps", "32"]
    env_id = flags[1]
    learner, ready = start_learner(*flags[2:], "--target-return", "0.9", "--max-updates", "3000", "--run-id", "corridor",
                                   env=env_id, runs=tmp_path)
    workers = []
    try:
        workers = [worker_cli(ready, "--env", "corridor:Corridor", "--num-envs", "16", "--seed", str(i + 1),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
        out, err = learner.communicate(timeout=240)
        assert learner.returncode == 0, err[-1500:]
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["event"] == "summary" and summary.get("solved"), summary
        s = summary["status"]
        assert summary["solved"]["mean_return_100"] >= 0.9 and s["episodes"] >= 100
        assert {k: v for k, v in s.get("rejected", {}).items() if k != "shutting_down"} == {}, s.get("rejected")
    finally:
        stop(learner, *workers)
    config = json.loads((tmp_path / "corridor" / "config.json").read_text())
    assert config["env_id"] == "Corridor-v0"
    assert config["external_environment"]["action_space"] == "discrete:2"
    sys.path.insert(0, str(EXAMPLES))
    try:
        from corridor import Corridor
    finally:
        sys.path.remove(str(EXAMPLES))
    policy = tw.load_policy(tmp_path / "corridor", seed=0)
    assert policy.env_id == "Corridor-v0" and policy.version > 1
    assert run_episodes(policy, Corridor(), 100, greedy=True) >= 0.9
    # The run directory's final parameters are the same policy as its newest checkpoint.
    observations = np.random.default_rng(0).uniform(-1, 1, size=(32, 2)).astype(np.float32)
    spec = types.SimpleNamespace(**json.loads((tmp_path / "corridor" / "model.json").read_text()))
    from_final = tw.Policy(spec, (tmp_path / "corridor" / "final_parameters.bin").read_bytes())
    np.testing.assert_array_equal(from_final.forward(observations), policy.policy.forward(observations))


def test_load_policy_refuses_what_is_not_an_intact_checkpoint_and_falls_back_past_a_torn_one(tmp_path):
    golden = json.loads((ROOT / "Tests/NeuralNetTests/Golden/policy-categorical.json").read_text())
    m = golden["model"]
    params = base64.b64decode(golden["parameters_base64"])
    body = json.dumps({"trainer": {"settings": {"hidden": m["hidden_sizes"], "activation": m["activation"]},
                                   "head": {"categorical": {"actions": m["action_size"]}}, "observationSize": m["observation_size"],
                                   "version": 7, "parameters": base64.b64encode(params).decode()},
                       "config": {"envID": "Golden-v0"}}).encode()
    good = b"TRIBUTARY-CHECKPOINT 1\nsha256 " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint-000000000001.ckpt").write_bytes(good)
    (run / "checkpoints" / "checkpoint-000000000002.ckpt").write_bytes(good[:-10])  # torn by a crash
    policy = tw.load_policy(run)
    assert policy.version == 7 and policy.source.endswith("checkpoint-000000000001.ckpt")
    outputs = policy.policy.forward(np.asarray(golden["observations"], dtype=np.float32))
    np.testing.assert_allclose(outputs.reshape(-1), np.asarray(golden["outputs"], dtype=np.float32).reshape(-1), atol=1e-5)
    for name, data, reason in [("torn.ckpt", good[:-10], "digest mismatch"), ("other.bin", b"hello\nworld\n", "not a Tributary checkpoint"),
                               ("future.ckpt", good.replace(b"CHECKPOINT 1", b"CHECKPOINT 9", 1), "format 9")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(tw.PolicyFileError, match=reason):
            tw.load_policy(tmp_path / name)
    with pytest.raises(tw.PolicyFileError, match="no best checkpoint"):
        tw.load_policy(run, best=True)
    with pytest.raises(tw.PolicyFileError, match="no such file"):
        tw.load_policy(tmp_path / "missing")


@needs_learner
def test_python_and_swift_workers_feed_one_cartpole_learner():
    learner, ready = start_learner("--target-return", "off", "--max-updates", "400")
    try:
        endpoints = ["--data", ready["data"][0], "--weights", ready["weights"][0], "--control", ready["control"][0]]
        swift = subprocess.Popen([os.path.join(BIN, "rollout-worker"), *endpoints, "--env", "CartPole-v1", "--num-envs", "8",
                                  "--worker-id", "swift-0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        python = worker_cli(ready, "--env", "CartPole-v1", "--num-envs", "8", "--worker-id", "py-0",
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Both stream while the learner trains; then the status shows both rows with accepted chunks.
        deadline = time.monotonic() + 120
        rows = {}
        while time.monotonic() < deadline:
            s = status(ready["control"][0])
            rows = {w.worker_id: w for w in s.workers if not w.expired}
            if all(rows.get(k) and rows[k].chunks_received - rows[k].chunks_rejected >= 20 for k in ("swift-0", "py-0")):
                break
            time.sleep(0.5)
        for k in ("swift-0", "py-0"):
            assert rows.get(k) and rows[k].chunks_received - rows[k].chunks_rejected >= 20, rows
        assert {k: v for k, v in s.rejected.items() if k != "shutting_down"} == {}, s.rejected
        assert s.updates > 0
    finally:
        for p in (swift, python):
            p.terminate()
            p.wait(timeout=20)
        learner.terminate()
        learner.wait(timeout=20)


class RawPeer:
    """A hand-driven DEALER on a learner's data socket: what a buggy or hostile client sends."""

    def __init__(self, endpoint):
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(endpoint)

    def exchange(self, frames):
        """The learner's answer to `frames` (heartbeats skipped)."""
        self.socket.send_multipart(frames)
        while True:
            assert self.socket.poll(5000), "no answer from the learner"
            message, _ = wire.decode(self.socket.recv_multipart())
            if not isinstance(message, pb.Heartbeat):
                return message

    def code(self, frames):
        answer = self.exchange(frames)
        assert isinstance(answer, pb.Reject), answer
        return pb.Reject.Code.Name(answer.code)

    def close(self):
        self.socket.close()


@needs_learner
def test_bad_input_from_python_is_refused_with_the_documented_code_counted_and_loses_nothing():
    """docs/protocol.md §4 and §6, rule by rule, from a client in another language, against a
    learner that trains a declared (external) environment: each bad message gets its Reject code,
    a refused chunk gets its credit back, and a good chunk afterwards is accepted and trained."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        from corridor import Corridor
    finally:
        sys.path.remove(str(EXAMPLES))
    learner, ready = start_learner("--observation-shape", "2", "--action-space", "discrete:2", "--max-episode-steps", "32",
                                   "--unroll-length", "8", "--batch-columns", "4", "--liveness-ms", "60000", env="Corridor-v0")
    peer = RawPeer(ready["data"][0])
    try:
        env = tw.GymnasiumEnv(Corridor, num_envs=4, env_id="Corridor-v0")
        worker = tw.Worker(env, tw.WorkerConfig(worker_id="py-bad", seed=1))

        def hello(**change):
            h = pb.Hello(protocol_versions=[1], worker_id="py-bad", incarnation=11)
            h.env.env_id, h.env.num_envs = "Corridor-v0", 4
            h.env.observation_shape.extend([2])
            h.env.observation_dtype, h.env.action_dtype, h.env.num_actions = pb.DTYPE_FLOAT32, pb.DTYPE_INT32, 2
            for path, value in change.items():
                target = h.env if path != "worker_id" else h
                if isinstance(value, list):
                    del getattr(target, path)[:]
                    getattr(target, path).extend(value)
                else:
                    setattr(target, path, value)
            return wire.encode(h)

        assert peer.code(hello(env_id="LunarLander-v3")) == "CODE_ENV_MISMATCH"
        assert peer.code(hello(observation_shape=[3])) == "CODE_ENV_MISMATCH"
        assert peer.code(hello(num_actions=3)) == "CODE_ENV_MISMATCH"
        assert peer.code(hello(worker_id="")) == "CODE_MALFORMED"
        assert peer.code(hello(worker_id="w" * 129)) == "CODE_FIELD_TOO_LONG"
        welcome = peer.exchange(hello())
        assert isinstance(welcome, pb.Welcome) and welcome.unroll_length == 8, welcome

        worker.run_id, worker.obs = welcome.run_id, env.reset(seed=1)
        worker.ep_return, worker.ep_length = np.zeros(4), np.zeros(4, dtype=np.int64)
        sequence = iter(range(1, 1000))

        def chunk(mutate=None, tensors=None, seq=None):
            message, frames = worker._chunk(8, 11, next(sequence) if seq is None else seq)
            frames = list(frames)
            if mutate:
                mutate(message)
            for name, fn in (tensors or {}).items():
                t = getattr(message, name)
                frames[t.frame] = fn(wire.tensor_array(t, frames).copy()).tobytes()
            return wire.encode(message, frames)

        def set_(i, v):
            def f(a):
                a.reshape(-1)[i] = v
                return a
            return f

        def other_env(m):  # another environment's id and its shape: rule 5 (env_id) comes before 6 (shapes)
            m.env_id = "CartPole-v1"
            m.observations.shape[2] = 4

        expected = [
            ("CODE_WRONG_RUN", chunk(lambda m: setattr(m, "run_id", "another-run"))),
            ("CODE_ENV_MISMATCH", chunk(lambda m: setattr(m, "env_id", "CartPole-v1"))),
            ("CODE_ENV_MISMATCH", chunk(other_env)),
            ("CODE_FIELD_TOO_LONG", chunk(lambda m: setattr(m, "prompt_id", "p" * 257))),
            ("CODE_SHAPE_MISMATCH", chunk(lambda m: m.observations.shape.__setitem__(2, 3))),
            ("CODE_NON_FINITE", chunk(tensors={"rewards": set_(5, np.nan)})),
            ("CODE_ACTION_OUT_OF_RANGE", chunk(tensors={"actions": set_(0, 2)})),
            ("CODE_MALFORMED", chunk(tensors={"terminated": set_(3, 2)})),
            ("CODE_BAD_VERSION", chunk(tensors={"policy_versions": set_(7, 99)})),
        ]
        for code, frames in expected:
            answer = peer.exchange(frames)
            assert isinstance(answer, pb.Reject) and pb.Reject.Code.Name(answer.code) == code, (code, answer)
            assert answer.credits_returned == 1 and answer.rejected_type == 3, answer
        # An episode longer than the declared time limit (--max-episode-steps 32) cannot be true.
        for _ in range(50):
            message, frames = worker._chunk(8, 11, next(sequence))
            if message.episodes:
                break
        message.episodes[0].length = 33
        assert peer.code(wire.encode(message, frames)) == "CODE_BAD_EPISODE"
        # After all that, a good chunk is accepted, trained (one chunk is a batch of 4 columns)
        # and acknowledged.
        peer.socket.send_multipart(chunk())
        deadline = time.monotonic() + 10
        acked = 0
        while acked < 1 and time.monotonic() < deadline:
            if peer.socket.poll(100):
                answer, _ = wire.decode(peer.socket.recv_multipart())
                assert not isinstance(answer, pb.Reject), answer
                acked = max(acked, getattr(answer, "acked_chunks", 0))
        assert acked == 1
        assert peer.code(chunk(seq=0)) == "CODE_BAD_SEQUENCE"
        expected += [("CODE_BAD_EPISODE", None), ("CODE_BAD_SEQUENCE", None)]
        s = status(ready["control"][0])
        counts = {}
        for code, _ in expected:
            counts[code[len("CODE_"):].lower()] = counts.get(code[len("CODE_"):].lower(), 0) + 1
        assert dict(s.rejected_chunks) == counts, dict(s.rejected_chunks)
        assert s.chunks_accepted == 1
        a = s.accounting
        assert a.received == a.trained + sum(a.dropped.values()) + a.buffered and a.trained == 1, a
        assert learner.poll() is None, "the learner survived"
    finally:
        peer.close()
        learner.terminate()
        learner.wait(timeout=20)


@needs_learner
def test_a_hello_that_reaches_a_learner_after_its_sender_gave_up_leaves_no_ghost_session():
    """A client that closes its socket without ZMQ_LINGER 0 while the learner is not up yet has its
    Hello delivered when the learner starts; the learner's Welcome then cannot be routed, so the
    session ends at once as `disconnected` instead of holding credits until liveness expires."""
    import socket as sockets
    probe = sockets.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    ctx = zmq.Context()
    early = ctx.socket(zmq.DEALER)  # default linger: its queued Hello outlives the close
    early.connect(f"tcp://127.0.0.1:{port}")
    h = pb.Hello(protocol_versions=[1], worker_id="gave-up", incarnation=7)
    h.env.env_id, h.env.num_envs = "CartPole-v1", 4
    h.env.observation_shape.append(4)
    h.env.observation_dtype, h.env.action_dtype, h.env.num_actions = pb.DTYPE_FLOAT32, pb.DTYPE_INT32, 2
    early.send_multipart(wire.encode(h))
    early.close()
    # Only the data port must be the one the Hello went to: the others are ephemeral (port + 1 and
    # + 2, the defaults, can be taken by another connection's local port).
    learner, ready = start_learner("--weights-port", "0", "--control-port", "0", port=port, env="CartPole-v1")
    try:
        deadline = time.monotonic() + 3  # well inside the 5 s liveness
        while time.monotonic() < deadline:
            s = status(ready["control"][0])
            if s.workers_left.get("disconnected"):
                break
            time.sleep(0.1)
        assert s.workers_left.get("disconnected") == 1 and s.workers_connected == 0, s
        assert [w.expired_reason for w in s.workers if w.worker_id == "gave-up"] == ["disconnected: its connection closed"]
        assert s.workers_left.get("expired", 0) == 0 and s.admission.credits_in_flight == 0
    finally:
        learner.terminate()
        learner.wait(timeout=20)
        ctx.destroy(linger=0)
