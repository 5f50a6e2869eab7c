import Domain
import Protocol
import Training

/// Turns the chunks a batch took from the buffer into the trainer's `TrainingBatch`: their
/// tensors, read in place, concatenated along B into one [T, ΣB] batch.
///
/// It is also where observations are checked to be finite (docs/protocol.md §6): they are the
/// bulk of a chunk, out of cache by the time the receive path could scan them (a scan there
/// cost a quarter of ingest throughput at 256 KiB chunks), and this copy reads every one of
/// them anyway. A chunk with a NaN or infinite observation is left out of the batch.
public enum BatchAssembly {
    public struct Assembled: Sendable {
        /// The chunks' steps, the left-out chunks' columns removed; nil when none is left.
        public var batch: TrainingBatch?
        /// The version lag of every step of every kept chunk (T per chunk).
        public var lags: [UInt64]
        /// Indices (into the chunks given) of chunks whose observations were not all finite.
        public var discarded: [Int]
    }

    /// A chunk's `group_id` within its sender's incarnation: a group is one worker's answers to
    /// one prompt, so a peer cannot join (and skew the advantages of) another worker's group by
    /// sending its group id. SplitMix64's output for the pair; a collision between two workers'
    /// groups is as likely as one between random 64-bit values. (The buffer's `QueuedChunk.groupID`.)
    static func scopedGroup(_ id: UInt64, incarnation: UInt64) -> UInt64 {
        var mix = SplitMix64(seed: id ^ (incarnation &* 0x9E37_79B9_7F4A_7C15))
        return mix.next()
    }

    /// Concatenates chunks along B into one [T, ΣB] batch, and the version lag of every step of
    /// every chunk (`learnerVersion` minus the step's behaviour version). Each column keeps its
    /// chunk's group id (`QueuedChunk.groupID`: scoped to the sending incarnation) and sample index
    /// (group-relative methods).
    public static func assemble(_ chunks: [QueuedChunk], learnerVersion: UInt64) -> Assembled {
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
        var promptIDs: [String?] = []
        var discarded: [Int] = []
        var sampleLags = [UInt64](repeating: 0, count: t * total)
        var offset = 0
        // A float is NaN or ±∞ exactly when its exponent bits are all set.
        @inline(__always) func nonFinite(_ x: Float) -> UInt32 { (x.bitPattern & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
        for (index, q) in chunks.enumerated() {
            let c = q.chunk
            let b = Int(c.header.numEnvs)
            var bad: UInt32 = 0
            c.observations.withUnsafeBytes { raw in
                for s in 0..<t {
                    for e in 0..<b {
                        for k in 0..<d {
                            let x = raw.loadUnaligned(fromByteOffset: ((s * b + e) * d + k) * 4, as: Float.self)
                            bad |= nonFinite(x)
                            obs[((s * total) + offset + e) * d + k] = x
                        }
                    }
                }
            }
            c.bootstrapObservation.withUnsafeBytes { raw in
                for e in 0..<b {
                    for k in 0..<d {
                        let x = raw.loadUnaligned(fromByteOffset: (e * d + k) * 4, as: Float.self)
                        bad |= nonFinite(x)
                        bootstrap[(offset + e) * d + k] = x
                    }
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
                            let f = (0..<d).map { v.loadUnaligned(fromByteOffset: (j * d + $0) * 4, as: Float.self) }
                            for x in f { bad |= nonFinite(x) }
                            finals[s * total + offset + e] = f
                        }
                    }
                }
            }
            if bad != 0 {
                discarded.append(index)
            } else {
                let chunkLags = q.stepVersions.map { learnerVersion - min(learnerVersion, $0) }
                lags += chunkLags
                for s in 0..<min(t, chunkLags.count) { for e in 0..<b { sampleLags[s * total + offset + e] = chunkLags[s] } }
            }
            groupIDs += Array(repeating: q.groupID, count: b)
            sampleIndices += Array(repeating: c.header.hasSampleIndex ? c.header.sampleIndex : nil, count: b)
            promptIDs += Array(repeating: c.header.hasPromptID ? c.header.promptID : nil, count: b)
            offset += b
        }
        var batch = TrainingBatch(timeSteps: t, batch: total, observations: obs, bootstrapObservations: bootstrap, actions: actions,
                                  behaviourLogp: logp, rewards: rewards, terminated: terminated, truncated: truncated, finalObservations: finals,
                                  continuousActions: continuous, groupIDs: groupIDs, sampleIndices: sampleIndices, lags: sampleLags)
        if promptIDs.contains(where: { $0 != nil }) { batch.promptIDs = promptIDs }
        if !discarded.isEmpty {
            // Rare: rebuild from the columns of the chunks kept.
            var kept: [Int] = []
            var column = 0
            for (index, q) in chunks.enumerated() {
                let b = Int(q.chunk.header.numEnvs)
                if !discarded.contains(index) { kept += column..<(column + b) }
                column += b
            }
            return Assembled(batch: kept.isEmpty ? nil : batch.columns(kept), lags: lags, discarded: discarded)
        }
        return Assembled(batch: batch, lags: lags, discarded: [])
    }
}
