import Protocol
import Training

/// Turns the chunks a batch took from the buffer into the trainer's `TrainingBatch`: their
/// tensors, read in place, concatenated along B into one [T, ΣB] batch.
public enum BatchAssembly {
    /// Concatenates chunks along B into one [T, ΣB] batch, and the version lag of every step of
    /// every chunk (`learnerVersion` minus the step's behaviour version; T per chunk). Each
    /// column keeps its chunk's group id and sample index (group-relative methods).
    public static func assemble(_ chunks: [QueuedChunk], learnerVersion: UInt64) -> (TrainingBatch, [UInt64]) {
        let t = Int(chunks[0].chunk.header.length)
        let total = chunks.reduce(0) { $0 + Int($1.chunk.header.numEnvs) }
        let d = chunks[0].chunk.observations.shape.last ?? 1
        var obs = [Float](repeating: 0, count: t * total * d)
        var bootstrap = [Float](repeating: 0, count: total * d)
        var actions = [Int32](repeating: 0, count: t * total)
        // Continuous actions [T, ΣB, d]; d = 0 for discrete action spaces.
        let actionWidth = chunks[0].chunk.actions.dtype == .float32 ? (chunks[0].chunk.actions.shape.last ?? 1) : 0
        var continuous = [Float](repeating: 0, count: t * total * actionWidth)
        var logp = [Float](repeating: 0, count: t * total)
        var rewards = [Float](repeating: 0, count: t * total)
        var terminated = [Bool](repeating: false, count: t * total)
        var truncated = [Bool](repeating: false, count: t * total)
        var finals: [Int: [Float]] = [:]
        var lags: [UInt64] = []
        var groupIDs: [UInt64?] = []
        var sampleIndices: [UInt32?] = []
        var offset = 0
        for q in chunks {
            let c = q.chunk
            let b = Int(c.header.numEnvs)
            c.observations.withUnsafeBytes { raw in
                for s in 0..<t {
                    for e in 0..<b {
                        for k in 0..<d {
                            obs[((s * total) + offset + e) * d + k] = raw.loadUnaligned(fromByteOffset: ((s * b + e) * d + k) * 4, as: Float.self)
                        }
                    }
                }
            }
            c.bootstrapObservation.withUnsafeBytes { raw in
                for e in 0..<b {
                    for k in 0..<d { bootstrap[(offset + e) * d + k] = raw.loadUnaligned(fromByteOffset: (e * d + k) * 4, as: Float.self) }
                }
            }
            c.actions.withUnsafeBytes { a in
                c.behaviourLogp.withUnsafeBytes { l in
                    c.rewards.withUnsafeBytes { r in
                        c.terminated.withUnsafeBytes { term in
                            c.truncated.withUnsafeBytes { trunc in
                                for s in 0..<t {
                                    for e in 0..<b {
                                        let src = s * b + e
                                        let dst = s * total + offset + e
                                        if actionWidth == 0 {
                                            actions[dst] = a.loadUnaligned(fromByteOffset: src * 4, as: Int32.self)
                                        } else {
                                            for k in 0..<actionWidth {
                                                continuous[dst * actionWidth + k] = a.loadUnaligned(fromByteOffset: (src * actionWidth + k) * 4, as: Float.self)
                                            }
                                        }
                                        logp[dst] = l.loadUnaligned(fromByteOffset: src * 4, as: Float.self)
                                        rewards[dst] = r.loadUnaligned(fromByteOffset: src * 4, as: Float.self)
                                        terminated[dst] = term[src] == 1
                                        truncated[dst] = trunc[src] == 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let index = c.finalObservationIndex, let values = c.finalObservations {
                index.withUnsafeBytes { idx in
                    values.withUnsafeBytes { v in
                        for j in 0..<(index.elementCount / 2) {
                            let s = Int(idx.loadUnaligned(fromByteOffset: j * 8, as: Int32.self))
                            let e = Int(idx.loadUnaligned(fromByteOffset: j * 8 + 4, as: Int32.self))
                            finals[s * total + offset + e] = (0..<d).map { v.loadUnaligned(fromByteOffset: (j * d + $0) * 4, as: Float.self) }
                        }
                    }
                }
            }
            lags += q.stepVersions.map { learnerVersion - min(learnerVersion, $0) }
            groupIDs += Array(repeating: c.header.hasGroupID ? c.header.groupID : nil, count: b)
            sampleIndices += Array(repeating: c.header.hasSampleIndex ? c.header.sampleIndex : nil, count: b)
            offset += b
        }
        let batch = TrainingBatch(timeSteps: t, batch: total, observations: obs, bootstrapObservations: bootstrap, actions: actions,
                                  behaviourLogp: logp, rewards: rewards, terminated: terminated, truncated: truncated, finalObservations: finals,
                                  continuousActions: continuous, groupIDs: groupIDs, sampleIndices: sampleIndices)
        return (batch, lags)
    }
}
