import Domain
import Protocol
import Testing

/// Builds the golden chunk with one thing changed, and validates it.
private func validate(
    rules: ChunkRules = GoldenMessages.rules(),
    shared: Bool = false,
    _ change: (inout Tributary_V1_TrajectoryChunk, inout [OwnedFrame]) -> Void = { _, _ in }
) throws -> ValidatedChunk {
    let encoded = GoldenMessages.chunk(shared: shared)
    let decoded = try! WireCodec.decode(encoded.map { $0 as any MessageFrame })
    guard case .trajectoryChunk(var chunk) = decoded.body else { fatalError() }
    var tensors = Array(encoded.dropFirst(2))
    change(&chunk, &tensors)
    return try ChunkValidator.validate(chunk, frames: tensors.map { $0 as any MessageFrame }, rules: rules)
}

/// The code a validation fails with; nil when it passes.
private func code(_ body: () throws -> ValidatedChunk) -> ProtocolError.Code? {
    do {
        _ = try body()
        return nil
    } catch let error as ProtocolError {
        return error.code
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// Overwrites float element `i` of a tensor frame.
private func setFloat(_ frame: inout OwnedFrame, _ i: Int, _ value: Float) {
    withUnsafeBytes(of: value.bitPattern.littleEndian) { frame.replaceSubrange((i * 4)..<(i * 4 + 4), with: $0) }
}

@Suite struct ChunkValidatorTests {
    @Test func goldenChunkIsValid() throws {
        let v = try validate()
        #expect(v.steps == 4)
        #expect(v.policyVersions.uint64(at: 1) == 3)
        #expect(v.stepVersions == [3, 3])
        #expect(v.behaviourLogits == nil)
    }

    @Test func missingTensorIsAShapeMismatch() {
        #expect(code { try validate { c, _ in c.clearRewards() } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.clearPolicyVersions() } } == .shapeMismatch)
    }

    @Test func headerDisagreeingWithTheRunIsAShapeMismatch() {
        #expect(code { try validate { c, _ in c.length = 3 } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.length = 0 } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.numEnvs = 3 } } == .shapeMismatch)
    }

    @Test func anotherEnvironmentIsAnEnvMismatch() {
        #expect(code { try validate { c, _ in c.envID = "CartPole-v1" } } == .envMismatch)
    }

    /// The learner's own environment decides, not the worker's Hello: a chunk shaped for a
    /// wider observation is refused even when its header and tensors agree with each other.
    @Test func observationWidthIsTheLearnersNotTheSenders() {
        var wide = GoldenMessages.rules()
        wide.spec = .synthetic(observationSize: 4)
        #expect(code { try validate(rules: wide) } == .shapeMismatch)
    }

    @Test func wrongDtypeOrShapeIsAShapeMismatch() {
        #expect(code { try validate { c, _ in c.rewards.dtype = .float64 } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.observations.shape = [2, 2, 4] } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.actions.shape = [4] } } == .shapeMismatch)
    }

    /// numpy's defaults (uint8, int64, float64) are refused by dtype, whatever the byte count.
    @Test func numpyDefaultDtypesAreRefusedEvenWhenTheBytesWouldFit() {
        // int64 actions in a frame of 8 bytes per action: the bytes match the shape for int64.
        #expect(code { try validate { c, t in
            c.actions.dtype = .int64
            t[Int(c.actions.frame)] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        } } == .shapeMismatch)
        #expect(code { try validate { c, t in
            c.actions.dtype = .uint8
            t[Int(c.actions.frame)] = [0, 1, 1, 0]
        } } == .shapeMismatch)
        #expect(code { try validate { c, t in
            c.rewards.dtype = .float64
            t[Int(c.rewards.frame)] = OwnedFrame(repeating: 0, count: 32)
        } } == .shapeMismatch)
    }

    @Test func frameSizeDisagreeingWithShapeIsAShapeMismatch() {
        #expect(code { try validate { c, t in t[Int(c.rewards.frame)].removeLast() } } == .shapeMismatch)
        #expect(code { try validate { c, t in t[Int(c.observations.frame)] += [0, 0, 0, 0] } } == .shapeMismatch)
    }

    @Test func hugeShapesDoNotOverflow() {
        #expect(code { try validate { c, _ in c.observations.shape = [2, 2, UInt64.max / 2] } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.observations.shape = Array(repeating: UInt64.max, count: 100_000) } } == .shapeMismatch)
    }

    @Test func badFrameReferencesAreMalformed() {
        #expect(code { try validate { c, _ in c.rewards.frame = 99 } } == .malformed)
        #expect(code { try validate { c, _ in c.rewards.frame = UInt32.max } } == .malformed)
        #expect(code { try validate { c, _ in c.rewards.frame = c.logpFrame } } != nil)
        #expect(code { try validate { _, t in t.append([1, 2, 3]) } } == .malformed)
    }

    /// Tensors that share a frame must cover it exactly: an overlap would let one byte be read
    /// as two tensors, a gap would carry bytes nobody checks.
    @Test func sharedFramesMustBeCoveredExactly() {
        #expect(code { try validate(shared: true) } == nil)
        // Overlap: rewards starts one byte early (and so leaves a byte uncovered at its end).
        #expect(code { try validate(shared: true) { c, _ in c.rewards.offset -= 1 } } == .malformed)
        // Two tensors at the same place.
        #expect(code { try validate(shared: true) { c, _ in c.rewards.offset = c.behaviourLogp.offset } } == .malformed)
        // Bytes after the last tensor, or before the first.
        #expect(code { try validate(shared: true) { _, t in t[0] += [0, 0, 0, 0] } } == .malformed)
        #expect(code { try validate(shared: true) { _, t in t[0].removeLast() } } == .malformed)
        #expect(code { try validate(shared: true) { c, _ in c.policyVersions.offset = 1 } } == .malformed)
        // Offsets past the frame, or so large that offset + size would overflow.
        #expect(code { try validate(shared: true) { c, _ in c.bootstrapObservation.offset += 1 } } == .malformed)
        #expect(code { try validate(shared: true) { c, _ in c.rewards.offset = UInt64.max } } == .malformed)
        #expect(code { try validate(shared: true) { c, _ in c.rewards.offset = UInt64(Int.max) } } == .malformed)
        // A frame of its own at a non-zero offset leaves bytes uncovered.
        #expect(code { try validate { c, t in
            t[Int(c.rewards.frame)] = [0, 0, 0, 0] + t[Int(c.rewards.frame)]
            c.rewards.offset = 4
        } } == .malformed)
    }

    /// A shared frame's tensors are read from their own bytes: the values checks see the right
    /// tensor (a bad flag or action in the shared frame is still found).
    @Test func valueChecksReadSharedTensorsInPlace() {
        #expect(code { try validate(shared: true) { c, t in t[0][Int(c.terminated.offset)] = 2 } } == .malformed)
        #expect(code { try validate(shared: true) { c, t in t[0][Int(c.actions.offset)] = 7 } } == .actionOutOfRange)
        #expect(code { try validate(shared: true) { c, t in
            let nan = Float.nan.bitPattern
            for k in 0..<4 { t[0][Int(c.rewards.offset) + k] = UInt8(truncatingIfNeeded: nan >> (8 * k)) }
        } } == .nonFinite)
    }

    @Test func flagsMustBeZeroOrOne() {
        #expect(code { try validate { c, t in t[Int(c.terminated.frame)][0] = 2 } } == .malformed)
    }

    @Test func truncatedStepsNeedTheirFinalObservations() {
        #expect(code { try validate { c, _ in c.clearFinalObservations() } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.clearFinalObservationIndex() } } == .shapeMismatch)
        // Index pointing at a step that was not truncated.
        #expect(code { try validate { c, t in t[Int(c.finalObservationIndex.frame)] = [0, 0, 0, 0, 1, 0, 0, 0] } } == .shapeMismatch)
        // A truncation flag without a final observation.
        #expect(code { try validate { c, t in t[Int(c.truncated.frame)][0] = 1 } } == .shapeMismatch)
    }

    @Test func discreteActionsMustBeInRange() {
        for bad: [UInt8] in [[7, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [2, 0, 0, 0], [0, 0, 0, 0x80]] {
            #expect(code { try validate { c, t in t[Int(c.actions.frame)].replaceSubrange(4..<8, with: bad) } } == .actionOutOfRange)
        }
        // The largest valid action passes.
        #expect(code { try validate { c, t in t[Int(c.actions.frame)].replaceSubrange(0..<4, with: [1, 0, 0, 0]) } } == nil)
    }

    /// Rewards and log-probs are checked on receipt; observations when the trainer copies them
    /// (BatchAssemblyTests), so a non-finite one passes here.
    @Test func everyFloatButObservationsMustBeFinite() {
        let tensors: [(String, (Tributary_V1_TrajectoryChunk) -> UInt32)] = [
            ("rewards", { $0.rewards.frame }), ("logp", { $0.behaviourLogp.frame }),
        ]
        for (name, frame) in tensors {
            for value in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7FC0_0001)] {
                #expect(code { try validate { c, t in setFloat(&t[Int(frame(c))], 0, value) } } == .nonFinite, "\(name) \(value)")
            }
        }
        // The largest finite float is finite.
        #expect(code { try validate { c, t in setFloat(&t[Int(c.rewards.frame)], 3, .greatestFiniteMagnitude) } } == nil)
        #expect(code { try validate { c, t in setFloat(&t[Int(c.observations.frame)], 0, .nan) } } == nil)
    }

    @Test func nonFiniteLogitsAndContinuousActionsAreRefused() {
        var tensors = TensorFrames()
        let logits = tensors.add([Float](repeating: 0, count: 7) + [.nan], shape: [2, 2, 2])
        #expect(code { try validate { c, t in
            c.behaviourLogits = logits
            c.behaviourLogits.frame = UInt32(t.count)
            t.append(tensors.frames[0])
        } } == .nonFinite)
        var continuous = GoldenMessages.rules()
        continuous.spec.actionSpace = .continuous(dimensions: 1, low: -1, high: 1)
        var actions = TensorFrames()
        let a = actions.add([0.5, -0.5, .infinity, 0], shape: [2, 2, 1])
        #expect(code { try validate(rules: continuous) { c, t in
            let frame = c.actionsFrame
            c.actions = a
            c.actions.frame = frame
            t[Int(frame)] = actions.frames[0]
        } } == .nonFinite)
    }

    @Test func logitsOnlyForDiscreteActions() {
        var continuous = GoldenMessages.rules()
        continuous.spec.actionSpace = .continuous(dimensions: 1, low: -1, high: 1)
        var tensors = TensorFrames()
        let logits = tensors.add([Float](repeating: 0, count: 8), shape: [2, 2, 2])
        let actions = tensors.add([Float](repeating: 0, count: 4), shape: [2, 2, 1])
        // Continuous actions that are right in every other way: the logits alone are refused.
        #expect(code { try validate(rules: continuous) { c, t in
            let frame = c.actionsFrame
            t[Int(frame)] = tensors.frames[1]
            c.actions = actions
            c.actions.frame = frame
        } } == nil)
        #expect(code { try validate(rules: continuous) { c, t in
            t[Int(c.actions.frame)] = tensors.frames[1]
            let frame = c.actionsFrame
            c.actions = actions
            c.actions.frame = frame
            c.behaviourLogits = logits
            c.behaviourLogits.frame = UInt32(t.count)
            t.append(tensors.frames[0])
        } } == .shapeMismatch)
        #expect(code { try validate { c, t in
            c.behaviourLogits = logits
            c.behaviourLogits.frame = UInt32(t.count)
            t.append(tensors.frames[0])
        } } == nil)
    }

    @Test func versionsMustHaveBeenServedAndNeverDecrease() {
        #expect(code { try validate(rules: GoldenMessages.rules(newestVersion: 2)) } == .badVersion)
        #expect(code { try validate { c, t in t[Int(c.policyVersions.frame)] = [3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0] } } == .badVersion)
        #expect(code { try validate { c, t in t[Int(c.policyVersions.frame)] = [2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0] } } == nil)
    }

    @Test func episodeStatsOnlyWhereTheChunkEndsAnEpisode() {
        #expect(code { try validate { c, _ in c.episodes[0].step = 0 } } == .badEpisode)
        #expect(code { try validate { c, _ in c.episodes[0].envIndex = 0 } } == .badEpisode)
        #expect(code { try validate { c, _ in c.episodes[0].envIndex = 7 } } == .badEpisode)
        #expect(code { try validate { c, _ in c.episodes[0].step = UInt32.max } } == .badEpisode)
        #expect(code { try validate { c, _ in c.episodes.append(c.episodes[0]) } } == .badEpisode)
        #expect(code { try validate { c, _ in c.episodes[0].truncated = false; c.episodes[0].terminated = true } } == .badEpisode)
        #expect(code { try validate { c, _ in c.episodes[0].episodeReturn = .nan } } == .badEpisode)
        #expect(code { try validate { c, _ in c.episodes[0].length = 0 } } == .badEpisode)
        // 100 fake episodes in a chunk with one episode end.
        #expect(code { try validate { c, _ in c.episodes = Array(repeating: c.episodes[0], count: 100) } } == .badEpisode)
    }

    @Test func longStringsAreRefusedByName() {
        let huge = String(repeating: "x", count: 30 << 20)
        #expect(code { try validate { c, _ in c.workerID = huge } } == .fieldTooLong)
        #expect(code { try validate { c, _ in c.envID = huge } } == .fieldTooLong)
        #expect(code { try validate { c, _ in c.promptID = huge } } == .fieldTooLong)
    }
}

extension Tributary_V1_TrajectoryChunk {
    fileprivate var logpFrame: UInt32 { behaviourLogp.frame }
    fileprivate var actionsFrame: UInt32 { actions.frame }
}
