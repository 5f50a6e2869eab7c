import Domain
import Foundation
import Logging
import Protocol
@testable import Rollout
import Synchronization
import Testing
import TestSupport

typealias FakeChannel = ScriptedWeightsChannel

/// The Weights parts the learner would send for `bytes` (decoded as a worker receives them).
func parts(version: UInt64, bytes: [UInt8], partBytes: Int, model: ModelSpec, corrupt: Bool = false) -> [DecodedMessage] {
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
        if i == 0 { w.model = model.wire }
        w.data = frames.add(Array(bytes[(i * partBytes)..<min(bytes.count, (i + 1) * partBytes)]), shape: [min(partBytes, bytes.count - i * partBytes)])
        return try! WireCodec.decode(WireCodec.encode(.weights(w), tensors: frames.frames).map { $0 as any MessageFrame })
    }
}

@Suite struct VariableClientTests {
    var logger: Logger {
        var l = Logger(label: "test")
        l.logLevel = .critical
        return l
    }

    @Test func partsAreAssembledAndCheckedAgainstTheDigest() async {
        let bytes = (0..<2500).map { UInt8($0 % 251) }
        let channel = FakeChannel(answers: [parts(version: 3, bytes: bytes, partBytes: 1024, model: ModelSpec(family: "stand-in"))])
        let client = VariableClient(channel: channel, logger: logger, timeout: .seconds(1))
        client.begin(runID: "r")
        await client.fetch(have: 0)
        #expect(client.version == 3)
        #expect(client.current.withLock { $0.bytes } == bytes)
        #expect(client.policy.network == nil)  // a stand-in model gives a version, not a network
        #expect(channel.requests == [0])
    }

    @Test func aDigestMismatchOrPartsOutOfOrderInstallNothing() async {
        let bytes = (0..<2500).map { UInt8($0 % 251) }
        var shuffled = parts(version: 3, bytes: bytes, partBytes: 1024, model: .none)
        shuffled.swapAt(0, 1)
        let channel = FakeChannel(answers: [parts(version: 3, bytes: bytes, partBytes: 1024, model: .none, corrupt: true), shuffled])
        let client = VariableClient(channel: channel, logger: logger, timeout: .milliseconds(300))
        client.begin(runID: "r")
        await client.fetch(have: 0)
        await client.fetch(have: 0)
        #expect(client.version == 0)
        #expect(client.current.withLock { $0.failures } == 2)
    }

    @Test func anActorCriticIsBuiltFromItsWeights() async {
        let net = ActorCriticFixture.make()
        let channel = FakeChannel(answers: [parts(version: 2, bytes: net.parameterBytes, partBytes: 4096, model: net.modelSpec)])
        let client = VariableClient(channel: channel, logger: logger, timeout: .seconds(1))
        client.begin(runID: "r")
        await client.fetch(have: 0)
        #expect(client.policy.network?.network.parameters == net.network.parameters)
    }

    @Test func aNewRunForgetsTheOldWeightsAndAnAnswerThatTimesOutIsAFailure() async {
        let channel = FakeChannel(answers: [parts(version: 5, bytes: [1, 2, 3, 4], partBytes: 16, model: .none), []])
        let client = VariableClient(channel: channel, logger: logger, timeout: .milliseconds(200))
        client.begin(runID: "first")
        await client.fetch(have: 0)
        #expect(client.version == 5)
        client.begin(runID: "second")
        #expect(client.version == 0)
        await client.fetch(have: 0)
        #expect(client.version == 0)
        #expect(client.current.withLock { $0.failures } == 1)
    }
}
