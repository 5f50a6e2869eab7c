import Domain
import Foundation
import Logging
import Protocol
@testable import Rollout
import Synchronization
import Testing
import TestSupport

/// The Weights parts the learner would send for `bytes` (decoded as a worker receives them).
func parts(version: UInt64, bytes: [UInt8], partBytes: Int, model: ModelSpec, corrupt: Bool = false, notModified: Bool = false) -> [DecodedMessage] {
    let count = (bytes.count + partBytes - 1) / partBytes
    let digest = WeightsDigest.sha256(corrupt ? bytes.reversed() : bytes)
    return (0..<count).map { i in
        var frames = TensorFrames()
        var w = Tributary_V1_Weights()
        w.version = version
        w.digest = Data(digest)
        w.totalSize = UInt64(bytes.count)
        w.partIndex = UInt32(i)
        w.partCount = UInt32(count)
        w.offset = UInt64(i * partBytes)
        w.notModified = notModified
        if i == 0 { w.model = model.wire }
        w.data = frames.add(Array(bytes[(i * partBytes)..<min(bytes.count, (i + 1) * partBytes)]), shape: [min(partBytes, bytes.count - i * partBytes)])
        return try! WireCodec.decode(WireCodec.encode(.weights(w), tensors: frames.frames).map { $0 as any MessageFrame })
    }
}

/// The client is socket-free: the tests play the control socket's answers and the clock.
@Suite struct VariableClientTests {
    let t0 = ContinuousClock.now

    /// A fetch begun now, answered with `answer` part by part; what the client asked for.
    func fetch(_ client: inout VariableClient, answer: [DecodedMessage], at now: ContinuousClock.Instant? = nil) -> UInt64? {
        let have = client.poll(now: now ?? t0)
        for part in answer { client.answer(part) }
        return have
    }

    @Test func partsAreAssembledAndCheckedAgainstTheDigest() {
        let bytes = (0..<2500).map { UInt8($0 % 251) }
        var client = VariableClient(timeout: .seconds(1))
        client.begin(runID: "r")
        client.want(3)
        #expect(fetch(&client, answer: parts(version: 3, bytes: bytes, partBytes: 1024, model: ModelSpec(family: "stand-in"))) == 0)
        #expect(client.version == 3)
        #expect(client.bytes == bytes)
        #expect(client.policy.network == nil)  // a stand-in model gives a version, not a network
        #expect(client.finishedFetches == 1 && client.failures == 0)
        // Nothing newer wanted: no fetch.
        #expect(client.poll(now: t0) == nil)
    }

    @Test func aDigestMismatchOrPartsOutOfOrderInstallNothing() {
        let bytes = (0..<2500).map { UInt8($0 % 251) }
        var shuffled = parts(version: 3, bytes: bytes, partBytes: 1024, model: .none)
        shuffled.swapAt(0, 1)
        var client = VariableClient(timeout: .milliseconds(300))
        client.begin(runID: "r")
        client.want(3)
        #expect(fetch(&client, answer: parts(version: 3, bytes: bytes, partBytes: 1024, model: .none, corrupt: true)) == 0)
        #expect(client.lastFailure?.contains("digest") == true)
        // A failed fetch is retried at the next poll: the version is still wanted.
        #expect(fetch(&client, answer: shuffled) == 0)
        #expect(client.version == 0)
        #expect(client.failures == 2)
        #expect(client.lastFailure?.contains("out of order") == true)
    }

    @Test func anActorCriticIsBuiltFromItsWeights() {
        let net = ActorCriticFixture.make()
        var client = VariableClient(timeout: .seconds(1))
        client.begin(runID: "r")
        client.want(2)
        _ = fetch(&client, answer: parts(version: 2, bytes: net.parameterBytes, partBytes: 4096, model: net.modelSpec))
        #expect(client.policy.network?.network.parameters == net.network.parameters)
        // The next version of the same model replaces the parameters in place, bit-exactly.
        var next = net
        next.network.parameters = net.network.parameters.map { $0 * -0.5 + 0.25 }
        client.want(3)
        _ = fetch(&client, answer: parts(version: 3, bytes: next.parameterBytes, partBytes: 4096, model: next.modelSpec))
        #expect(client.version == 3)
        #expect(client.policy.network?.network.parameters == next.network.parameters)
        #expect(client.policy.network?.modelSpec == net.modelSpec)
    }

    @Test func aNewRunForgetsTheOldWeightsAndAnAnswerThatTimesOutIsAFailure() {
        var client = VariableClient(timeout: .milliseconds(200))
        client.begin(runID: "first")
        client.announced(runID: "first", version: 5)
        _ = fetch(&client, answer: parts(version: 5, bytes: [1, 2, 3, 4], partBytes: 16, model: .none))
        #expect(client.version == 5)
        client.begin(runID: "second")
        #expect(client.version == 0)
        // Another run's announcement is not this run's version.
        client.announced(runID: "first", version: 9)
        #expect(client.poll(now: t0) == nil)
        client.announced(runID: "second", version: 1)
        #expect(client.poll(now: t0) == 0)
        #expect(client.deadline == t0 + .milliseconds(200))
        #expect(client.poll(now: t0 + .milliseconds(199)) == nil)  // still waiting for the answer
        // Past the deadline the fetch is given up (a failure) and, the version still wanted, asked again.
        #expect(client.poll(now: t0 + .milliseconds(200)) == 0)
        #expect(client.failures == 1)
        #expect(client.lastFailure?.hasPrefix("no Weights answer") == true)
        // A late part of a fetch given up is dropped.
        var idle = VariableClient(timeout: .seconds(1))
        idle.begin(runID: "second")
        #expect(idle.answer(parts(version: 1, bytes: [1], partBytes: 16, model: .none)[0]) == false)
        #expect(idle.version == 0)
    }

    @Test func anInactiveClientFetchesOnlyWhenItBecomesActiveOrIsAskedToRefresh() {
        var client = VariableClient(timeout: .seconds(1))
        client.begin(runID: "r")
        client.setActive(false)
        client.announced(runID: "r", version: 4)
        #expect(client.poll(now: t0) == nil)  // waiting for admission: no fetch of each version
        client.setActive(true)
        #expect(fetch(&client, answer: parts(version: 7, bytes: [1, 2], partBytes: 16, model: .none)) == 0)
        #expect(client.version == 7)  // the learner serves its newest, whatever was announced
        client.setActive(false)
        let ticket = client.refresh()
        #expect(client.poll(now: t0) == 7)  // a refresh fetches whatever was announced
        client.answer(parts(version: 7, bytes: [1, 2], partBytes: 16, model: .none, notModified: true)[0])
        #expect(client.finishedFetches > ticket)
    }
}
