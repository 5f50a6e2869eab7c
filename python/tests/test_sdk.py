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
                                      ("chunk.frames", pb.TrajectoryChunk), ("credit.frames", pb.Credit),
                                      ("reject.frames", pb.Reject), ("weights_available.frames", pb.WeightsAvailable)])
def test_golden_frames_decode_and_encode_back(name, cls):
    frames = frames_of(name)
    message, tensors = wire.decode(frames)
    assert isinstance(message, cls)
    assert wire.encode(message, tensors)[0] == frames[0]
    assert message == cls.FromString(wire.encode(message, tensors)[1])
    if cls is pb.TrajectoryChunk:
        obs = wire.tensor_array(message.observations, tensors)
        assert obs.shape == (message.length, message.num_envs) + tuple(message.observations.shape[2:])


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


def start_learner(*args, env="CartPole-v1"):
    p = subprocess.Popen([os.path.join(BIN, "learner"), "--env", env, "--data-port", "0", "--no-metrics",
                          "--runs", "", "--log-level", "warning", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = json.loads(p.stdout.readline())
    assert ready["event"] == "ready", ready
    return p, ready


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
        assert summary["status"]["mean_return_100"] >= 0.9
        assert summary["status"]["chunks_consumed"] == summary["status"]["chunks_accepted"]
    finally:
        for w in workers:
            w.terminate()
            w.wait(timeout=20)
        if learner.poll() is None:
            learner.terminate()
            learner.wait(timeout=20)
