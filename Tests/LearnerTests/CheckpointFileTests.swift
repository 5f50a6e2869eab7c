import Experience
import Foundation
import Learner
import Testing
import Training

/// Checkpoint files on a real disk: atomic writes, the newest K kept, a corrupt or truncated
/// newest one refused with a reason and the previous one used.
@Suite struct CheckpointFileTests {
    func checkpoint(updates: UInt64) -> Checkpoint {
        var trainer = Trainer(settings: TrainerSettings(), observationSize: 4, head: .categorical(actions: 2)).state
        trainer.version = updates + 1
        var accounting = BufferAccounting()
        accounting.received = updates * 2
        accounting.trained = updates * 2 - 3
        accounting.buffered = 3
        return Checkpoint(runID: "run-t", unixTime: 1, trainer: trainer, updates: updates, episodes: updates / 2,
                          counters: .init(), accounting: accounting, config: LearnerConfig())
    }

    func directory() throws -> (CheckpointDirectory, URL) {
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        return (CheckpointDirectory(run: run, keep: 2), run)
    }

    @Test func writesKeepTheNewestAndReadBackExactly() throws {
        let (dir, run) = try directory()
        defer { try? FileManager.default.removeItem(at: run) }
        for u: UInt64 in [10, 20, 30] { try dir.write(checkpoint(updates: u)) }
        #expect(dir.files().map(\.lastPathComponent) == ["checkpoint-000000000030.ckpt", "checkpoint-000000000020.ckpt"])
        let (latest, _, refused) = try dir.latest()
        #expect(latest == checkpoint(updates: 30))
        #expect(refused.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).allSatisfy { !$0.hasPrefix(".tmp") })
    }

    @Test func aTruncatedOrCorruptNewestIsRefusedAndThePreviousUsed() throws {
        let (dir, run) = try directory()
        defer { try? FileManager.default.removeItem(at: run) }
        try dir.write(checkpoint(updates: 10))
        let newest = try dir.write(checkpoint(updates: 20))
        let whole = try Data(contentsOf: newest)
        try whole.prefix(whole.count / 2).write(to: newest)
        var (latest, _, refused) = try dir.latest()
        #expect(latest.updates == 10)
        #expect(refused.count == 1 && refused[0].contains("digest mismatch"), "\(refused)")
        var flipped = whole
        flipped[flipped.count - 10] ^= 0x01
        try flipped.write(to: newest)
        (latest, _, refused) = try dir.latest()
        #expect(latest.updates == 10 && refused[0].contains("checkpoint-000000000020.ckpt: digest mismatch"))
        try Data("TRIBUTARY-CHECKPOINT 9\nsha256 x\n{}".utf8).write(to: newest)
        (_, _, refused) = try dir.latest()
        #expect(refused[0].contains("format 9, this build reads format 1"))
        try FileManager.default.removeItem(at: dir.files()[1])
        #expect(throws: CheckpointError.self) { try dir.latest() }
    }

    /// What a resumed run's buffer held was lost with the process: counted as dropped at
    /// shutdown, so the accounting identity holds over the whole run.
    @Test func carriedOverAccountingBalances() {
        var buffer = ExperienceStore.Buffer(policy: BufferPolicy())
        let previous = checkpoint(updates: 10).accounting
        buffer.carryOver(previous)
        #expect(buffer.accounting.received == 20 && buffer.accounting.dropped[.shutdown] == 3 && buffer.accounting.buffered == 0)
        #expect(buffer.accounting.balances)
    }

    @Test func versionsAreReservedAhead() throws {
        let (dir, run) = try directory()
        defer { try? FileManager.default.removeItem(at: run) }
        #expect(dir.reservedVersion() == nil)
        try dir.reserve(upTo: 2048)
        #expect(dir.reservedVersion() == 2048)
    }
}
