import Protocol
import Testing

/// Builds the golden chunk with one thing changed, and validates it.
private func validate(
    env: Tributary_V1_EnvSpec = GoldenMessages.env(),
    _ change: (inout Tributary_V1_TrajectoryChunk, inout [OwnedFrame]) -> Void = { _, _ in }
) throws -> ValidatedChunk {
    let encoded = GoldenMessages.chunk()
    let decoded = try! WireCodec.decode(encoded.map { $0 as any MessageFrame })
    guard case .trajectoryChunk(var chunk) = decoded.body else { fatalError() }
    var tensors = Array(encoded.dropFirst(2))
    change(&chunk, &tensors)
    return try ChunkValidator.validate(chunk, frames: tensors.map { $0 as any MessageFrame }, env: env)
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

@Suite struct ChunkValidatorTests {
    @Test func goldenChunkIsValid() throws {
        let v = try validate()
        #expect(v.steps == 4)
        #expect(v.policyVersions.uint64(at: 1) == 3)
        #expect(v.behaviourLogits == nil)
    }

    @Test func missingTensorIsAShapeMismatch() {
        #expect(code { try validate { c, _ in c.clearRewards() } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.clearPolicyVersions() } } == .shapeMismatch)
    }

    @Test func headerDisagreeingWithTensorsIsAShapeMismatch() {
        #expect(code { try validate { c, _ in c.length = 3 } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.length = 0 } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.numEnvs = 3 } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.envID = "CartPole-v1" } } == .shapeMismatch)
    }

    @Test func wrongDtypeOrShapeIsAShapeMismatch() {
        #expect(code { try validate { c, _ in c.rewards.dtype = .float64 } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.observations.shape = [2, 2, 4] } } == .shapeMismatch)
        #expect(code { try validate { c, _ in c.actions.shape = [4] } } == .shapeMismatch)
    }

    @Test func frameSizeDisagreeingWithShapeIsAShapeMismatch() {
        #expect(code { try validate { c, t in t[Int(c.rewards.frame)].removeLast() } } == .shapeMismatch)
        #expect(code { try validate { c, t in t[Int(c.observations.frame)] += [0, 0, 0, 0] } } == .shapeMismatch)
    }

    @Test func hugeShapesDoNotOverflow() {
        #expect(code { try validate { c, _ in c.observations.shape = [2, 2, UInt64.max / 2] } } == .shapeMismatch)
    }

    @Test func badFrameReferencesAreMalformed() {
        #expect(code { try validate { c, _ in c.rewards.frame = 99 } } == .malformed)
        #expect(code { try validate { c, _ in c.rewards.frame = c.logpFrame } } != nil)
        #expect(code { try validate { _, t in t.append([1, 2, 3]) } } == .malformed)
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

    @Test func logitsOnlyForDiscreteActions() {
        var continuous = GoldenMessages.env()
        continuous.numActions = 0
        var tensors = TensorFrames()
        let logits = tensors.add([Float](repeating: 0, count: 8), shape: [2, 2, 2])
        #expect(code { try validate(env: continuous) { c, t in
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
}

extension Tributary_V1_TrajectoryChunk {
    fileprivate var logpFrame: UInt32 { behaviourLogp.frame }
}
